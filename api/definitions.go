package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// definitionStore keeps the registered definitions (*store.Store).
type definitionStore interface {
	// Register stores d; created is false for an identical
	// re-registration, store.ErrConflict when (id, version) holds other
	// content.
	Register(ctx context.Context, d store.Definition) (created bool, err error)
	// Get returns id at version ("" is the latest); store.ErrNotFound.
	Get(ctx context.Context, id, version string) (store.Definition, error)
	// List returns the latest version of each definition, by id.
	List(ctx context.Context) ([]store.Definition, error)
	// Versions returns every version of id, oldest first; store.ErrNotFound.
	Versions(ctx context.Context, id string) ([]store.Definition, error)
}

// definitionSummary is a definition without its document (GET /api/workflows).
type definitionSummary struct {
	ID          string    `json:"id"`
	Version     string    `json:"version"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
}

// definitionData is one registered (id, version) with its canonical document.
type definitionData struct {
	definitionSummary
	Definition json.RawMessage `json:"definition"`
}

// definitionWithVersions is GET /api/workflows/{id}: the latest version and
// the list of every version, oldest first.
type definitionWithVersions struct {
	definitionData
	Versions []versionData `json:"versions"`
}

type versionData struct {
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
}

func summaryOf(d store.Definition) definitionSummary {
	return definitionSummary{ID: d.ID, Version: d.Version, Name: d.Name, Description: d.Description, CreatedAt: d.CreatedAt}
}

func dataOf(d store.Definition) definitionData {
	return definitionData{definitionSummary: summaryOf(d), Definition: d.Document}
}

// registerDefinition is POST /api/workflows: 201 when created, 200 for an
// identical re-registration, 400 with every problem, 409 when (id, version)
// holds other content.
func (s *Server) registerDefinition(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		return newError(http.StatusBadRequest, codeInvalidJSON, "the body is not well-formed JSON")
	}
	ctx := c.Request().Context()
	def, problems, created, err := s.register(ctx, body)
	if len(problems) > 0 {
		return newError(http.StatusBadRequest, codeInvalidDefinition,
			fmt.Sprintf("the definition has %d problem(s)", len(problems))).withDetails(problems)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return newError(http.StatusConflict, codeDefinitionConflict,
			fmt.Sprintf("version %q of %q is already registered with different content: register a new version", def.Version, def.ID))
	case err != nil:
		return storeError(err, "register definition")
	}
	stored, err := s.opts.Store.Get(ctx, def.ID, def.Version)
	if err != nil {
		return storeError(err, "read registered definition")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return ok(c, status, dataOf(stored))
}

// register validates doc against the node types and, when it has no
// problems, stores it in canonical form: created is false for an identical
// re-registration; store.ErrConflict when (id, version) holds other content.
func (s *Server) register(ctx context.Context, doc []byte) (def interpreter.Definition, problems []interpreter.Problem, created bool, err error) {
	def, problems = interpreter.Parse(doc, s.opts.Registry, s.opts.Exprs)
	if len(problems) > 0 {
		return def, problems, false, nil
	}
	if problems, err = s.checkCalls(ctx, &def); len(problems) > 0 || err != nil {
		return def, problems, false, err
	}
	canonical, err := interpreter.Canonical(def)
	if err != nil {
		return def, nil, false, fmt.Errorf("canonical definition: %w", err)
	}
	created, err = s.opts.Store.Register(ctx, store.Definition{
		ID: def.ID, Version: def.Version, Name: def.Name, Description: def.Description, Document: canonical,
	})
	return def, nil, created, err
}

// listDefinitions is GET /api/workflows: the latest version of each
// definition, ordered by id, without documents.
func (s *Server) listDefinitions(c echo.Context) error {
	defs, err := s.opts.Store.List(c.Request().Context())
	if err != nil {
		return storeError(err, "list definitions")
	}
	out := make([]definitionSummary, len(defs))
	for i, d := range defs {
		out[i] = summaryOf(d)
	}
	return ok(c, http.StatusOK, map[string]any{"workflows": out})
}

// getDefinition is GET /api/workflows/{id}: the latest version and the list
// of versions.
func (s *Server) getDefinition(c echo.Context) error {
	id := c.Param("id")
	versions, err := s.opts.Store.Versions(c.Request().Context(), id)
	if err != nil {
		return definitionLookupError(err, id, "")
	}
	out := definitionWithVersions{definitionData: dataOf(versions[len(versions)-1])}
	out.Versions = make([]versionData, len(versions))
	for i, v := range versions {
		out.Versions[i] = versionData{Version: v.Version, CreatedAt: v.CreatedAt}
	}
	return ok(c, http.StatusOK, out)
}

// getDefinitionVersion is GET /api/workflows/{id}/versions/{version}.
func (s *Server) getDefinitionVersion(c echo.Context) error {
	id, version := c.Param("id"), c.Param("version")
	d, err := s.opts.Store.Get(c.Request().Context(), id, version)
	if err != nil {
		return definitionLookupError(err, id, version)
	}
	return ok(c, http.StatusOK, dataOf(d))
}

func definitionLookupError(err error, id, version string) error {
	if errors.Is(err, store.ErrNotFound) {
		if version != "" {
			return newError(http.StatusNotFound, codeDefinitionNotFound, fmt.Sprintf("definition %q has no version %q", id, version))
		}
		return newError(http.StatusNotFound, codeDefinitionNotFound, fmt.Sprintf("no definition %q", id))
	}
	return storeError(err, "read definition")
}

// storeError maps a store failure: a request context that ended is not the
// database's fault; anything else is internal.
func storeError(err error, what string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return unavailable(err, what)
	}
	return internalError(err, what)
}

// readBody reads the whole request body (bounded by the body limit).
func readBody(c echo.Context) ([]byte, error) {
	if c.Request().Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err // handleError: 413
		}
		return nil, newError(http.StatusBadRequest, codeBadRequest, "could not read the request body")
	}
	return body, nil
}

// loadedDefinition is a registered definition ready to execute. It is
// immutable, so it is cached by (id, version).
type loadedDefinition struct {
	def    interpreter.Definition
	schema *jsonschema.Schema // nil when the definition has no inputSchema
	// reads is what each node reads of the scope, carried in the execution
	// input; nil without an expression analyzer (every node then gets the
	// whole scope).
	reads *interpreter.Reads
	// history is what an execution writes to its history besides its
	// input, for checkHistoryBudget.
	history *interpreter.HistoryModel
	// called is what its call nodes run, carried in the execution input
	// (ExecutionInput.Called); nil when it has no call node.
	called []interpreter.Definition
}

type definitionKey struct{ id, version string }

// definitionCache keeps parsed definitions and compiled input schemas. An
// (id, version) never changes once registered, so entries never go stale.
type definitionCache struct {
	lru *lru.Cache[definitionKey, *loadedDefinition]
}

func newDefinitionCache(size int) (*definitionCache, error) {
	c, err := lru.New[definitionKey, *loadedDefinition](size)
	if err != nil {
		return nil, fmt.Errorf("api: definition cache: %w", err)
	}
	return &definitionCache{lru: c}, nil
}

// loadDefinition returns the definition id at version ("" = latest). The
// latest version is always asked of the store (a new one may have been
// registered); parsing and schema compilation happen once per (id, version).
func (s *Server) loadDefinition(ctx context.Context, id, version string) (*loadedDefinition, error) {
	if version != "" {
		if ld, hit := s.defs.lru.Get(definitionKey{id, version}); hit {
			return ld, nil
		}
	}
	stored, err := s.opts.Store.Get(ctx, id, version)
	if err != nil {
		return nil, definitionLookupError(err, id, version)
	}
	key := definitionKey{stored.ID, stored.Version}
	if ld, hit := s.defs.lru.Get(key); hit {
		return ld, nil
	}
	ld := &loadedDefinition{}
	// The stored document passed validation at registration and is
	// canonical; decode it as it is (edge ids are already derived).
	if err := json.NewDecoder(bytes.NewReader(stored.Document)).Decode(&ld.def); err != nil {
		return nil, internalError(err, "decode stored definition "+id+"@"+stored.Version)
	}
	if len(ld.def.InputSchema) > 0 {
		ld.schema, err = interpreter.CompileSchema(ld.def.InputSchema)
		if err != nil {
			// It compiled at registration: this build's rules refuse what
			// an older one accepted. The caller can act on that (register
			// a new version), so it is no internal error.
			return nil, newError(http.StatusUnprocessableEntity, codeDefinitionOutdated, fmt.Sprintf(
				"%s@%s was registered under older rules and this server refuses its inputSchema; register a new version with a schema it accepts",
				id, stored.Version)).withDetails([]interpreter.Problem{{Path: "inputSchema", Code: interpreter.CodeInvalidSchema, Message: err.Error()}})
		}
	}
	if an, ok := s.opts.Exprs.(interpreter.ScopeAnalyzer); ok {
		ld.reads, err = interpreter.PlanReads(&ld.def, s.opts.Registry, an)
		if err != nil {
			return nil, internalError(err, "plan the scopes of "+id+"@"+stored.Version)
		}
	}
	if ld.history, err = interpreter.NewHistoryModel(&ld.def, s.opts.Registry, ld.reads); err != nil {
		return nil, internalError(err, "model the history of "+id+"@"+stored.Version)
	}
	if ld.called, err = s.calledDefinitions(ctx, &ld.def); err != nil {
		return nil, err
	}
	if err := ld.history.CarryCalled(ld.called); err != nil {
		return nil, internalError(err, "model the history of "+id+"@"+stored.Version)
	}
	s.defs.lru.Add(key, ld)
	return ld, nil
}
