package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

const (
	// memoRequestHash is the memo field holding the SHA-256 of the
	// canonical request body of an execution started with an
	// Idempotency-Key, so a retry with another body can be told apart.
	memoRequestHash = "requestHash"
	// headerIdempotencyKey scopes a retried execute to the same execution.
	headerIdempotencyKey = "Idempotency-Key"
	// maxIdempotencyKeyLength bounds the header (it is hashed, so any
	// printable text is safe).
	maxIdempotencyKeyLength = 255
	// statusClientClosedRequest is what an execute whose caller went away
	// while it waited records (nginx's convention); nobody reads it.
	statusClientClosedRequest = 499
)

// Search attribute keys set on every execution.
var (
	searchAttrDefinitionID      = temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrDefinitionID)
	searchAttrDefinitionVersion = temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrDefinitionVersion)
	searchAttrCaller            = temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrCaller)
)

// executionSearchAttributes are the search attributes of an execution:
// its definition (what signal checks and lists read back) and its caller
// (who may see it).
func executionSearchAttributes(defID, version, caller string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		searchAttrDefinitionID.ValueSet(defID),
		searchAttrDefinitionVersion.ValueSet(version),
		searchAttrCaller.ValueSet(caller),
	)
}

// executeRequest is the body of POST /api/workflows/{id}/execute.
type executeRequest struct {
	Input   json.RawMessage `json:"input"`
	Version string          `json:"version,omitempty"`
}

// executeResult is the data of a successful or pending execute.
type executeResult struct {
	ExecutionID string          `json:"executionId"`
	RunID       string          `json:"runId"`
	Status      string          `json:"status"`
	Output      json.RawMessage `json:"output,omitempty"`
	StatusURL   string          `json:"statusUrl,omitempty"`
	UIURL       string          `json:"uiUrl,omitempty"`
	// Response is what a respond node answered (its status is also the
	// HTTP status); Output stays the final output, absent while the
	// execution runs on.
	Response *interpreter.Response `json:"response,omitempty"`
	// Cached says the answer comes from the result cache (the
	// definition's "cache"): no execution started, ExecutionID names the
	// one that produced Output, at CachedAt.
	Cached   bool       `json:"cached,omitempty"`
	CachedAt *time.Time `json:"cachedAt,omitempty"`
}

// execute is POST /api/workflows/{id}/execute: the body is {input,
// version}, the definition the path's id at that version (default: the
// latest).
func (s *Server) execute(c echo.Context) error {
	return s.executeDefinition(c, http.StatusOK, func(body []byte) (string, executeRequest, error) {
		req, err := decodeExecuteRequest(body)
		return c.Param("id"), req, err
	})
}

// executeDefinition is the one pipeline of every route that starts an
// execution (execute, the shipped definitions' routes): it reads the wait
// budget, the Idempotency-Key and the body, which read turns into the
// definition id and the request, loads that definition, checks the input
// against its inputSchema, starts the interpreter and waits up to the
// budget for the result: successStatus with the output, 202 with a status
// URL when the budget runs out (or at once with Prefer: respond-async), or
// the execution's failure mapped to its HTTP status (see failureError).
func (s *Server) executeDefinition(c echo.Context, successStatus int, read func(body []byte) (string, executeRequest, error)) error {
	wait, key, body, err := s.runRequest(c)
	if err != nil {
		return err
	}
	defID, req, err := read(body)
	if err != nil {
		return err
	}
	ld, err := s.loadDefinition(c.Request().Context(), defID, req.Version)
	if err != nil {
		return err
	}
	if fields := ld.checkInput(req.Input); len(fields) > 0 {
		return newError(http.StatusBadRequest, codeInvalidInput, "the input does not match the definition's inputSchema").withDetails(fields)
	}
	// The result cache answers waiting callers without an Idempotency-Key
	// (a key names one execution of its own; an asynchronous caller wants
	// one to follow).
	var remember func(executionRef, json.RawMessage)
	if key == "" && wait > 0 {
		cacheKey, err := s.cacheKey(c.Request().Context(), ld, req.Input)
		if err != nil {
			return err
		}
		if answered, err := s.answerCached(c, cacheKey, successStatus); answered || err != nil {
			return err
		}
		remember = func(ref executionRef, out json.RawMessage) { s.rememberResult(cacheKey, ld, ref, nullIfEmpty(out)) }
	}
	return s.run(c, ld, req, key, wait, successStatus, remember)
}

// checkInput checks an input against the definition's inputSchema (none:
// every input goes).
func (ld *loadedDefinition) checkInput(input json.RawMessage) []fieldError {
	if ld.schema == nil {
		return nil
	}
	return validateInput(ld.schema, input)
}

// executionInput is what an execution of ld with input starts with: the
// pinned definition, what each node reads, the definitions its call
// nodes run and the history budget of each run (continue-as-new). Executions started now (run) and by a schedule (schedules.go)
// start with the same.
func (ld *loadedDefinition) executionInput(input json.RawMessage, budget *interpreter.RunBudget) interpreter.ExecutionInput {
	return interpreter.ExecutionInput{Definition: ld.def, Input: input, Reads: ld.reads, Called: ld.called, RunBudget: budget}
}

// summary is the Web UI's one-line summary of its executions.
func (ld *loadedDefinition) summary() string { return ld.def.ID + "@" + ld.def.Version }

// runRequest reads what every route that starts an execution takes: the
// wait budget, the Idempotency-Key and the body.
func (s *Server) runRequest(c echo.Context) (wait time.Duration, key string, body []byte, err error) {
	if wait, err = s.waitBudget(c); err != nil {
		return 0, "", nil, err
	}
	key = c.Request().Header.Get(headerIdempotencyKey)
	if err := checkIdempotencyKey(key, c.Request().Header.Values(headerIdempotencyKey)); err != nil {
		return 0, "", nil, err
	}
	body, err = readBody(c)
	return wait, key, body, err
}

// run starts an execution of ld with req's input (attached to an earlier one
// by a non-empty Idempotency-Key) and waits up to wait for its result:
// successStatus with the output, 202 with a status URL when the budget runs
// out, or the execution's failure mapped to its HTTP status (failureError).
// A definition with a respond node is started with Update-with-Start
// (runResponding) so that the caller is answered as soon as it runs.
// remember, when set, receives the output of an execution that completed
// within the budget (the result cache).
func (s *Server) run(c echo.Context, ld *loadedDefinition, req executeRequest, key string, wait time.Duration, successStatus int,
	remember func(executionRef, json.RawMessage)) error {
	ctx := c.Request().Context()
	defID := ld.def.ID
	opts := client.StartWorkflowOptions{
		ID:                    defID + "-" + uuid.NewString(),
		TaskQueue:             s.opts.TaskQueue,
		TypedSearchAttributes: executionSearchAttributes(ld.def.ID, ld.def.Version, s.caller(c)),
		StaticSummary:         ld.summary(),
		EnableEagerStart:      s.opts.EagerStart,
	}
	var (
		hash string
		err  error
	)
	if key != "" {
		hash, err = requestHash(req)
		if err != nil {
			return internalError(err, "hash execute request")
		}
		opts.ID = idempotentExecutionID(s.caller(c), defID, key)
		opts.Memo = map[string]any{memoRequestHash: hash}
		// A retry must attach to the execution the first request started,
		// whether it is still running (USE_EXISTING) or finished
		// (REJECT_DUPLICATE: the start fails with already-started, which
		// the SDK turns into a handle on the existing run). The server
		// accepts eager start together with these policies; when the
		// execution already exists it simply does not start one eagerly.
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	}

	if err := s.checkHistoryBudget(ld, req.Input); err != nil {
		return err
	}
	input := ld.executionInput(req.Input, s.opts.RunBudget)
	if wait > 0 && interpreter.HasRespond(&ld.def) {
		answered, err := s.runResponding(c, opts, input, key, hash, wait, successStatus)
		if answered || err != nil {
			return err
		}
		// The execution already exists and is closed (a keyed retry): it
		// is answered as any other.
	}
	// The run's Get follows the execution across continue-as-new (the
	// SDK reads each run's close event and moves on to the next run), so
	// await answers with the last run's result.
	run, err := s.opts.Client.ExecuteWorkflow(ctx, opts, interpreter.WorkflowName, input)
	if err != nil {
		return temporalError(err, "start execution")
	}
	ref := s.ref(opts.ID, run.GetRunID())
	status, err := s.attachStatus(ctx, ref, key, hash)
	if err != nil {
		return err
	}
	return s.await(c, ref, status, time.Now().Add(wait), wait, successStatus, remember)
}

// attachStatus checks, for a keyed execute, that the execution was started
// with the same body, and returns its status (running for a fresh one).
func (s *Server) attachStatus(ctx context.Context, ref executionRef, key, hash string) (string, error) {
	if key == "" {
		return statusRunning, nil
	}
	// The first request or a retry: the execution must have been
	// started with the same body.
	desc, err := s.opts.Client.DescribeWorkflow(ctx, ref.ExecutionID, ref.RunID)
	if err != nil {
		return "", temporalError(err, "describe idempotent execution")
	}
	if stored := s.memoString(desc.Memo, memoRequestHash); stored != hash {
		return "", newError(http.StatusConflict, codeIdempotencyReused,
			"this Idempotency-Key was already used with a different request body").about(ref)
	}
	return statusOf(desc.Status), nil
}

// await waits until deadline (wait is the whole budget; 0: answer at once)
// for the execution's result and answers with it (see run).
func (s *Server) await(c echo.Context, ref executionRef, status string, deadline time.Time, wait time.Duration, successStatus int,
	remember func(executionRef, json.RawMessage)) error {
	ctx := c.Request().Context()
	pending := func() error {
		statusURL := "/api/executions/" + ref.ExecutionID
		c.Response().Header().Set(echo.HeaderLocation, statusURL)
		return ok(c, http.StatusAccepted, executeResult{
			ExecutionID: ref.ExecutionID, RunID: ref.RunID, Status: status, StatusURL: statusURL, UIURL: ref.UIURL,
		})
	}
	if wait <= 0 {
		return pending()
	}

	waitCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var out json.RawMessage
	err := s.opts.Client.GetWorkflow(waitCtx, ref.ExecutionID, ref.RunID).Get(waitCtx, &out)
	switch {
	case err == nil:
		if remember != nil {
			remember(ref, out)
		}
		return ok(c, successStatus, executeResult{
			ExecutionID: ref.ExecutionID, RunID: ref.RunID, Status: statusCompleted, Output: nullIfEmpty(out), UIURL: ref.UIURL,
		})
	case ctx.Err() != nil:
		// The caller went away; the execution goes on without it.
		return c.NoContent(statusClientClosedRequest)
	}
	if ae := failureError(err, ref); ae != nil {
		// Get followed the execution to its last run (it may have
		// continued as new): that run's close event says why.
		return s.explainTermination(ctx, ae, ref.ExecutionID, "")
	}
	// The budget ran out. The SDK's long poll may give up with its own
	// deadline error a moment before waitCtx ends; either way the
	// execution was started and goes on, so the answer is 202.
	var deadlineErr *serviceerror.DeadlineExceeded
	if waitCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadlineErr) {
		status = statusRunning
		return pending()
	}
	return temporalError(err, "wait for execution result").about(ref)
}

// maxPayloadBytes is Temporal's default limit on one payload (an
// execution's input, an activity's request); larger ones fail the start or
// the workflow task.
const maxPayloadBytes = 2 << 20

// checkHistoryBudget refuses, before anything starts, an input the
// execution's history could not hold: a payload over Temporal's limit, or
// an estimate over the history budget (Temporal terminates an execution
// whose history passes its own limit, 50 MB by default, wherever it is).
func (s *Server) checkHistoryBudget(ld *loadedDefinition, input json.RawMessage) error {
	est, err := ld.history.Estimate(nullIfEmpty(input))
	if err != nil {
		return internalError(err, "estimate the history of "+ld.def.ID)
	}
	switch {
	case est.LargestPayload > maxPayloadBytes:
		return newError(http.StatusRequestEntityTooLarge, codeHistoryBudget, fmt.Sprintf(
			"%s would be %d bytes; Temporal accepts at most %d in one payload (pass references to big data, not the data)",
			est.LargestWhat, est.LargestPayload, maxPayloadBytes))
	case est.Bytes > s.opts.HistoryBudget:
		return newError(http.StatusRequestEntityTooLarge, codeHistoryBudget, fmt.Sprintf(
			"with this input the execution's history would need about %d bytes; the budget is %d (HISTORY_BUDGET_BYTES): "+
				"the input is too big for this definition's nodes that read it (pass references to big data, or read only the fields a node needs)",
			est.Bytes, s.opts.HistoryBudget))
	}
	return nil
}

// waitBudget reads ?wait= (a Go duration or a bare number of seconds,
// clamped to MaxWait) and Prefer: respond-async (which means no wait).
func (s *Server) waitBudget(c echo.Context) (time.Duration, error) {
	wait := *s.opts.DefaultWait
	if raw, given := c.QueryParams()["wait"]; given {
		d, err := parseWait(raw[len(raw)-1])
		if err != nil {
			return 0, newError(http.StatusBadRequest, codeInvalidWait,
				"wait must be a duration such as 500ms, 5s, 1m or a number of seconds, not negative").
				withDetails([]fieldError{{Field: "wait", Message: err.Error()}})
		}
		wait = d
	}
	if preferAsync(c.Request().Header.Values("Prefer")) {
		return 0, nil
	}
	return min(wait, s.opts.MaxWait), nil
}

// parseWait reads ?wait=: a bare number of seconds or a Go duration, 0 or
// more.
func parseWait(raw string) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if secs, err := strconv.ParseFloat(raw, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, fmt.Errorf("%q is not a non-negative number of seconds", raw)
		}
		if secs > math.MaxInt64/float64(time.Second) {
			return time.Duration(math.MaxInt64), nil
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	return problem.ParseNonNegativeDuration(raw)
}

// preferAsync reports whether a Prefer header (RFC 7240) asks for
// respond-async.
func preferAsync(values []string) bool {
	for _, v := range values {
		for _, pref := range strings.Split(v, ",") {
			token, _, _ := strings.Cut(pref, ";")
			if strings.EqualFold(strings.TrimSpace(token), "respond-async") {
				return true
			}
		}
	}
	return false
}

func checkIdempotencyKey(key string, all []string) error {
	bad := func(msg string) error {
		return newError(http.StatusBadRequest, codeInvalidIdempotency, msg)
	}
	switch {
	case len(all) > 1:
		return bad("send one Idempotency-Key header")
	case len(all) == 1 && key == "":
		return bad("Idempotency-Key must not be empty")
	case len(key) > maxIdempotencyKeyLength:
		return bad(fmt.Sprintf("Idempotency-Key must be at most %d characters", maxIdempotencyKeyLength))
	}
	for _, r := range key {
		if r < 0x20 || r > 0x7e {
			return bad("Idempotency-Key must be printable ASCII")
		}
	}
	return nil
}

// idempotentExecutionID derives the execution id of a keyed execute: the
// same caller, definition and key always name the same execution.
func idempotentExecutionID(caller, defID, key string) string {
	sum := sha256.Sum256([]byte(caller + "\x00" + defID + "\x00" + key))
	return defID + "-idem-" + hex.EncodeToString(sum[:])[:32]
}

// requestHash is the SHA-256 of the canonical request: the same input and
// version hash the same whatever the formatting, key order or an omitted
// versus null input.
func requestHash(req executeRequest) (string, error) {
	raw, err := json.Marshal(executeRequest{Input: nullIfEmpty(req.Input), Version: req.Version})
	if err != nil {
		return "", err
	}
	canonical, err := interpreter.CanonicalJSON(raw)
	if err != nil {
		return "", err
	}
	return store.HashDocument(canonical), nil
}

// decodeExecuteRequest decodes the execute body strictly. An empty body
// means {"input": null}.
func decodeExecuteRequest(body []byte) (executeRequest, error) {
	var req executeRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := decodeBody(body, &req); err != nil {
		return req, err
	}
	req.Input = nullIfEmpty(req.Input)
	if err := checkDecodable(req.Input, "input"); err != nil {
		return req, err
	}
	return req, nil
}

// checkDecodable refuses JSON the workers could not decode although it is
// well-formed: numbers beyond float64 (1e999). Without this check the
// execution would start and fail with the SDK's decoding error.
func checkDecodable(raw json.RawMessage, what string) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		// Decoding into any can only fail on a type for a number that
		// does not fit a float64.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return newError(http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf("the %s holds a number out of range", what))
		}
		return newError(http.StatusBadRequest, codeInvalidJSON, fmt.Sprintf("the %s is not valid JSON", what))
	}
	return nil
}

// decodeBody decodes a JSON request body into v strictly (the problem
// toolkit's Decode: no unknown fields, no trailing data): malformed JSON is
// invalid_json, a well-formed body of the wrong shape invalid_request,
// with the field at fault in the details.
func decodeBody(body []byte, v any) error {
	derr := problem.Decode(body, v, "the body")
	switch {
	case derr == nil:
		return nil
	case derr.Syntax:
		return newError(http.StatusBadRequest, codeInvalidJSON, derr.Message)
	case derr.UnknownField != "":
		return newError(http.StatusBadRequest, codeInvalidRequest, derr.Message).
			withDetails([]fieldError{{Field: derr.UnknownField, Message: "unknown field"}})
	case derr.Path != "":
		return newError(http.StatusBadRequest, codeInvalidRequest, derr.Error()).
			withDetails([]fieldError{{Field: derr.Path, Message: derr.Message}})
	default:
		return newError(http.StatusBadRequest, codeInvalidRequest, derr.Message)
	}
}

func nullIfEmpty(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
