package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// executionFailedDetails is the one entry of execution_failed's details,
// and its "failure".
type executionFailedDetails struct {
	NodeID string `json:"nodeId"`
	Type   string `json:"type"`
}

// expectNodeFailure checks an execute that fails at node with errType and
// a message containing each of mention, and that it took under budget.
func expectNodeFailure(t *testing.T, r response, took time.Duration, node, errType string, mention ...string) {
	t.Helper()
	apitest.Expect(t, r, http.StatusUnprocessableEntity, "execution_failed")
	// details is a list, like every error's; its one entry is also the
	// error's "failure" (what details was before).
	var details []executionFailedDetails
	if err := json.Unmarshal(r.Body.Error.Details, &details); err != nil || len(details) != 1 {
		t.Fatalf("details %s: %v", r.Body.Error.Details, err)
	}
	var failure executionFailedDetails
	if err := json.Unmarshal(r.Body.Error.Failure, &failure); err != nil || failure != details[0] {
		t.Fatalf("failure %s is not the details' entry %+v (%v)", r.Body.Error.Failure, details[0], err)
	}
	if d := details[0]; d.NodeID != node {
		t.Errorf("failed node %q, want %q: %s", d.NodeID, node, r.Raw)
	}
	for _, m := range mention {
		if !strings.Contains(r.Body.Error.Message, m) {
			t.Errorf("message %q does not mention %q", r.Body.Error.Message, m)
		}
	}
	if took > 5*time.Second {
		t.Errorf("took %s: the bomb was not aborted quickly", took)
	}
	v := getExecution(t, r.Body.Error.ExecutionID)
	if n := nodeByID(t, v, node); n.Status != interpreter.StatusFailed || n.Attempts != 1 || n.Error == "" {
		t.Errorf("node %+v, want failed once (not retried) with an error", n)
	}
	// The failure's cause chain in the history carries the error type.
	if types := failureTypes(t, r.Body.Error.ExecutionID, r.Body.Error.RunID); !slices.Contains(types, errType) {
		t.Errorf("failure types %v, want %s among them", types, errType)
	}
}

// failureTypes lists the application error types recorded in the
// execution's history: of its (local) activities' failures and its own.
func failureTypes(t *testing.T, id, runID string) []string {
	t.Helper()
	var types []string
	for _, ev := range history(t, id, runID).GetEvents() {
		var f *failurepb.Failure
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
			f = ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			f = ev.GetActivityTaskFailedEventAttributes().GetFailure()
		case enumspb.EVENT_TYPE_MARKER_RECORDED: // local activities
			f = ev.GetMarkerRecordedEventAttributes().GetFailure()
		}
		for ; f != nil; f = f.GetCause() {
			if info := f.GetApplicationFailureInfo(); info != nil {
				types = append(types, info.GetType())
			}
		}
	}
	return types
}

// Expression bombs: too big or too deep is refused at registration (400
// with the problem's path); too costly is aborted at run time by the cost
// limit, quickly, failing the node with ExpressionError.
func TestExpressionBombs(t *testing.T) {
	// Registration.
	deep := strings.Repeat("[", 150) + "1" + strings.Repeat("]", 150)
	long := "input.a" + strings.Repeat(" + input.a", 1000)
	for name, src := range map[string]string{"deep": deep, "long": long} {
		id := uniqueID("t-bomb-" + name)
		r := call(t, http.MethodPost, "/api/workflows", apitest.Definition(id, "1", "a",
			[]map[string]any{apitest.Transform("a", map[string]string{"x": src})}, nil))
		apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
		if !strings.Contains(string(r.Body.Error.Details), "nodes[0].config.mapping.x") {
			t.Errorf("%s: details %s do not name the expression", name, r.Body.Error.Details)
		}
	}

	// Run time: nested comprehensions (100³ iterations) and a string
	// doubled in a comprehension (10⁴ concatenations of 2 kB).
	list := make([]int, 100)
	for i := range list {
		list[i] = i
	}
	input := map[string]any{"list": list, "s": strings.Repeat("x", 1000)}
	for name, src := range map[string]string{
		"comprehensions": "input.list.map(a, input.list.map(b, input.list.map(c, a + b + c))).size()",
		"string repeat":  "input.list.map(a, input.list.map(b, input.s + input.s)).size()",
	} {
		t.Run(name, func(t *testing.T) {
			id := uniqueID("t-bomb")
			register(t, apitest.Definition(id, "1", "bomb", []map[string]any{apitest.Transform("bomb", map[string]string{"x": src})}, nil), http.StatusCreated)
			start := time.Now()
			r := execute(t, id, "?wait=20s", map[string]any{"input": input})
			expectNodeFailure(t, r, time.Since(start), "bomb", interpreter.ErrExpression, "cost limit exceeded")
		})
	}
}

// A node whose output exceeds the cap (256 KiB in these tests) fails with
// PayloadTooLarge instead of writing it into the history.
func TestNodeOutputCap(t *testing.T) {
	id := uniqueID("t-output-cap")
	// 40 kB of input tripled into 8 fields: ~1 MB of output.
	mapping := map[string]string{}
	for _, f := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		mapping[f] = "input.s + input.s + input.s"
	}
	register(t, apitest.Definition(id, "1", "big", []map[string]any{apitest.Transform("big", mapping)}, nil), http.StatusCreated)
	start := time.Now()
	r := execute(t, id, "?wait=20s", map[string]any{"input": map[string]any{"s": strings.Repeat("y", 40_000)}})
	expectNodeFailure(t, r, time.Since(start), "big", interpreter.ErrPayloadTooBig, "limit")
	if strings.Contains(string(r.Raw), "yyyy") {
		t.Errorf("the error carries the output: %.300s", r.Raw)
	}
	for _, ev := range history(t, r.Body.Error.ExecutionID, r.Body.Error.RunID).GetEvents() {
		if ev.Size() > 200_000 {
			t.Fatalf("history event %d (%s) is %d bytes", ev.GetEventId(), ev.GetEventType(), ev.Size())
		}
	}
}
