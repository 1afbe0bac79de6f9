package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Redrive and rerun start the interpreter from the end state of a closed
// run, which the SnapshotQuery answers (by replay on a worker), so that
// completed nodes keep their outputs and never run again
// (interpreter/redrive.go says why not Temporal's reset).

// memoRerunOf is the memo field of a rerun naming the execution it reruns.
const memoRerunOf = "rerunOf"

// endStateTimeout bounds the SnapshotQuery: a closed run is replayed to
// answer it, which takes longer than a query to a cached open run.
const endStateTimeout = 30 * time.Second

// redrive is POST /api/executions/{executionId}/redrive: a failed,
// timed-out or terminated execution goes on in a new run of the same
// execution id (so the idempotency keys derived from it hold), which runs
// the nodes that failed or never ran and what follows them.
func (s *Server) redrive(c echo.Context) error {
	ctx := c.Request().Context()
	desc, err := s.describe(ctx, callerOf(c), c.Param("executionId"))
	if err != nil {
		return err
	}
	runID, err := s.redriveExecution(ctx, desc)
	if err != nil {
		return err
	}
	ex := desc.WorkflowExecution
	return ok(c, http.StatusAccepted, map[string]any{
		"executionId": ex.ID, "runId": runID, "previousRunId": ex.RunID, "status": statusRunning,
		"statusUrl": "/api/executions/" + url.PathEscape(ex.ID), "uiUrl": s.uiURL(ex.ID, runID),
	})
}

// redriveExecution starts the new run of the execution desc describes (its
// latest run) and returns its run id.
func (s *Server) redriveExecution(ctx context.Context, desc *client.WorkflowExecutionDescription) (string, error) {
	ex := desc.WorkflowExecution
	ref := s.ref(ex.ID, ex.RunID)
	switch status := statusOf(desc.Status); status {
	case statusRunning:
		return "", newError(http.StatusConflict, codeExecutionRunning, "the execution is running: only a failed, timed-out or terminated execution can be redriven").about(ref)
	case statusCompleted:
		return "", newError(http.StatusConflict, codeExecutionCompleted, "the execution completed: there is nothing to redrive (rerun it from a node instead)").about(ref)
	case statusCanceled:
		return "", newError(http.StatusConflict, codeNotRedrivable, "the execution was canceled and ran its compensation: rerun it from a node instead").about(ref)
	}
	if desc.ParentWorkflowExecution != nil {
		return "", newError(http.StatusConflict, codeNotRedrivable, "a child execution is redriven by redriving its parent").about(ref)
	}
	in, err := s.endState(ctx, ref)
	if err != nil {
		return "", err
	}
	snap, err := interpreter.RedriveSnapshot(&in.Definition, in.Resume)
	if err != nil {
		return "", internalError(err, "build redrive snapshot")
	}
	in.Resume = snap
	opts := client.StartWorkflowOptions{
		ID:        ex.ID,
		TaskQueue: s.opts.TaskQueue,
		// The same definition, caller and schedule: the run is the same
		// execution's.
		TypedSearchAttributes: desc.TypedSearchAttributes,
		StaticSummary:         in.Definition.ID + "@" + in.Definition.Version + " (redrive)",
		// A new run after a failed, timed-out, terminated (or canceled)
		// one, never after a completed one; a run started meanwhile (a
		// concurrent redrive) makes the start fail.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}
	if hash := s.memoString(desc.Memo, memoRequestHash); hash != "" {
		// A retried keyed execute still attaches to this execution.
		opts.Memo = map[string]any{memoRequestHash: hash}
	}
	run, err := s.opts.Client.ExecuteWorkflow(ctx, opts, interpreter.WorkflowName, in)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return "", newError(http.StatusConflict, codeExecutionRunning, "the execution was redriven meanwhile: it is running").about(ref)
		}
		return "", temporalError(err, "start redrive").about(ref)
	}
	return run.GetRunID(), nil
}

// bulkRedrivePause spaces the redrives of one bulk request: each starts a
// run and replays a closed one on a worker, which a burst of hundreds would
// crowd out live executions with.
const bulkRedrivePause = 50 * time.Millisecond

// redriveMany is POST /api/executions/redrive: one page of the executions
// GET /api/executions lists with the same query parameters (status
// required: failed, terminated or timed_out) is redriven, one after
// another; the answer counts those redriven, says why each other one was
// not, and gives the next page's token.
func (s *Server) redriveMany(c echo.Context) error {
	ctx := c.Request().Context()
	switch c.QueryParam("status") {
	case statusFailed, statusTerminated, statusTimedOut:
	default:
		return newError(http.StatusBadRequest, codeInvalidQuery, "invalid query parameters").
			withDetails([]fieldError{{Field: "status", Message: "required: failed, terminated or timed_out"}})
	}
	page, err := s.executionPage(c)
	if err != nil {
		return err
	}
	type skipped struct {
		ExecutionID string `json:"executionId"`
		Code        string `json:"code"`
		Message     string `json:"message"`
	}
	redriven := []executionRef{}
	notRedriven := []skipped{}
	for i, info := range page.GetExecutions() {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(bulkRedrivePause):
			}
		}
		id := info.GetExecution().GetWorkflowId()
		// The latest run: visibility keeps a failed run's record after a
		// redrive started the next one.
		desc, err := s.describe(ctx, callerOf(c), id)
		if err == nil {
			var runID string
			if runID, err = s.redriveExecution(ctx, desc); err == nil {
				redriven = append(redriven, s.ref(id, runID))
				continue
			}
		}
		var ae *appError
		if !errors.As(err, &ae) || ae.Status >= 500 {
			return err
		}
		notRedriven = append(notRedriven, skipped{ExecutionID: id, Code: ae.Code, Message: ae.Message})
	}
	return ok(c, http.StatusOK, map[string]any{
		"count": len(redriven), "redriven": redriven, "notRedriven": notRedriven, "nextPageToken": nextPageToken(page),
	})
}

// rerunRequest is the body of POST /api/executions/{executionId}/rerun.
type rerunRequest struct {
	FromNode string          `json:"fromNode"`
	Input    json.RawMessage `json:"input,omitempty"`
	// Version of the definition the rerun runs: "" the former execution's,
	// "latest", or x.y.z.
	Version string `json:"version,omitempty"`
}

// rerun is POST /api/executions/{executionId}/rerun: a new execution that
// reuses the recorded outputs of every node not downstream of fromNode and
// runs the rest, on the former execution's version of the definition or
// another one (only nodes and edges found in both can be reused).
func (s *Server) rerun(c echo.Context) error {
	ctx := c.Request().Context()
	// Another caller's execution is 404 whatever the body.
	desc, err := s.describe(ctx, callerOf(c), c.Param("executionId"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return newError(http.StatusBadRequest, codeBadRequest, "the body could not be read")
	}
	var req rerunRequest
	if err := decodeBody(body, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.FromNode) == "" {
		return newError(http.StatusBadRequest, codeInvalidRequest, "fromNode is required").
			withDetails([]fieldError{{Field: "fromNode", Message: "required: the node to run again from"}})
	}
	ex := desc.WorkflowExecution
	ref := s.ref(ex.ID, ex.RunID)
	if statusOf(desc.Status) == statusRunning {
		return newError(http.StatusConflict, codeExecutionRunning, "the execution is running: rerun it once it has finished").about(ref)
	}
	former, err := s.endState(ctx, ref)
	if err != nil {
		return err
	}
	version := req.Version
	switch version {
	case "":
		version = former.Definition.Version
	case "latest":
		version = ""
	}
	ld, err := s.loadDefinition(ctx, former.Definition.ID, version)
	if err != nil {
		return err
	}
	input := req.Input
	if len(input) == 0 {
		if input, err = json.Marshal(former.Input); err != nil {
			return internalError(err, "encode the former input")
		}
	} else if fields := ld.checkInput(input); len(fields) > 0 {
		return newError(http.StatusBadRequest, codeInvalidInput, "the input does not match the definition's inputSchema").withDetails(fields)
	}
	snap, problems := interpreter.RerunSnapshot(&former.Definition, former.Resume, &ld.def, req.FromNode)
	if len(problems) > 0 {
		fields := make([]fieldError, len(problems))
		for i, p := range problems {
			fields[i] = fieldError{Field: "fromNode", Message: p}
		}
		return newError(http.StatusUnprocessableEntity, codeRerunRefused,
			fmt.Sprintf("cannot rerun from %q on %s", req.FromNode, ld.summary())).withDetails(fields).about(ref)
	}
	in := ld.executionInput(input, s.opts.RunBudget)
	in.Resume = snap
	opts := client.StartWorkflowOptions{
		ID:                    ld.def.ID + "-" + uuid.NewString(),
		TaskQueue:             s.opts.TaskQueue,
		TypedSearchAttributes: executionSearchAttributes(ld.def.ID, ld.def.Version, s.caller(c)),
		StaticSummary:         ld.summary() + " (rerun of " + ex.ID + " from " + req.FromNode + ")",
		Memo:                  map[string]any{memoRerunOf: ex.ID},
	}
	run, err := s.opts.Client.ExecuteWorkflow(ctx, opts, interpreter.WorkflowName, in)
	if err != nil {
		return temporalError(err, "start rerun")
	}
	return ok(c, http.StatusAccepted, map[string]any{
		"executionId": opts.ID, "runId": run.GetRunID(), "status": statusRunning, "rerunOf": ex.ID,
		"fromNode": req.FromNode, "version": ld.def.Version,
		"statusUrl": "/api/executions/" + url.PathEscape(opts.ID), "uiUrl": s.uiURL(opts.ID, run.GetRunID()),
	})
}

// endState is a closed run's input and its state at the end (the
// SnapshotQuery). Runs of builds before the query cannot answer it.
func (s *Server) endState(ctx context.Context, ref executionRef) (interpreter.ExecutionInput, error) {
	qctx, cancel := context.WithTimeout(ctx, endStateTimeout)
	defer cancel()
	var in interpreter.ExecutionInput
	val, err := s.opts.Client.QueryWorkflow(qctx, ref.ExecutionID, ref.RunID, interpreter.SnapshotQuery)
	if err == nil {
		err = val.Get(&in)
	}
	var queryFailed *serviceerror.QueryFailed
	switch {
	case errors.As(err, &queryFailed):
		return in, newError(http.StatusConflict, codeNotRedrivable,
			"the execution's state cannot be read back (it ran on a build without the snapshot query, or is a map batch)").about(ref)
	case errors.Is(err, context.DeadlineExceeded):
		return in, unavailable(err, "no worker answered the snapshot query in time")
	case err != nil:
		return in, temporalError(err, "query the execution's end state").about(ref)
	case in.Resume == nil:
		return in, newError(http.StatusConflict, codeNotRedrivable, "the execution's state cannot be read back").about(ref)
	}
	return in, nil
}
