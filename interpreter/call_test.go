package interpreter_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// parseDef parses a definition that must be valid.
func parseDef(t *testing.T, doc string) interpreter.Definition {
	t.Helper()
	reg, exprs := newRegistry(t)
	def, problems := interpreter.Parse([]byte(doc), reg, exprs)
	if len(problems) != 0 {
		t.Fatalf("definition problems: %+v", problems)
	}
	return def
}

const calledDouble = `{"id": "double", "version": "1.0.0", "startNode": "d",
	"output": {"value": "nodes.d.v", "parentSaw": "input.from"},
	"nodes": [{"id": "d", "type": "transform", "config": {"mapping": {"v": "input.n * 2"}}}],
	"edges": []}`

const calledFails = `{"id": "refuse", "version": "1.0.0", "startNode": "no",
	"nodes": [{"id": "no", "type": "fail", "config": {"status": 409, "code": "taken", "message": "already taken"}}],
	"edges": []}`

const calledWaits = `{"id": "slow", "version": "1.0.0", "startNode": "w",
	"nodes": [{"id": "w", "type": "wait", "config": {"duration": "1h"}}],
	"edges": []}`

func callingDoc(callee, version string) string {
	return `{"id": "caller", "version": "1", "startNode": "call",
		"nodes": [
			{"id": "call", "type": "call", "config": {"definition": "` + callee + `", "version": "` + version + `",
				"input": {"n": "input.n + 1", "from": "execution.definitionId"}}},
			{"id": "after", "type": "transform", "config": {"mapping": {"got": "nodes.call.value"}}},
			{"id": "caught", "type": "transform", "config": {"mapping": {"type": "errors.call.type", "message": "errors.call.message"}}}
		],
		"edges": [
			{"source": "call", "target": "after"},
			{"source": "call", "target": "caught", "on": "error", "condition": "input.catch"}
		]}`
}

func (h *harness) runCalling(input any, called ...interpreter.Definition) {
	h.env.ExecuteWorkflow(interpreter.WorkflowName, interpreter.ExecutionInput{Definition: h.def, Input: input, Reads: h.reads, Called: called})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

func TestCallRunsTheCalledDefinitionAsAChild(t *testing.T) {
	h := newHarness(t, callingDoc("double", "1.0.0"))
	var childID string
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childID = info.WorkflowExecution.ID
	})
	h.runCalling(map[string]any{"n": 20, "catch": false}, parseDef(t, calledDouble))
	out := h.output()
	after, _ := out["after"].(map[string]any)
	if after["got"] != 42.0 {
		t.Errorf("output = %v, want after.got 42", out)
	}
	if want := interpreter.CallChildID("default-test-workflow-id", "call"); childID != want {
		t.Errorf("child id %q, want %q", childID, want)
	}
	h.wantStatus(map[string]string{"call": "completed", "after": "completed", "caught": "skipped"})
}

func TestCallFailsWithTheChildsBusinessError(t *testing.T) {
	h := newHarness(t, callingDoc("refuse", "1.0.0"))
	h.runCalling(map[string]any{"n": 1, "catch": false}, parseDef(t, calledFails))
	f := h.failure()
	if f.Type != interpreter.ErrBusiness || f.Status != 409 || f.Code != "taken" || f.Message != "already taken" {
		t.Errorf("failure = %+v, want the child's business error", f)
	}
	h.wantStatus(map[string]string{"call": "failed", "after": "skipped", "caught": "skipped"})
}

func TestCallErrorEdgeCatchesTheChildsFailure(t *testing.T) {
	h := newHarness(t, callingDoc("refuse", "1.0.0"))
	h.runCalling(map[string]any{"n": 1, "catch": true}, parseDef(t, calledFails))
	out := h.output()
	caught, _ := out["caught"].(map[string]any)
	if caught["type"] != interpreter.ErrBusiness || caught["message"] != "already taken" {
		t.Errorf("output = %v, want the child's business error in errors.call", out)
	}
}

func TestCallOfADefinitionTheExecutionDoesNotCarryFails(t *testing.T) {
	h := newHarness(t, callingDoc("double", "2.0.0"))
	h.runCalling(map[string]any{"n": 1, "catch": false}, parseDef(t, calledDouble))
	if f := h.failure(); f.NodeID != "call" || f.Type != interpreter.ErrNodeFailed {
		t.Errorf("failure = %+v", f)
	}
}

func TestCancelingTheCallerCancelsTheChild(t *testing.T) {
	h := newHarness(t, callingDoc("slow", "1.0.0"))
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Minute)
	h.runCalling(map[string]any{"n": 1, "catch": false}, parseDef(t, calledWaits))
	var canceled *temporal.CanceledError
	if err := h.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("want a canceled execution, got %v", err)
	}
	if s := h.states()["call"]; s.Status != interpreter.StatusFailed {
		t.Errorf("call node = %+v, want failed (canceled)", s)
	}
}

func TestCallConfigIsChecked(t *testing.T) {
	reg, exprs := newRegistry(t)
	for _, tc := range []struct{ node, path, code string }{
		{`{"id": "c", "type": "call", "config": {}}`, "nodes[0].config.definition", interpreter.CodeRequired},
		{`{"id": "c", "type": "call", "config": {"definition": "x", "input": {"a": "nope("}}}`, "nodes[0].config.input.a", interpreter.CodeInvalidExpression},
		{`{"id": "c", "type": "call", "config": {"definition": "x", "other": 1}}`, "nodes[0].config", interpreter.CodeInvalidConfig},
		{`{"id": "c", "type": "call", "retry": {"maximumAttempts": 2}, "config": {"definition": "x"}}`, "nodes[0]", interpreter.CodeInvalidConfig},
		{`{"id": "c", "type": "call", "execution": "remote", "config": {"definition": "x"}}`, "nodes[0].execution", interpreter.CodeInvalidExecution},
	} {
		_, problems := interpreter.Parse([]byte(`{"id": "p", "version": "1", "startNode": "c", "nodes": [`+tc.node+`], "edges": []}`), reg, exprs)
		found := false
		for _, p := range problems {
			found = found || (p.Path == tc.path && p.Code == tc.code)
		}
		if !found {
			t.Errorf("%s: problems %+v, want %s at %s", tc.node, problems, tc.code, tc.path)
		}
	}
}

// The child's input is checked against the called definition's inputSchema,
// as the API checks an execute request's: a mismatch fails the call node
// with a ValidationError listing the fields.
func TestCallInputIsCheckedAgainstTheCalledSchema(t *testing.T) {
	callee := parseDef(t, `{"id": "double", "version": "1.0.0", "startNode": "d",
		"inputSchema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "number", "maximum": 10}}},
		"output": {"value": "nodes.d.v"},
		"nodes": [{"id": "d", "type": "transform", "config": {"mapping": {"v": "input.n * 2"}}}],
		"edges": []}`)
	h := newHarness(t, callingDoc("double", "1.0.0"))
	h.runCalling(map[string]any{"n": 20, "catch": false}, callee)
	f := h.failure()
	if f.Type != interpreter.ErrValidation || f.NodeID != "call" || len(f.Fields) != 1 || f.Fields[0].Field != "n" {
		t.Errorf("failure = %+v, want a validation error on n", f)
	}

	h = newHarness(t, callingDoc("double", "1.0.0"))
	h.runCalling(map[string]any{"n": 2, "catch": false}, callee)
	if after, _ := h.output()["after"].(map[string]any); after["got"] != 6.0 {
		t.Errorf("after = %v, want got 6", after)
	}
	h.wantStatus(map[string]string{"call": "completed", "after": "completed"})
}
