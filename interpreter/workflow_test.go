package interpreter_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// These tests run the interpreter in the SDK's test environment with the
// real node activities: fast checks of the semantics. The api package runs
// the same shapes against a real Temporal server.

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	def interpreter.Definition
	// reads is what the API would send with the definition: every test
	// runs with each node given only what it reads.
	reads *interpreter.Reads
	// newEnv makes a test environment with the interpreter and the pure
	// node activities registered (one per run of an execution that
	// continues as new).
	newEnv func() *testsuite.TestWorkflowEnvironment
}

func newHarness(t *testing.T, doc string) *harness {
	t.Helper()
	reg, exprs := newRegistry(t)
	def, problems := interpreter.Parse([]byte(doc), reg, exprs)
	if len(problems) != 0 {
		t.Fatalf("definition problems: %+v", problems)
	}
	newEnv := func() *testsuite.TestWorkflowEnvironment {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestWorkflowEnvironment()
		interpreter.New(reg).Register(env)
		(&activities.Activities{Expr: exprs, MaxOutputBytes: 64 << 10}).RegisterPure(env)
		return env
	}
	reads, err := interpreter.PlanReads(&def, reg, exprs)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, env: newEnv(), def: def, reads: reads, newEnv: newEnv}
}

func (h *harness) run(input any) {
	h.env.ExecuteWorkflow(interpreter.WorkflowName, interpreter.ExecutionInput{Definition: h.def, Input: input, Reads: h.reads})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

func (h *harness) output() map[string]any {
	h.t.Helper()
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	var out map[string]any
	if err := h.env.GetWorkflowResult(&out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) failure() interpreter.ExecutionError {
	h.t.Helper()
	err := h.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		h.t.Fatalf("want an application error, got %v", err)
	}
	var e interpreter.ExecutionError
	if err := appErr.Details(&e); err != nil {
		h.t.Fatalf("error details: %v", err)
	}
	if appErr.Type() != e.Type {
		h.t.Errorf("error type %q differs from details type %q", appErr.Type(), e.Type)
	}
	return e
}

func (h *harness) states() map[string]interpreter.NodeState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(interpreter.NodesQuery)
	if err != nil {
		h.t.Fatal(err)
	}
	var list []interpreter.NodeState
	if err := v.Get(&list); err != nil {
		h.t.Fatal(err)
	}
	if len(list) != len(h.def.Nodes) {
		h.t.Fatalf("query returned %d nodes, want %d", len(list), len(h.def.Nodes))
	}
	m := map[string]interpreter.NodeState{}
	for i, s := range list {
		if s.ID != h.def.Nodes[i].ID {
			h.t.Errorf("node %d is %q, want definition order (%q)", i, s.ID, h.def.Nodes[i].ID)
		}
		m[s.ID] = s
	}
	return m
}

func (h *harness) wantStatus(want map[string]string) {
	h.t.Helper()
	states := h.states()
	for id, status := range want {
		if got := states[id].Status; got != status {
			h.t.Errorf("node %s: status %q, want %q (error %q)", id, got, status, states[id].Error)
		}
	}
}

func TestSequencePassesOutputsAlong(t *testing.T) {
	h := newHarness(t, `{"id": "seq", "version": "1", "startNode": "a",
		"nodes": [
			{"id": "a", "type": "transform", "config": {"mapping": {"doubled": "input.quantity * 2"}}},
			{"id": "b", "type": "transform", "config": {"mapping": {"total": "nodes.a.doubled * 0.5", "who": "execution.definitionId"}}}
		],
		"edges": [{"source": "a", "target": "b"}]}`)
	h.run(map[string]any{"quantity": 21})
	out := h.output()
	b, _ := out["b"].(map[string]any)
	if b["total"] != 21.0 || b["who"] != "seq" {
		t.Errorf("output = %v", out)
	}
	h.wantStatus(map[string]string{"a": "completed", "b": "completed"})
	if s := h.states()["a"]; s.Attempts != 1 || s.StartedAt == nil || s.FinishedAt == nil {
		t.Errorf("node a state = %+v", s)
	}
}

const ifElseJoin = `{"id": "branch", "version": "1", "startNode": "check",
	"output": {"path": "has(nodes.big) ? 'big' : 'small'", "joined": "nodes.join.done"},
	"nodes": [
		{"id": "check", "type": "condition", "config": {"expression": "input.amount >= 1000"}},
		{"id": "big", "type": "transform", "config": {"mapping": {"v": "input.amount * 0.9"}}},
		{"id": "small", "type": "transform", "config": {"mapping": {"v": "input.amount"}}},
		{"id": "join", "type": "transform", "config": {"mapping": {"done": "true"}}}
	],
	"edges": [
		{"source": "check", "target": "big", "on": "true"},
		{"source": "check", "target": "small", "on": "false"},
		{"source": "big", "target": "join"},
		{"source": "small", "target": "join"}
	]}`

func TestIfElseJoinDoesNotWaitForTheDeadBranch(t *testing.T) {
	for _, tc := range []struct {
		amount          float64
		path, ran, skip string
	}{
		{amount: 5000, path: "big", ran: "big", skip: "small"},
		{amount: 10, path: "small", ran: "small", skip: "big"},
	} {
		h := newHarness(t, ifElseJoin)
		h.run(map[string]any{"amount": tc.amount})
		out := h.output()
		if out["path"] != tc.path || out["joined"] != true {
			t.Errorf("amount %v: output = %v", tc.amount, out)
		}
		h.wantStatus(map[string]string{"check": "completed", tc.ran: "completed", tc.skip: "skipped", "join": "completed"})
	}
}

func TestParallelBranchesRunConcurrently(t *testing.T) {
	h := newHarness(t, `{"id": "fan", "version": "1", "startNode": "start",
		"nodes": [
			{"id": "start", "type": "transform", "config": {"mapping": {"ok": "true"}}},
			{"id": "w1", "type": "wait", "config": {"duration": "10s"}},
			{"id": "w2", "type": "wait", "config": {"duration": "10s"}},
			{"id": "w3", "type": "wait", "config": {"duration": "10s"}},
			{"id": "end", "type": "transform", "config": {"mapping": {"n": "size(nodes)"}}}
		],
		"edges": [
			{"source": "start", "target": "w1"}, {"source": "start", "target": "w2"}, {"source": "start", "target": "w3"},
			{"source": "w1", "target": "end"}, {"source": "w2", "target": "end"}, {"source": "w3", "target": "end"}
		]}`)
	started := h.env.Now()
	h.run(nil)
	out := h.output()
	end, _ := out["end"].(map[string]any)
	if end["n"] != int64(4) && end["n"] != 4.0 {
		t.Errorf("end saw %v completed nodes, want 4", end["n"])
	}
	// Three sequential 10s timers would take 30s of workflow time.
	if elapsed := h.env.Now().Sub(started); elapsed >= 20*time.Second {
		t.Errorf("branches took %v of workflow time: they ran one after another", elapsed)
	}
}

func TestErrorEdgeCatchesAFailedNode(t *testing.T) {
	h := newHarness(t, `{"id": "catch", "version": "1", "startNode": "check",
		"nodes": [
			{"id": "check", "type": "validation", "config": {"rules": [{"field": "email", "operator": "email"}]}},
			{"id": "next", "type": "transform", "config": {"mapping": {"x": "1"}}},
			{"id": "handle", "type": "transform", "config": {"mapping": {"kind": "errors.check.type"}}}
		],
		"edges": [
			{"source": "check", "target": "next"},
			{"source": "check", "target": "handle", "on": "error", "condition": "errors.check.type == 'ValidationError'"}
		]}`)
	h.run(map[string]any{"email": "not-an-email"})
	out := h.output()
	handle, _ := out["handle"].(map[string]any)
	if handle["kind"] != interpreter.ErrValidation {
		t.Errorf("output = %v", out)
	}
	h.wantStatus(map[string]string{"check": "failed", "next": "skipped", "handle": "completed"})
}

func TestUnhandledValidationFailureKeepsItsFields(t *testing.T) {
	h := newHarness(t, `{"id": "v", "version": "1", "startNode": "check",
		"nodes": [{"id": "check", "type": "validation", "config": {"rules": [
			{"field": "email", "operator": "email", "message": "Invalid email"},
			{"field": "age", "operator": "min", "value": 18}
		]}}], "edges": []}`)
	h.run(map[string]any{"email": "nope", "age": 3})
	e := h.failure()
	if e.Type != interpreter.ErrValidation || e.NodeID != "check" || len(e.Fields) != 2 {
		t.Fatalf("failure = %+v", e)
	}
	if e.Fields[0].Field != "email" || e.Fields[0].Message != "Invalid email" {
		t.Errorf("fields = %+v", e.Fields)
	}
}

func TestFailNodeEndsWithABusinessError(t *testing.T) {
	h := newHarness(t, `{"id": "f", "version": "1", "startNode": "exists",
		"nodes": [
			{"id": "exists", "type": "condition", "config": {"expression": "input.email == 'taken@example.com'"}},
			{"id": "conflict", "type": "fail", "config": {"status": 409, "code": "email_exists", "message": "Email already registered"}},
			{"id": "ok", "type": "transform", "config": {"mapping": {"ok": "true"}}}
		],
		"edges": [
			{"source": "exists", "target": "conflict", "on": "true"},
			{"source": "exists", "target": "ok", "on": "false"}
		]}`)
	h.run(map[string]any{"email": "taken@example.com"})
	e := h.failure()
	if e.Type != interpreter.ErrBusiness || e.Status != 409 || e.Code != "email_exists" || e.Message != "Email already registered" {
		t.Errorf("failure = %+v", e)
	}
	h.wantStatus(map[string]string{"conflict": "failed", "ok": "skipped"})
}

const signalWait = `{"id": "approval", "version": "1", "startNode": "ask",
	"nodes": [
		{"id": "ask", "type": "transform", "config": {"mapping": {"asked": "true"}}},
		{"id": "approval", "type": "wait", "config": {"signal": "approve", "timeout": "1h"}},
		{"id": "approved", "type": "transform", "config": {"mapping": {"by": "nodes.approval.by"}}},
		{"id": "expired", "type": "transform", "config": {"mapping": {"expired": "true"}}},
		{"id": "undo", "type": "transform", "config": {"mapping": {"undone": "errors.approval.type"}}}
	],
	"edges": [
		{"source": "ask", "target": "approval"},
		{"source": "approval", "target": "approved"},
		{"source": "approval", "target": "expired", "on": "timeout"},
		{"source": "approval", "target": "undo", "on": "error"}
	]}`

func TestSignalWait(t *testing.T) {
	t.Run("delivered while waiting", func(t *testing.T) {
		h := newHarness(t, signalWait)
		h.env.RegisterDelayedCallback(func() {
			h.wantStatus(map[string]string{"approval": "waiting", "approved": "pending"})
			h.env.SignalWorkflow("approve", map[string]any{"by": "ada"})
		}, 10*time.Minute)
		h.run(nil)
		approved, _ := h.output()["approved"].(map[string]any)
		if approved["by"] != "ada" {
			t.Errorf("approved = %v", approved)
		}
		h.wantStatus(map[string]string{"expired": "skipped", "undo": "skipped"})
	})
	t.Run("sent before the wait starts is buffered", func(t *testing.T) {
		h := newHarness(t, signalWait)
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow("approve", map[string]any{"by": "early"})
		}, 0)
		h.run(nil)
		approved, _ := h.output()["approved"].(map[string]any)
		if approved["by"] != "early" {
			t.Errorf("approved = %v", approved)
		}
	})
	t.Run("timeout edge", func(t *testing.T) {
		h := newHarness(t, signalWait)
		h.run(nil)
		if _, ok := h.output()["expired"]; !ok {
			t.Error("the timeout edge did not fire")
		}
		h.wantStatus(map[string]string{"approval": "completed", "approved": "skipped", "expired": "completed"})
	})
	t.Run("timeout without a timeout edge fails the node", func(t *testing.T) {
		h := newHarness(t, `{"id": "w", "version": "1", "startNode": "w",
			"nodes": [{"id": "w", "type": "wait", "config": {"signal": "go", "timeout": "1m"}}], "edges": []}`)
		h.run(nil)
		if e := h.failure(); e.Type != interpreter.ErrNodeFailed || e.NodeID != "w" {
			t.Errorf("failure = %+v", e)
		}
	})
}

func TestCancelRunsTheInterruptedNodesErrorEdges(t *testing.T) {
	h := newHarness(t, signalWait)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 5*time.Minute)
	h.run(nil)
	var canceled *temporal.CanceledError
	if err := h.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("want a canceled execution, got %v", err)
	}
	h.wantStatus(map[string]string{"approval": "failed", "undo": "completed", "approved": "skipped", "expired": "skipped"})
}

// After a cancel, an interrupted node's conditional error edge is decided
// by an activity that must still run, and compensation goes on past the
// node it reaches; other nodes are skipped.
func TestCancelDecidesConditionalErrorEdgesAndRunsDownstream(t *testing.T) {
	h := newHarness(t, `{"id": "undo", "version": "1", "startNode": "approval",
		"nodes": [
			{"id": "approval", "type": "wait", "config": {"signal": "approve"}},
			{"id": "proceed", "type": "transform", "config": {"mapping": {"x": "1"}}},
			{"id": "undo", "type": "transform", "config": {"mapping": {"kind": "errors.approval.type"}}},
			{"id": "other", "type": "transform", "config": {"mapping": {"x": "1"}}},
			{"id": "report", "type": "transform", "config": {"mapping": {"undone": "nodes.undo.kind"}}}
		],
		"edges": [
			{"source": "approval", "target": "proceed"},
			{"source": "approval", "target": "undo", "on": "error", "condition": "errors.approval.type == 'Canceled'"},
			{"source": "approval", "target": "other", "on": "error", "condition": "errors.approval.type != 'Canceled'"},
			{"source": "undo", "target": "report"}
		]}`)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Minute)
	h.run(nil)
	var canceled *temporal.CanceledError
	if err := h.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("want a canceled execution, got %v", err)
	}
	h.wantStatus(map[string]string{"approval": "failed", "proceed": "skipped", "undo": "completed",
		"other": "skipped", "report": "completed"})
}

func TestWaitUntil(t *testing.T) {
	h := newHarness(t, `{"id": "u", "version": "1", "startNode": "w",
		"nodes": [{"id": "w", "type": "wait", "config": {"until": "execution.startedAt + duration('90m')"}}], "edges": []}`)
	started := h.env.Now()
	h.run(nil)
	h.output()
	if elapsed := h.env.Now().Sub(started); elapsed < 90*time.Minute || elapsed > 91*time.Minute {
		t.Errorf("waited %v of workflow time, want 90m", elapsed)
	}
}

func TestExpressionErrorFailsTheExecutionNamingTheNode(t *testing.T) {
	h := newHarness(t, `{"id": "r", "version": "1", "startNode": "a",
		"nodes": [{"id": "a", "type": "transform", "config": {"mapping": {"x": "input.missing.field"}}}], "edges": []}`)
	h.run(map[string]any{})
	e := h.failure()
	if e.Type != interpreter.ErrNodeFailed || e.NodeID != "a" || e.NodeType != "transform" {
		t.Errorf("failure = %+v", e)
	}
}
