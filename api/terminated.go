package api

import (
	"context"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// terminationTimeout bounds reading the close event of a terminated
// execution; without it the answer says only that it was terminated.
const terminationTimeout = 5 * time.Second

// explainTermination completes the error of a terminated execution with
// why it was terminated, read from its close event: Temporal's own reason
// when the execution outgrew its history limits, or what the operator gave
// to `temporal workflow terminate --reason`. Other errors pass unchanged.
func (s *Server) explainTermination(ctx context.Context, ae *appError, executionID, runID string) *appError {
	if ae == nil || ae.Code != codeExecutionTerminated {
		return ae
	}
	ctx, cancel := context.WithTimeout(ctx, terminationTimeout)
	defer cancel()
	iter := s.opts.Client.GetWorkflowHistory(ctx, executionID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		if err != nil {
			return ae
		}
		if attrs := event.GetWorkflowExecutionTerminatedEventAttributes(); attrs != nil {
			ae.Message = terminationMessage(attrs.GetReason())
			return ae
		}
	}
	return ae
}

// terminationMessage explains a termination reason to the API's caller.
// Temporal's limit reasons ("Workflow history size exceeds limit.") get a
// message that says what to change; an operator's reason is shown as given.
func terminationMessage(reason string) string {
	reason = strings.TrimSpace(reason)
	lower := strings.ToLower(reason)
	switch {
	case strings.Contains(lower, "history size exceeds limit"), strings.Contains(lower, "mutable state size exceeds limit"),
		strings.Contains(lower, "transaction size exceeds limit"):
		return "Temporal terminated the execution: its history grew past Temporal's size limit (" + reason +
			") — the nodes' inputs and outputs are recorded in history: pass references to big data, not the data"
	case strings.Contains(lower, "history count exceeds limit"):
		return "Temporal terminated the execution: its history has more events than Temporal allows (" + reason + ")"
	case reason == "":
		return "the execution was terminated"
	}
	return "the execution was terminated: " + reason
}
