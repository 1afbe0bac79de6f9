package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Execution statuses as the API shows them.
const (
	statusRunning    = "running"
	statusCompleted  = "completed"
	statusFailed     = "failed"
	statusCanceled   = "canceled"
	statusTerminated = "terminated"
	statusTimedOut   = "timed_out"
)

// statusOf maps Temporal's execution status. A run that continued as new
// is not the end of the execution: its next run (same execution id) goes
// on, so it reads as running. The API describes the latest run, so it
// sees that status only in a race with the next run's start.
func statusOf(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return statusRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return statusCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return statusFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return statusCanceled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return statusTerminated
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return statusTimedOut
	default:
		return statusRunning
	}
}

// visibilityStatus is the ExecutionStatus value of a list filter.
func visibilityStatus(apiStatus string) (string, bool) {
	switch apiStatus {
	case statusRunning:
		return "Running", true
	case statusCompleted:
		return "Completed", true
	case statusFailed:
		return "Failed", true
	case statusCanceled:
		return "Canceled", true
	case statusTerminated:
		return "Terminated", true
	case statusTimedOut:
		return "TimedOut", true
	}
	return "", false
}

// failureError maps the failure of a closed execution (the error of
// WorkflowRun.Get) to the HTTP error the API answers with; nil when err is
// not an execution failure (a transport error, a deadline):
//
//   - ValidationError: 400 validation_failed, details [{field, message}]
//   - BusinessError (a fail node): the status and code the node declares
//   - any other application error (NodeFailed, ExpressionError…): 422
//     execution_failed, details [{nodeId, nodeType, type}], the same object
//     as "failure" next to them
//   - canceled: 409 execution_canceled; terminated: 409
//     execution_terminated; timed out: 504 execution_timed_out
//
// The error carries the execution (ref) next to its code.
func failureError(err error, ref executionRef) *appError {
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		return nil
	}
	return causeError(errors.Unwrap(wee)).about(ref)
}

// interpreterErrorTypes are the failure types whose messages the
// interpreter writes for clients (interpreter/contract.go).
var interpreterErrorTypes = map[string]bool{
	interpreter.ErrValidation:    true,
	interpreter.ErrBusiness:      true,
	interpreter.ErrExpression:    true,
	interpreter.ErrConfiguration: true,
	interpreter.ErrPayloadTooBig: true,
	interpreter.ErrNodeFailed:    true,
	interpreter.ErrWaitTimeout:   true,
}

// failureDetails says where an execution failed: the one entry of
// execution_failed's details, and its "failure" (where clients that read
// the details as an object, as they once were, find the same fields).
type failureDetails struct {
	NodeID   string `json:"nodeId,omitempty"`
	NodeType string `json:"nodeType,omitempty"`
	Type     string `json:"type"`
}

func causeError(cause error) *appError {
	switch e := cause.(type) {
	case *temporal.CanceledError:
		return newError(http.StatusConflict, codeExecutionCanceled, "the execution was canceled")
	case *temporal.TerminatedError:
		return newError(http.StatusConflict, codeExecutionTerminated, "the execution was terminated")
	case *temporal.TimeoutError:
		return newError(http.StatusGatewayTimeout, codeExecutionTimedOut, "the execution timed out")
	case *temporal.ApplicationError:
		var ee interpreter.ExecutionError
		if e.HasDetails() && e.Details(&ee) != nil {
			ee = interpreter.ExecutionError{}
		}
		if ee.Type == "" {
			ee.Type = e.Type()
		}
		switch ee.Type {
		case interpreter.ErrValidation:
			fields := ee.Fields
			if fields == nil {
				fields = []fieldError{} // details are [] rather than null
			}
			msg := ee.Message
			if msg == "" {
				msg = "validation failed"
			}
			return newError(http.StatusBadRequest, codeValidationFailed, msg).withDetails(fields)
		case interpreter.ErrBusiness:
			status := ee.Status
			if status < 400 || status > 599 {
				status = http.StatusUnprocessableEntity
			}
			code := ee.Code
			if code == "" {
				code = codeExecutionFailed
			}
			msg := ee.Message
			if msg == "" {
				msg = e.Message()
			}
			return newError(status, code, msg)
		}
		if !interpreterErrorTypes[ee.Type] {
			// Not one of the interpreter's failures: the SDK's own (an input
			// it could not decode, a panic), whose text is internal.
			return executionFailed("the execution failed", failureDetails{Type: "Error"})
		}
		return executionFailed(e.Message(), failureDetails{NodeID: ee.NodeID, NodeType: ee.NodeType, Type: ee.Type})
	default:
		// The workflow failed with an SDK error it did not wrap (an
		// activity or panic error). Its text is the interpreter's, not a
		// dependency's, but it may carry internals: keep it generic.
		return executionFailed("the execution failed", failureDetails{Type: "Error"})
	}
}

// executionFailed is 422 execution_failed about the failure f.
func executionFailed(message string, f failureDetails) *appError {
	e := newError(http.StatusUnprocessableEntity, codeExecutionFailed, message).withDetails([]failureDetails{f})
	e.Failure = &f
	return e
}

// temporalError maps an error of a Temporal call that is not an execution
// failure: overload and deadlines are 503 (retry later), the rest internal.
func temporalError(err error, what string) *appError {
	var unavailableErr *serviceerror.Unavailable
	var exhausted *serviceerror.ResourceExhausted
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailableErr) || errors.As(err, &exhausted) || errors.As(err, &deadline) ||
		errors.Is(err, context.DeadlineExceeded) {
		return unavailable(err, what)
	}
	return internalError(err, what)
}

// isNotFound reports Temporal's answer for an unknown or malformed
// execution id.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	var inv *serviceerror.InvalidArgument
	return errors.As(err, &nf) || errors.As(err, &inv)
}

// ref builds the execution reference of responses.
func (s *Server) ref(executionID, runID string) executionRef {
	return executionRef{ExecutionID: executionID, RunID: runID, UIURL: s.uiURL(executionID, runID)}
}

// uiURL links an execution in the Temporal Web UI; "" without UIBaseURL.
func (s *Server) uiURL(executionID, runID string) string {
	if s.opts.UIBaseURL == "" || executionID == "" || runID == "" {
		return ""
	}
	return s.opts.UIBaseURL + "/namespaces/" + url.PathEscape(s.opts.Namespace) + "/workflows/" +
		url.PathEscape(executionID) + "/" + url.PathEscape(runID) + "/history"
}

// memoString decodes a string memo field; "" when absent or not a string.
func (s *Server) memoString(memo *commonpb.Memo, field string) string {
	p, ok := memo.GetFields()[field]
	if !ok {
		return ""
	}
	var v string
	if err := s.dc.FromPayload(p, &v); err != nil {
		return ""
	}
	return v
}
