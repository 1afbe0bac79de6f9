package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// checkCalls checks the definitions a definition being registered runs as
// child executions (call nodes, loop and map definition bodies: Calls), which
// Parse cannot (they need the store): each names a registered definition,
// and a call without a version is pinned to the latest version registered
// now (its config is rewritten before the canonical document is stored);
// and no chain of calls leads back to def's id, at any version.
func (s *Server) checkCalls(ctx context.Context, def *interpreter.Definition) ([]interpreter.Problem, error) {
	var problems []interpreter.Problem
	for _, ref := range interpreter.Calls(def) {
		at := fmt.Sprintf("nodes[%d].%s", ref.Node, ref.Path)
		if ref.ID == def.ID {
			problems = append(problems, interpreter.Problem{Path: at + ".definition", Code: interpreter.CodeCycle,
				Message: fmt.Sprintf("node %q runs its own definition %q: calls must not loop", def.Nodes[ref.Node].ID, def.ID)})
			continue
		}
		stored, err := s.opts.Store.Get(ctx, ref.ID, ref.Version)
		if errors.Is(err, store.ErrNotFound) {
			path, what := at+".definition", fmt.Sprintf("definition %q is not registered", ref.ID)
			if ref.Version != "" {
				path, what = at+".version", fmt.Sprintf("definition %q has no version %q", ref.ID, ref.Version)
			}
			problems = append(problems, interpreter.Problem{Path: path, Code: interpreter.CodeUnknownDefinition,
				Message: what + ": register the called definition first"})
			continue
		}
		if err != nil {
			return nil, err
		}
		if ref.Version == "" {
			if err := interpreter.PinCall(def, ref.Node, stored.Version); err != nil {
				return nil, fmt.Errorf("pin call node %d: %w", ref.Node, err)
			}
		}
		chain, err := s.callChainTo(ctx, stored.ID, stored.Version, def.ID, map[string]bool{})
		if err != nil {
			return nil, err
		}
		if chain != nil {
			problems = append(problems, interpreter.Problem{Path: at + ".definition", Code: interpreter.CodeCycle,
				Message: fmt.Sprintf("calls loop: %s -> %s: calls must not loop", def.ID, strings.Join(chain, " -> "))})
		}
	}
	return problems, nil
}

// callChainTo returns the chain of calls from id@version to a definition
// called target (the ids, id first), or nil when there is none.
func (s *Server) callChainTo(ctx context.Context, id, version, target string, seen map[string]bool) ([]string, error) {
	key := id + "@" + version
	if seen[key] {
		return nil, nil
	}
	seen[key] = true
	ld, err := s.loadDefinition(ctx, id, version)
	if err != nil {
		return nil, err
	}
	for _, ref := range interpreter.Calls(&ld.def) {
		if ref.ID == target {
			return []string{id, target}, nil
		}
		chain, err := s.callChainTo(ctx, ref.ID, ref.Version, target, seen)
		if err != nil || chain != nil {
			return append([]string{id}, chain...), err
		}
	}
	return nil, nil
}

// calledDefinitions lists the definitions def's call nodes run, and those
// they call in turn, each (id, version) once, depth first in node order:
// ExecutionInput.Called, the pinned snapshots the workflow runs children
// from.
func (s *Server) calledDefinitions(ctx context.Context, def *interpreter.Definition) ([]interpreter.Definition, error) {
	var out []interpreter.Definition
	seen := map[string]bool{}
	var walk func(d *interpreter.Definition) error
	walk = func(d *interpreter.Definition) error {
		for _, ref := range interpreter.Calls(d) {
			key := ref.ID + "@" + ref.Version
			if seen[key] {
				continue
			}
			seen[key] = true
			ld, err := s.loadDefinition(ctx, ref.ID, ref.Version)
			if err != nil {
				return err
			}
			out = append(out, ld.def)
			if err := walk(&ld.def); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(def)
}
