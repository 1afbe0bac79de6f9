package testmode

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// NotRunError is the error type of the mock FromHistory gives an I/O node
// the recorded execution did not run: a test that reaches it has left the
// recorded path, and fails saying so.
const NotRunError = "NotRunInRecordedExecution"

// FromHistory turns the history of an interpreter execution into a test
// request: its definition by id and version, its input, and as mocks what
// each I/O node's activity returned (an attempt that failed and was
// retried becomes a retryable error mock before it, read from the last
// failure Temporal recorded) and each signal wait's signal. Payloads must
// be decoded already (codec.DecodeMessage).
func FromHistory(executionID string, h *historypb.History, registry *interpreter.Registry) (Case, error) {
	dc := converter.GetDefaultDataConverter()
	var (
		tc        Case
		req       = &tc.Request
		def       interpreter.Definition
		scheduled = map[int64]string{} // scheduled event id -> I/O node id
		started   = map[int64]*historypb.ActivityTaskStartedEventAttributes{}
		signals   = map[string][]any{} // signal name -> payloads, in order
	)
	req.Mocks = map[string]Mock{}
	for _, ev := range h.GetEvents() {
		switch {
		case ev.GetWorkflowExecutionStartedEventAttributes() != nil:
			var in interpreter.ExecutionInput
			if err := decode(dc, ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
				return tc, fmt.Errorf("execution input: %w", err)
			}
			def = in.Definition
			req.ID, req.Version, req.Input = def.ID, def.Version, redact(in.Input)
		case ev.GetActivityTaskScheduledEventAttributes() != nil:
			a := ev.GetActivityTaskScheduledEventAttributes()
			if nt, ok := registry.Lookup(a.GetActivityType().GetName()); !ok || nt.Kind != interpreter.KindIO {
				continue
			}
			var nr interpreter.NodeRequest
			if err := decode(dc, a.GetInput(), &nr); err != nil {
				return tc, fmt.Errorf("input of activity %s: %w", a.GetActivityId(), err)
			}
			scheduled[ev.GetEventId()] = nr.Node.ID
		case ev.GetActivityTaskStartedEventAttributes() != nil:
			a := ev.GetActivityTaskStartedEventAttributes()
			started[a.GetScheduledEventId()] = a
		case ev.GetActivityTaskCompletedEventAttributes() != nil:
			a := ev.GetActivityTaskCompletedEventAttributes()
			id, ok := scheduled[a.GetScheduledEventId()]
			if !ok {
				continue
			}
			var res interpreter.NodeResult
			if err := decode(dc, a.GetResult(), &res); err != nil {
				return tc, fmt.Errorf("result of node %s: %w", id, err)
			}
			req.Mocks[id] = withRetries(started[a.GetScheduledEventId()], Attempt{Output: res.Output})
		case ev.GetActivityTaskFailedEventAttributes() != nil:
			a := ev.GetActivityTaskFailedEventAttributes()
			if id, ok := scheduled[a.GetScheduledEventId()]; ok {
				req.Mocks[id] = withRetries(started[a.GetScheduledEventId()], Attempt{Error: mockError(a.GetFailure())})
			}
		case ev.GetActivityTaskTimedOutEventAttributes() != nil:
			a := ev.GetActivityTaskTimedOutEventAttributes()
			if id, ok := scheduled[a.GetScheduledEventId()]; ok {
				req.Mocks[id] = withRetries(started[a.GetScheduledEventId()], Attempt{Error: mockError(a.GetFailure())})
			}
		case ev.GetWorkflowExecutionCompletedEventAttributes() != nil:
			var out json.RawMessage
			if err := decode(dc, ev.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &out); err != nil {
				return tc, fmt.Errorf("execution result: %w", err)
			}
			tc.Expect = &Expect{Status: StatusCompleted, Output: out}
		case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
			tc.Expect = &Expect{Status: StatusFailed, Error: expectedError(dc, ev.GetWorkflowExecutionFailedEventAttributes().GetFailure())}
		case ev.GetWorkflowExecutionSignaledEventAttributes() != nil:
			a := ev.GetWorkflowExecutionSignaledEventAttributes()
			var payload any
			if err := decode(dc, a.GetInput(), &payload); err != nil {
				return tc, fmt.Errorf("signal %s: %w", a.GetSignalName(), err)
			}
			signals[a.GetSignalName()] = append(signals[a.GetSignalName()], payload)
		}
	}
	if req.ID == "" {
		return tc, fmt.Errorf("the history has no start event")
	}
	for _, n := range def.Nodes {
		nt, _ := registry.Lookup(n.Type)
		switch {
		case nt.Kind == interpreter.KindIO:
			if _, ran := req.Mocks[n.ID]; !ran {
				req.Mocks[n.ID] = Mock{{Error: &MockError{Type: NotRunError,
					Message: fmt.Sprintf("node %s did not run in execution %s: this run left its path", n.ID, executionID)}}}
			}
		case n.Type == interpreter.WaitNodeType && signalOf(n) != "":
			// Signal waits take the signals of their name in definition order.
			if ps := signals[signalOf(n)]; len(ps) > 0 {
				req.Mocks[n.ID] = Mock{{Output: ps[0]}}
				signals[signalOf(n)] = slices.Delete(ps, 0, 1)
			}
		}
	}
	return tc, nil
}

// expectedError is what a case expects of the error an execution failed
// with: its type and code, and the HTTP status a fail node declared.
func expectedError(dc converter.DataConverter, f *failurepb.Failure) map[string]any {
	var ee interpreter.ExecutionError
	if details := f.GetApplicationFailureInfo().GetDetails(); details != nil {
		_ = decode(dc, details, &ee)
	}
	out := map[string]any{"type": ee.Type, "code": ee.Code}
	if ee.Type == "" {
		out = map[string]any{"type": cmp.Or(f.GetApplicationFailureInfo().GetType(), "Error")}
	}
	if ee.Status != 0 {
		out["status"] = ee.Status
	}
	return out
}

// RedactedSecret replaces, in a test case's input, every string field
// whose name says it holds a secret (password, secret): the test case is
// an API response, and passwords never leave the history in plain text.
// It has a letter and a digit and fits the usual length rules, so a
// recorded run that passed a password check still passes it.
const RedactedSecret = "Redacted-secret-1"

// redact returns v with the string values of secret-named fields, at any
// depth, replaced by RedactedSecret.
func redact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			name := strings.ToLower(k)
			if _, isString := val.(string); isString && (strings.Contains(name, "password") || strings.Contains(name, "secret")) {
				out[k] = RedactedSecret
				continue
			}
			out[k] = redact(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = redact(val)
		}
		return out
	}
	return v
}

// withRetries puts before the last attempt's answer one retryable error
// per earlier attempt: the last failure Temporal recorded before it.
func withRetries(st *historypb.ActivityTaskStartedEventAttributes, last Attempt) Mock {
	var m Mock
	if st != nil && st.GetAttempt() > 1 {
		prev := mockError(st.GetLastFailure())
		prev.Retryable = true
		for range st.GetAttempt() - 1 {
			m = append(m, Attempt{Error: prev})
		}
	}
	return append(m, last)
}

// mockError reads an activity failure: the application error's type (or
// Timeout, Canceled) and its innermost message, as errors.<id> shows them.
func mockError(f *failurepb.Failure) *MockError {
	e := &MockError{Type: "Error", Message: f.GetMessage()}
	switch {
	case f.GetApplicationFailureInfo() != nil:
		if t := f.GetApplicationFailureInfo().GetType(); t != "" {
			e.Type = t
		}
		e.Retryable = !f.GetApplicationFailureInfo().GetNonRetryable()
	case f.GetTimeoutFailureInfo() != nil:
		e.Type = "Timeout"
	case f.GetCanceledFailureInfo() != nil:
		e.Type = "Canceled"
	}
	for c := f.GetCause(); c != nil; c = c.GetCause() {
		e.Message = c.GetMessage()
	}
	return e
}

func decode(dc converter.DataConverter, ps *commonpb.Payloads, v any) error {
	if len(ps.GetPayloads()) == 0 {
		return nil
	}
	// Through json.RawMessage: outputs then decode as the workers see them.
	var raw json.RawMessage
	if err := dc.FromPayload(ps.GetPayloads()[0], &raw); err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
