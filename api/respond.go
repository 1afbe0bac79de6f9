package api

import (
	"context"
	"errors"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// continuedRetryPause spaces the ResponseUpdate's retries while a run
// continues as new: the run that answered Continued may take a moment to
// hand over.
const continuedRetryPause = 50 * time.Millisecond

// runResponding starts an execution of a definition that has a respond
// node with Update-with-Start: the start and the interpreter's
// ResponseUpdate travel in one request, and the update completes as soon as
// a respond node runs. The caller is then answered with the node's status
// and `data.response` ({nodeId, status, body}), `data.status` "running"
// (the execution goes on durably; `data.output` stays the final output and
// is absent). When the execution ends before any respond node ran, the
// answer is the usual one (output or failure). answered is false (and err
// nil) when the execution already exists and is closed (a keyed retry):
// the caller then answers as for any other definition.
func (s *Server) runResponding(c echo.Context, opts client.StartWorkflowOptions, input interpreter.ExecutionInput,
	key, hash string, wait time.Duration, successStatus int) (answered bool, err error) {
	ctx := c.Request().Context()
	deadline := time.Now().Add(wait)
	// Update-with-Start needs a conflict policy; an id without a key is
	// fresh, so USE_EXISTING changes nothing for it. Eager start does not
	// apply to a multi-operation request.
	if opts.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED {
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	}
	opts.EnableEagerStart = false
	startOp := s.opts.Client.NewWithStartWorkflowOperation(opts, interpreter.WorkflowName, input)
	waitCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	handle, uerr := s.opts.Client.UpdateWithStartWorkflow(waitCtx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: startOp,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: interpreter.ResponseUpdate,
			// Accepted: the request returns (with the run id) once the
			// first workflow task took the update; handle.Get then waits
			// for the response within the budget.
			WaitForStage: client.WorkflowUpdateStageAccepted,
		},
	})
	var res interpreter.ResponseResult
	if uerr == nil {
		uerr = handle.Get(waitCtx, &res)
	}
	for uerr == nil && res.Continued {
		// The run continued as new before any respond node ran: ask the
		// execution's current run (no run id), within the same budget.
		res = interpreter.ResponseResult{}
		select {
		case <-waitCtx.Done():
		case <-time.After(continuedRetryPause):
		}
		handle, uerr = s.opts.Client.UpdateWorkflow(waitCtx, client.UpdateWorkflowOptions{
			WorkflowID: opts.ID, UpdateName: interpreter.ResponseUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if uerr == nil {
			uerr = handle.Get(waitCtx, &res)
		}
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if uerr != nil && errors.As(uerr, &started) {
		return false, nil
	}
	// The start's outcome is known once the request returned.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	run, serr := startOp.Get(sctx)
	scancel()
	runID := ""
	if serr == nil {
		runID = run.GetRunID()
	} else if uerr != nil && waitCtx.Err() != nil {
		// The budget ran out before the request returned: the execution
		// may have started all the same; its id says.
		if desc, err := s.opts.Client.DescribeWorkflow(ctx, opts.ID, ""); err == nil {
			runID, serr = desc.WorkflowExecution.RunID, nil
		}
	}
	if serr != nil {
		if uerr != nil {
			return true, temporalError(uerr, "start execution")
		}
		return true, temporalError(serr, "start execution")
	}
	ref := s.ref(opts.ID, runID)
	status, err := s.attachStatus(ctx, ref, key, hash)
	if err != nil {
		return true, err
	}
	if uerr == nil && res.Responded && res.Response != nil {
		return true, ok(c, res.Response.Status, executeResult{
			ExecutionID: ref.ExecutionID, RunID: ref.RunID, Status: status, Response: res.Response, UIURL: ref.UIURL,
		})
	}
	if ctx.Err() != nil {
		return true, c.NoContent(statusClientClosedRequest)
	}
	// The execution ended before any respond node ran (or the update could
	// not be answered within the budget): the usual answer.
	return true, s.await(c, ref, status, deadline, wait, successStatus, nil)
}
