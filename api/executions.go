package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

const (
	defaultPageSize = 20
	maxPageSize     = 100
	// nodesQueryTimeout bounds the NodesQuery: a closed execution is
	// answered by a worker replaying its history.
	nodesQueryTimeout = 5 * time.Second
	// resultTimeout bounds reading a closed run's result.
	resultTimeout = 5 * time.Second
	// maxExecutionIDLength is Temporal's default workflow id limit.
	maxExecutionIDLength = 255
)

// Executions is what the API asks of Temporal: start an execution and
// wait for its result, describe, list, count, query, signal and cancel
// executions, read a close event, check the server's health. A
// client.Client is one; handler tests use a fake.
type Executions interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	CountWorkflow(ctx context.Context, request *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	CancelWorkflow(ctx context.Context, workflowID, runID string) error
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
	// Update-with-Start: executions of definitions with a respond node.
	NewWithStartWorkflowOperation(options client.StartWorkflowOptions, workflow any, args ...any) client.WithStartWorkflowOperation
	UpdateWithStartWorkflow(ctx context.Context, options client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error)
	// UpdateWorkflow asks the ResponseUpdate again of the next run when the
	// run Update-with-Start reached continued as new first.
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

var _ Executions = client.Client(nil)

// badDefinitionIDParam reports a ?definitionId= that is not a definition
// id. Nothing a client sends is put in a visibility query unless it
// matches its rule (problem.DefinitionID).
var badDefinitionIDParam = fieldError{Field: "definitionId",
	Message: "must be " + problem.DefinitionID.What + ": " + problem.DefinitionID.Hint}

// executionSummary is one item of GET /api/executions.
type executionSummary struct {
	ExecutionID  string     `json:"executionId"`
	RunID        string     `json:"runId"`
	DefinitionID string     `json:"definitionId"`
	Version      string     `json:"version"`
	Status       string     `json:"status"`
	StartedAt    time.Time  `json:"startedAt"`
	ClosedAt     *time.Time `json:"closedAt,omitempty"`
	UIURL        string     `json:"uiUrl,omitempty"`
	// ParentExecutionID is the execution whose call node started this one
	// (its id is "<parent>.<node id>", interpreter.CallChildID).
	ParentExecutionID string `json:"parentExecutionId,omitempty"`
	// ScheduleID is the schedule that started it (schedules.go).
	ScheduleID string `json:"scheduleId,omitempty"`
}

// executionDetail is GET /api/executions/{executionId}.
type executionDetail struct {
	executionSummary
	Output json.RawMessage   `json:"output,omitempty"`
	Error  *executionFailure `json:"error,omitempty"`
	// Response is what the execution's respond node answered the caller
	// (absent when it has none, or none ran).
	Response   *interpreter.Response   `json:"response,omitempty"`
	Nodes      []interpreter.NodeState `json:"nodes"`
	NodesError string                  `json:"nodesError,omitempty"`
	// RerunOf is the execution this one reruns (POST .../rerun).
	RerunOf string `json:"rerunOf,omitempty"`
}

// executionFailure is how a closed execution's failure is shown: the same
// code, message and details execute answers with, and the HTTP status it
// answers with.
type executionFailure struct {
	HTTPStatus int             `json:"httpStatus"`
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	Details    any             `json:"details"`
	Failure    *failureDetails `json:"failure,omitempty"`
}

// listExecutions is GET /api/executions: executions of the interpreter from
// Temporal visibility (in its order: running first, then the most recently
// closed), filtered by definitionId, status, scheduleId (the schedule that
// started them) and start time, paginated with
// an opaque pageToken (base64url of Temporal's NextPageToken). Every filter
// is validated and re-rendered before it reaches the query, and every bad
// parameter is reported at once (400 invalid_query, details [{field,
// message}]).
func (s *Server) listExecutions(c echo.Context) error {
	page, err := s.executionPage(c)
	if err != nil {
		return err
	}
	out := make([]executionSummary, 0, len(page.GetExecutions()))
	for _, info := range page.GetExecutions() {
		ex := executionSummary{
			ExecutionID:  info.GetExecution().GetWorkflowId(),
			RunID:        info.GetExecution().GetRunId(),
			DefinitionID: keywordOf(info.GetSearchAttributes(), interpreter.SearchAttrDefinitionID),
			Version:      keywordOf(info.GetSearchAttributes(), interpreter.SearchAttrDefinitionVersion),
			Status:       statusOf(info.GetStatus()),
			StartedAt:    info.GetStartTime().AsTime().UTC(),
			// A call node's child.
			ParentExecutionID: info.GetParentExecution().GetWorkflowId(),
			ScheduleID:        keywordOf(info.GetSearchAttributes(), searchAttrNameScheduledBy),
		}
		if info.GetCloseTime() != nil {
			t := info.GetCloseTime().AsTime().UTC()
			ex.ClosedAt = &t
		}
		ex.UIURL = s.uiURL(ex.ExecutionID, ex.RunID)
		out = append(out, ex)
	}
	return ok(c, http.StatusOK, map[string]any{"executions": out, "nextPageToken": nextPageToken(page)})
}

func nextPageToken(page *workflowservice.ListWorkflowExecutionsResponse) string {
	if len(page.GetNextPageToken()) > 0 {
		return encodePageToken(page.GetNextPageToken())
	}
	return ""
}

// executionPage reads one page of the executions the caller may see that
// match the request's query parameters (those of GET /api/executions).
func (s *Server) executionPage(c echo.Context) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	q := c.QueryParams()
	var bad []fieldError
	conds := []string{fmt.Sprintf("WorkflowType = '%s'", interpreter.WorkflowName),
		// Each run of an execution has its own visibility record; the
		// runs that continued as new are not executions of their own.
		"ExecutionStatus != 'ContinuedAsNew'"}
	if who := callerOf(c); !who.admin {
		// Names are checked against problem.CallerName (auth.go), so they
		// are safe in the query.
		conds = append(conds, fmt.Sprintf("%s = '%s'", interpreter.SearchAttrCaller, who.name))
	}
	if v := q.Get("definitionId"); v != "" {
		if problem.DefinitionID.Valid(v) {
			conds = append(conds, fmt.Sprintf("%s = '%s'", interpreter.SearchAttrDefinitionID, v))
		} else {
			bad = append(bad, badDefinitionIDParam)
		}
	}
	if v := q.Get("scheduleId"); v != "" {
		if problem.ScheduleID.Valid(v) {
			conds = append(conds, fmt.Sprintf("%s = '%s'", searchAttrNameScheduledBy, v))
		} else {
			bad = append(bad, fieldError{Field: "scheduleId", Message: "must be " + problem.ScheduleID.What + ": " + problem.ScheduleID.Hint})
		}
	}
	if v := q.Get("status"); v != "" {
		if vs, ok := visibilityStatus(v); ok {
			conds = append(conds, fmt.Sprintf("ExecutionStatus = '%s'", vs))
		} else {
			bad = append(bad, fieldError{Field: "status", Message: "must be one of running, completed, failed, canceled, terminated, timed_out"})
		}
	}
	for _, p := range []struct{ param, op string }{{"startedAfter", ">"}, {"startedBefore", "<"}} {
		v := q.Get(p.param)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad = append(bad, fieldError{Field: p.param, Message: "must be an RFC 3339 timestamp such as 2025-01-31T12:00:00Z"})
			continue
		}
		// Re-formatted from the parsed time: no client text reaches the query.
		conds = append(conds, fmt.Sprintf("StartTime %s '%s'", p.op, t.UTC().Format(time.RFC3339Nano)))
	}
	pageSize := defaultPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			bad = append(bad, fieldError{Field: "pageSize", Message: fmt.Sprintf("must be an integer from 1 to %d", maxPageSize)})
		} else {
			pageSize = n
		}
	}
	var token []byte
	if v := q.Get("pageToken"); v != "" {
		if t, ok := decodePageToken(v); ok {
			token = t
		} else {
			bad = append(bad, fieldError{Field: "pageToken", Message: "is not a token returned by this endpoint"})
		}
	}
	if len(bad) > 0 {
		return nil, newError(http.StatusBadRequest, codeInvalidQuery, "invalid query parameters").withDetails(bad)
	}

	resp, err := s.opts.Client.ListWorkflow(c.Request().Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace:     s.opts.Namespace,
		PageSize:      int32(pageSize),
		NextPageToken: token,
		Query:         strings.Join(conds, " AND "),
	})
	if err != nil {
		var inv *serviceerror.InvalidArgument
		if errors.As(err, &inv) && token != nil {
			// Most likely a forged or stale page token.
			return nil, newError(http.StatusBadRequest, codeInvalidQuery, "invalid query parameters").
				withDetails([]fieldError{{Field: "pageToken", Message: "is not a token returned by this endpoint"}})
		}
		return nil, temporalError(err, "list executions")
	}
	return resp, nil
}

// pageTokenCheckLength is the length of the checksum a page token starts with.
const pageTokenCheckLength = 8

// encodePageToken wraps Temporal's NextPageToken with a checksum, so that
// a truncated or made-up token is refused at once (400) instead of reaching
// the server, which does not reject it as invalid but fails in a way the
// SDK retries until the request times out.
func encodePageToken(token []byte) string {
	sum := sha256.Sum256(token)
	return base64.RawURLEncoding.EncodeToString(append(sum[:pageTokenCheckLength:pageTokenCheckLength], token...))
}

func decodePageToken(s string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= pageTokenCheckLength {
		return nil, false
	}
	token := raw[pageTokenCheckLength:]
	sum := sha256.Sum256(token)
	if !bytes.Equal(sum[:pageTokenCheckLength], raw[:pageTokenCheckLength]) {
		return nil, false
	}
	return token, true
}

// keywordOf decodes a Keyword search attribute of a visibility record.
// Search attributes are never encoded by a payload codec.
func keywordOf(sa *commonpb.SearchAttributes, name string) string {
	p, ok := sa.GetIndexedFields()[name]
	if !ok {
		return ""
	}
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
		return ""
	}
	return v
}

// plausibleExecutionID refuses ids Temporal could not have: empty, too
// long, not UTF-8 or with control characters (which gRPC refuses in the
// request headers the SDK derives from the id).
func plausibleExecutionID(id string) bool {
	if id == "" || len(id) > maxExecutionIDLength || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// describe finds the latest run of an interpreter execution that who may
// see: unknown ids, malformed ids, executions of other workflow types and
// executions another caller started are all execution_not_found, so a
// client cannot learn that someone else's execution exists.
func (s *Server) describe(ctx context.Context, who caller, executionID string) (*client.WorkflowExecutionDescription, error) {
	notFound := newError(http.StatusNotFound, codeExecutionNotFound, fmt.Sprintf("no execution %q", executionID))
	if !plausibleExecutionID(executionID) {
		return nil, notFound
	}
	// No run id: the latest run. An execution that continued as new is
	// read in its current run, which carries the earlier runs' state.
	desc, err := s.opts.Client.DescribeWorkflow(ctx, executionID, "")
	if err != nil {
		if isNotFound(err) {
			return nil, notFound
		}
		return nil, temporalError(err, "describe execution")
	}
	if desc.WorkflowType.Name != interpreter.WorkflowName {
		return nil, notFound
	}
	if !who.admin {
		// Executions started before callers were recorded have no owner:
		// only admins see them.
		owner, recorded := desc.TypedSearchAttributes.GetKeyword(searchAttrCaller)
		if !recorded || owner != who.name {
			return nil, notFound
		}
	}
	return desc, nil
}

// getExecution is GET /api/executions/{executionId}: status, output or
// error, and the per-node states from the NodesQuery. When the query cannot
// be answered (no worker, a timeout) the response says so in nodesError
// instead of failing.
func (s *Server) getExecution(c echo.Context) error {
	ctx := c.Request().Context()
	desc, err := s.describe(ctx, callerOf(c), c.Param("executionId"))
	if err != nil {
		return err
	}
	ex := desc.WorkflowExecution
	out := executionDetail{executionSummary: executionSummary{
		ExecutionID: ex.ID,
		RunID:       ex.RunID,
		Status:      statusOf(desc.Status),
		StartedAt:   desc.WorkflowStartTime.UTC(),
		UIURL:       s.uiURL(ex.ID, ex.RunID),
	}}
	if p := desc.ParentWorkflowExecution; p != nil {
		out.ParentExecutionID = p.ID
	}
	out.DefinitionID, _ = desc.TypedSearchAttributes.GetKeyword(searchAttrDefinitionID)
	out.Version, _ = desc.TypedSearchAttributes.GetKeyword(searchAttrDefinitionVersion)
	out.ScheduleID, _ = desc.TypedSearchAttributes.GetKeyword(searchAttrScheduledBy)
	out.RerunOf = s.memoString(desc.Memo, memoRerunOf)
	if desc.WorkflowCloseTime != nil {
		t := desc.WorkflowCloseTime.UTC()
		out.ClosedAt = &t
	}

	if out.Status != statusRunning {
		rctx, cancel := context.WithTimeout(ctx, resultTimeout)
		var result json.RawMessage
		err := s.opts.Client.GetWorkflow(rctx, ex.ID, ex.RunID).Get(rctx, &result)
		cancel()
		switch {
		case err == nil:
			out.Output = nullIfEmpty(result)
		default:
			ae := s.explainTermination(ctx, failureError(err, executionRef{}), ex.ID, ex.RunID)
			if ae == nil {
				return temporalError(err, "read execution result").about(s.ref(ex.ID, ex.RunID))
			}
			out.Error = &executionFailure{HTTPStatus: ae.Status, Code: ae.Code, Message: ae.Message, Details: ae.detailsList(), Failure: ae.Failure}
		}
	}

	qctx, cancel := context.WithTimeout(ctx, nodesQueryTimeout)
	defer cancel()
	nodes, qerr := s.queryNodes(qctx, ex.ID, ex.RunID)
	if qerr != nil {
		s.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "nodes query failed",
			slog.String("request_id", requestID(c)),
			slog.String("execution_id", ex.ID),
			slog.Any("error", qerr))
		out.NodesError = nodesErrorMessage(qerr)
		nodes = []interpreter.NodeState{}
	}
	out.Nodes = nodes
	if slices.ContainsFunc(nodes, func(n interpreter.NodeState) bool {
		return n.StartedAt != nil && n.StartedAt.Before(desc.WorkflowStartTime)
	}) {
		// A node started before this run: the execution continued as new,
		// and started with its first run, which the interpreter carries.
		// Asked only then: executions of one run need no second query.
		var info interpreter.ExecutionInfo
		if val, err := s.opts.Client.QueryWorkflow(qctx, ex.ID, ex.RunID, interpreter.ExecutionQuery); err == nil && val.Get(&info) == nil && !info.StartedAt.IsZero() {
			out.StartedAt = info.StartedAt.UTC()
		}
	}
	if slices.ContainsFunc(nodes, func(n interpreter.NodeState) bool { return n.Type == interpreter.RespondNodeType }) {
		// Only executions with a respond node are asked: older ones have
		// no such query.
		if val, err := s.opts.Client.QueryWorkflow(qctx, ex.ID, ex.RunID, interpreter.ResponseQuery); err == nil {
			_ = val.Get(&out.Response)
		}
	}
	return ok(c, http.StatusOK, out)
}

func (s *Server) queryNodes(ctx context.Context, executionID, runID string) ([]interpreter.NodeState, error) {
	val, err := s.opts.Client.QueryWorkflow(ctx, executionID, runID, interpreter.NodesQuery)
	if err != nil {
		return nil, err
	}
	var nodes []interpreter.NodeState
	if err := val.Get(&nodes); err != nil {
		return nil, err
	}
	if nodes == nil {
		nodes = []interpreter.NodeState{}
	}
	return nodes, nil
}

// nodesErrorMessage explains a failed NodesQuery without internal text.
func nodesErrorMessage(err error) string {
	var notReady *serviceerror.WorkflowNotReady
	switch {
	case errors.As(err, &notReady):
		return "node states are not available yet: the execution has not started running"
	case errors.Is(err, context.DeadlineExceeded):
		return "node states are unavailable: no worker answered in time"
	default:
		return "node states are unavailable"
	}
}

// signal is POST /api/executions/{executionId}/signals/{name}: the body is
// the signal's JSON payload (empty means null). A finished execution is
// 409; a name no wait node of the execution's definition waits for is 422
// unknown_signal (it would be accepted and never read).
func (s *Server) signal(c echo.Context) error {
	name := c.Param("name")
	if !problem.Name.Valid(name) || len(name) > 200 {
		return newError(http.StatusBadRequest, codeInvalidSignal, "a signal name has "+problem.Name.Hint)
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	payload := json.RawMessage("null")
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		if !json.Valid(trimmed) {
			return newError(http.StatusBadRequest, codeInvalidJSON, "the signal payload must be JSON")
		}
		payload = json.RawMessage(trimmed)
		if err := checkDecodable(payload, "signal payload"); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	desc, ref, err := s.running(c)
	if err != nil {
		return err
	}
	if err := s.checkSignalName(ctx, desc, name); err != nil {
		return err.about(ref)
	}
	// To the execution's current run (no run id): the run described may
	// have continued as new since.
	if err := s.opts.Client.SignalWorkflow(ctx, ref.ExecutionID, "", name, payload); err != nil {
		return actionError(err, ref, "signal execution")
	}
	return accepted(c, ref, "signal", name)
}

// checkSignalName refuses a signal the execution's definition (the
// version it runs, from its search attributes) has no wait node for. When
// that definition cannot be told or read, the signal is sent, as it
// always was.
func (s *Server) checkSignalName(ctx context.Context, desc *client.WorkflowExecutionDescription, name string) *appError {
	id, hasID := desc.TypedSearchAttributes.GetKeyword(searchAttrDefinitionID)
	version, hasVersion := desc.TypedSearchAttributes.GetKeyword(searchAttrDefinitionVersion)
	if !hasID || !hasVersion {
		return nil
	}
	ld, err := s.loadDefinition(ctx, id, version)
	if err != nil {
		// Signals go on when the database does not answer: a running
		// execution must stay reachable.
		s.opts.Logger.WarnContext(ctx, "cannot check the signal against the execution's definition", "definition", id+"@"+version, "error", err)
		return nil
	}
	declared := ld.def.Signals()
	if slices.Contains(declared, name) {
		return nil
	}
	// Details are objects, as everywhere else: one per signal it waits for.
	waitsFor := make([]map[string]string, len(declared))
	for i, signal := range declared {
		waitsFor[i] = map[string]string{"signal": signal}
	}
	msg := fmt.Sprintf("%s@%s has no wait node for signal %q", id, version, name)
	if len(declared) == 0 {
		msg += "; it waits for no signal"
	} else {
		msg += "; it waits for " + strings.Join(declared, ", ")
	}
	return newError(http.StatusUnprocessableEntity, codeUnknownSignal, msg).withDetails(waitsFor)
}

// cancel is POST /api/executions/{executionId}/cancel. Cancellation is
// cooperative: the interpreter stops scheduling and runs compensation, so
// the answer is 202 "canceling", and the status becomes canceled.
func (s *Server) cancel(c echo.Context) error {
	_, ref, err := s.running(c)
	if err != nil {
		return err
	}
	// To the current run, as signal does.
	if err := s.opts.Client.CancelWorkflow(c.Request().Context(), ref.ExecutionID, ""); err != nil {
		return actionError(err, ref, "cancel execution")
	}
	return accepted(c, ref, "status", "canceling")
}

// running finds the execution of the path's executionId, which the caller
// must be allowed to see and which must be running (else 409).
func (s *Server) running(c echo.Context) (*client.WorkflowExecutionDescription, executionRef, error) {
	desc, err := s.describe(c.Request().Context(), callerOf(c), c.Param("executionId"))
	if err != nil {
		return nil, executionRef{}, err
	}
	ref := s.ref(desc.WorkflowExecution.ID, desc.WorkflowExecution.RunID)
	if statusOf(desc.Status) != statusRunning {
		return nil, ref, finishedError(ref, statusOf(desc.Status))
	}
	return desc, ref, nil
}

// actionError maps the failure of a signal or cancel (what names it in
// internal errors) on a running execution.
func actionError(err error, ref executionRef, what string) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// It finished between the describe and the action.
		return finishedError(ref, "")
	}
	return temporalError(err, what).about(ref)
}

// accepted answers 202 with the execution's ids and key: value.
func accepted(c echo.Context, ref executionRef, key string, value any) error {
	return ok(c, http.StatusAccepted, map[string]any{
		"executionId": ref.ExecutionID, "runId": ref.RunID, key: value, "uiUrl": ref.UIURL,
	})
}

func finishedError(ref executionRef, status string) *appError {
	msg := "the execution has finished"
	if status != "" {
		msg = "the execution has finished (" + status + ")"
	}
	return newError(http.StatusConflict, codeExecutionFinished, msg).about(ref)
}
