package testmode_test

import (
	"encoding/json"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

func payloads(t *testing.T, v any) *commonpb.Payloads {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func event(id int64, typ enumspb.EventType) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{EventId: id, EventType: typ}
}

// A history's I/O node that failed twice before it succeeded becomes two
// retryable error mocks and its output; a node it never ran gets the
// not-run error; a password in the input is redacted; the outcome is the
// expect.
func TestFromHistory(t *testing.T) {
	e := newEngine(t)
	def, problems := e.Parse([]byte(chargeFlow))
	if problems != nil {
		t.Fatal(problems)
	}
	started := event(1, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
	started.Attributes = &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
		Input: payloads(t, interpreter.ExecutionInput{Definition: def, Input: map[string]any{"amount": 5, "card": map[string]any{"password": "hunter22"}}}),
	}}
	scheduled := event(5, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
	scheduled.Attributes = &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
		ActivityId: "charge", ActivityType: &commonpb.ActivityType{Name: "external_service"},
		Input: payloads(t, interpreter.NodeRequest{Node: def.Nodes[1]}),
	}}
	attempt := event(6, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED)
	attempt.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
		ScheduledEventId: 5, Attempt: 3,
		LastFailure: &failurepb.Failure{Message: "Stripe answered 503", FailureInfo: &failurepb.Failure_ApplicationFailureInfo{
			ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "ProviderUnavailable"}}},
	}}
	completed := event(7, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
	completed.Attributes = &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{
		ScheduledEventId: 5, Result: payloads(t, interpreter.NodeResult{Output: map[string]any{"paymentIntentId": "pi_9"}}),
	}}
	done := event(9, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
	done.Attributes = &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{
		Result: payloads(t, map[string]any{"paid": "pi_9", "note": ""}),
	}}

	tc, err := testmode.FromHistory("pay-1", &historypb.History{Events: []*historypb.HistoryEvent{started, scheduled, attempt, completed, done}}, e.Registry)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(tc)
	want := `{"id":"pay","version":"1","input":{"amount":5,"card":{"password":"Redacted-secret-1"}},"mocks":{` +
		`"charge":[{"error":{"type":"ProviderUnavailable","message":"Stripe answered 503","retryable":true}},` +
		`{"error":{"type":"ProviderUnavailable","message":"Stripe answered 503","retryable":true}},{"output":{"paymentIntentId":"pi_9"}}],` +
		`"receipt":{"error":{"type":"NotRunInRecordedExecution","message":"node receipt did not run in execution pay-1: this run left its path"}}},` +
		`"expect":{"status":"completed","output":{"note":"","paid":"pi_9"}}}`
	if string(got) != want {
		t.Errorf("test case\n%s\nwant\n%s", got, want)
	}

	// It runs: the charge succeeds at its third attempt, then the run
	// reaches the receipt, which this history never ran, and says so.
	res, problems, err := e.Execute(t.Context(), testmode.Run{Definition: def, Input: tc.Input, Mocks: tc.Mocks})
	if err != nil || problems != nil {
		t.Fatal(err, problems)
	}
	m := tc.Expect.Mismatches(res)
	if len(m) != 2 || !strings.Contains(m[0], "status is failed, want completed") || !strings.Contains(m[0], "node receipt did not run in execution pay-1") {
		t.Errorf("mismatches %q", m)
	}
	if n := node(t, res, "charge"); n.Attempts != 3 {
		t.Errorf("charge %+v", n)
	}
}
