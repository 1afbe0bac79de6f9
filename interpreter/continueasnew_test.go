package interpreter_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// runChain runs the harness's definition as Temporal would across
// continue-as-new: each time a run continues as new, a fresh test
// environment runs the next run with the input it continued with, its clock
// at the instant the former run ended. setup prepares each run's
// environment (run counts from 1) before it starts. It returns the input of
// every run; h.env is the last run's environment.
func (h *harness) runChain(in interpreter.ExecutionInput, setup func(run int, env *testsuite.TestWorkflowEnvironment)) []interpreter.ExecutionInput {
	h.t.Helper()
	var inputs []interpreter.ExecutionInput
	for run := 1; ; run++ {
		if run > 1 {
			now := h.env.Now()
			h.env = h.newEnv()
			h.env.SetStartTime(now)
		}
		if setup != nil {
			setup(run, h.env)
		}
		inputs = append(inputs, in)
		h.env.ExecuteWorkflow(interpreter.WorkflowName, in)
		if !h.env.IsWorkflowCompleted() {
			h.t.Fatalf("run %d did not complete", run)
		}
		var can *workflow.ContinueAsNewError
		if !errors.As(h.env.GetWorkflowError(), &can) {
			return inputs
		}
		if can.WorkflowType.Name != interpreter.WorkflowName {
			h.t.Fatalf("run %d continued as %q", run, can.WorkflowType.Name)
		}
		in = interpreter.ExecutionInput{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
			h.t.Fatalf("run %d: the continue-as-new input: %v", run, err)
		}
		if in.Resume == nil {
			h.t.Fatalf("run %d continued as new without a snapshot", run)
		}
		if run == 10 {
			h.t.Fatal("the execution continued as new 10 times")
		}
	}
}

func (h *harness) input(v any) interpreter.ExecutionInput {
	return interpreter.ExecutionInput{Definition: h.def, Input: v, Reads: h.reads}
}

// snapshotOf returns node id's part of a run's snapshot.
func snapshotOf(t *testing.T, in interpreter.ExecutionInput, id string) interpreter.NodeSnapshot {
	t.Helper()
	for _, n := range in.Resume.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("node %s not in the snapshot", id)
	return interpreter.NodeSnapshot{}
}

// A wait node parked by the run's budget resumes to the same deadline in
// the next run; outputs that nothing still to run reads are dropped from
// the snapshot, those read are kept; execution.startedAt stays the first
// run's.
func TestWaitParkedAcrossContinueAsNew(t *testing.T) {
	h := newHarness(t, `{"id": "long", "version": "1", "startNode": "a",
		"output": {"v": "nodes.done.v", "started": "nodes.done.started"},
		"nodes": [
			{"id": "a", "type": "transform", "config": {"mapping": {"v": "input.n + 1"}}},
			{"id": "big", "type": "transform", "config": {"mapping": {"blob": "'not read again'"}}},
			{"id": "long", "type": "wait", "config": {"duration": "2h"}},
			{"id": "tick", "type": "wait", "config": {"duration": "1h"}},
			{"id": "done", "type": "transform", "config": {"mapping": {"v": "nodes.a.v * 10", "started": "execution.startedAt"}}}
		],
		"edges": [
			{"source": "a", "target": "big"},
			{"source": "a", "target": "long"},
			{"source": "a", "target": "tick"},
			{"source": "long", "target": "done"}
		]}`)
	in := h.input(map[string]any{"n": 4})
	// Every boundary is over this budget.
	in.RunBudget = &interpreter.RunBudget{Events: 10}
	var start time.Time
	runs := h.runChain(in, func(run int, env *testsuite.TestWorkflowEnvironment) {
		if run == 1 {
			start = env.Now()
		}
		env.SetCurrentHistoryLength(20)
	})
	// Every boundary drains: run 1 after a (its branches are found ready
	// and left to run 2), run 2 after big (long and tick park), run 3 when
	// tick ends (long parks again), run 4 when long ends (done is left to
	// run 5), run 5 ends the execution.
	if len(runs) != 5 {
		t.Fatalf("%d runs, want 5", len(runs))
	}
	second := runs[1]
	if second.RunBudget == nil || second.RunBudget.Events != 10 || second.Resume.StartedAt.IsZero() {
		t.Errorf("the next run's input lost the budget or the start: %+v", second)
	}
	if len(second.Called) != len(in.Called) || second.Reads == nil {
		t.Errorf("the next run's input lost what the first carried")
	}
	if long := snapshotOf(t, second, "long"); long.Status != interpreter.StatusPending || long.Progress != nil {
		t.Errorf("long in the first snapshot: %+v, want found ready and not started", long)
	}
	long := snapshotOf(t, runs[2], "long")
	if long.Progress == nil || long.Status != interpreter.StatusRunning || long.StartedAt == nil {
		t.Errorf("long in the second snapshot: %+v, want parked", long)
	}
	if a := snapshotOf(t, runs[2], "a"); a.Output == nil || a.Status != interpreter.StatusCompleted {
		t.Errorf("a's output (read by done) was not carried: %+v", a)
	}
	if big := snapshotOf(t, runs[2], "big"); big.Output != nil || big.Status != interpreter.StatusCompleted {
		t.Errorf("big's output (read by nothing) was carried: %+v", big)
	}
	if tick := snapshotOf(t, runs[3], "tick"); tick.Status != interpreter.StatusCompleted {
		t.Errorf("tick in the third snapshot: %+v", tick)
	}
	if again := snapshotOf(t, runs[3], "long"); again.Progress == nil || !again.StartedAt.Equal(*long.StartedAt) {
		t.Errorf("long in the third snapshot: %+v, want parked again, started when it first started", again)
	}

	out := h.output()
	if out["v"] != float64(50) {
		t.Errorf("output %v", out)
	}
	if started, _ := time.Parse(time.RFC3339Nano, out["started"].(string)); !started.Equal(start) {
		t.Errorf("execution.startedAt %v, want the first run's start %v", out["started"], start)
	}
	if took := h.env.Now().Sub(start); took != 2*time.Hour {
		t.Errorf("the execution took %v, want the 2h of its longest wait", took)
	}
	states := h.states()
	for _, n := range h.def.Nodes {
		if states[n.ID].Status != interpreter.StatusCompleted {
			t.Errorf("node %s: %+v", n.ID, states[n.ID])
		}
	}
	if l := states["long"]; !l.StartedAt.Equal(start) || !l.FinishedAt.Equal(start.Add(2*time.Hour)) {
		t.Errorf("long ran %v – %v, want from the start for 2h", l.StartedAt, l.FinishedAt)
	}
}

// Under the budget, or when Temporal does not suggest it, a run never
// continues as new.
func TestNoContinueAsNewUnderTheBudget(t *testing.T) {
	h := newHarness(t, `{"id": "short", "version": "1", "startNode": "a",
		"nodes": [
			{"id": "a", "type": "wait", "config": {"duration": "1m"}},
			{"id": "b", "type": "wait", "config": {"duration": "1m"}}
		],
		"edges": [{"source": "a", "target": "b"}]}`)
	in := h.input(nil)
	in.RunBudget = &interpreter.RunBudget{Events: 100}
	runs := h.runChain(in, func(_ int, env *testsuite.TestWorkflowEnvironment) { env.SetCurrentHistoryLength(99) })
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	h.output()
}

// A signal that arrives before the wait node for it starts, and is still
// unread when the run continues as new, is carried to the next run and
// taken there.
func TestSignalAroundTheBoundaryIsNotLost(t *testing.T) {
	h := newHarness(t, `{"id": "sig", "version": "1", "startNode": "a",
		"nodes": [
			{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}},
			{"id": "t", "type": "wait", "config": {"duration": "1h"}},
			{"id": "s", "type": "wait", "config": {"signal": "go", "timeout": "24h"}},
			{"id": "p", "type": "wait", "config": {"duration": "30m"}}
		],
		"edges": [
			{"source": "a", "target": "t"},
			{"source": "t", "target": "s"},
			{"source": "a", "target": "p"}
		]}`)
	var start time.Time
	runs := h.runChain(h.input(nil), func(run int, env *testsuite.TestWorkflowEnvironment) {
		if run != 1 {
			return
		}
		start = env.Now()
		env.RegisterDelayedCallback(func() { env.SignalWorkflow("go", map[string]any{"n": 7}) }, 10*time.Minute)
		// p ends at 30m: the first boundary after Temporal suggests it.
		env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 20*time.Minute)
	})
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	carried := runs[1].Resume.Signals
	if len(carried) != 1 || carried[0].Name != "go" {
		t.Fatalf("carried signals %+v, want the go signal", carried)
	}
	out := h.output()
	if s, _ := out["s"].(map[string]any); s["n"] != float64(7) {
		t.Errorf("output %v: the signal's payload did not reach s", out)
	}
	if took := h.env.Now().Sub(start); took != time.Hour {
		t.Errorf("the execution took %v, want 1h (s took the carried signal at once)", took)
	}
	h.wantStatus(map[string]string{"t": interpreter.StatusCompleted, "s": interpreter.StatusCompleted, "p": interpreter.StatusCompleted})
}

// A signal wait parked with a timeout keeps its deadline: the timeout
// passes in the next run at the instant it would have.
func TestSignalTimeoutKeepsItsDeadline(t *testing.T) {
	h := newHarness(t, `{"id": "sigt", "version": "1", "startNode": "a",
		"nodes": [
			{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}},
			{"id": "s", "type": "wait", "config": {"signal": "go", "timeout": "2h"}},
			{"id": "late", "type": "transform", "config": {"mapping": {"late": "true"}}},
			{"id": "tick", "type": "wait", "config": {"duration": "30m"}}
		],
		"edges": [
			{"source": "a", "target": "s"},
			{"source": "s", "target": "late", "on": "timeout"},
			{"source": "a", "target": "tick"}
		]}`)
	var start time.Time
	runs := h.runChain(h.input(nil), func(run int, env *testsuite.TestWorkflowEnvironment) {
		if run == 1 {
			start = env.Now()
			// tick ends at 30m: the first boundary after this.
			env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 10*time.Minute)
		}
	})
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if s := snapshotOf(t, runs[1], "s"); s.Status != interpreter.StatusWaiting || s.Progress == nil {
		t.Errorf("s in the snapshot: %+v", s)
	}
	h.output()
	if took := h.env.Now().Sub(start); took != 2*time.Hour {
		t.Errorf("the timeout passed after %v, want 2h", took)
	}
	h.wantStatus(map[string]string{"s": interpreter.StatusCompleted, "late": interpreter.StatusCompleted})
}

// A cancel in a run that continues a former one still compensates: the
// parked wait resumes, is interrupted, its error edge fires and the refund
// reads the charge's output carried from the first run.
func TestCompensationAfterTheBoundary(t *testing.T) {
	h := newHarness(t, `{"id": "comp", "version": "1", "startNode": "charge",
		"nodes": [
			{"id": "charge", "type": "transform", "config": {"mapping": {"id": "'ch_' + string(input.n)"}}},
			{"id": "confirm", "type": "wait", "config": {"signal": "confirm"}},
			{"id": "refund", "type": "transform", "config": {"mapping": {"refunded": "nodes.charge.id"}}},
			{"id": "ship", "type": "transform", "config": {"mapping": {"shipped": "true"}}},
			{"id": "tick", "type": "wait", "config": {"duration": "1m"}}
		],
		"edges": [
			{"source": "charge", "target": "confirm"},
			{"source": "confirm", "target": "refund", "on": "error"},
			{"source": "confirm", "target": "ship"},
			{"source": "charge", "target": "tick"}
		]}`)
	runs := h.runChain(h.input(map[string]any{"n": 5}), func(run int, env *testsuite.TestWorkflowEnvironment) {
		switch run {
		case 1:
			env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 30*time.Second)
		case 2:
			env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 10*time.Minute)
		}
	})
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	var canceled *temporal.CanceledError
	if err := h.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("the execution ended with %v, want canceled", err)
	}
	h.wantStatus(map[string]string{
		"charge": interpreter.StatusCompleted, "tick": interpreter.StatusCompleted,
		"confirm": interpreter.StatusFailed, "refund": interpreter.StatusCompleted, "ship": interpreter.StatusSkipped,
	})
}

// respondAcrossDoc answers, then waits past a boundary; tick makes the
// boundary while slow waits.
const respondAcrossDoc = `{"id": "resp-can", "version": "1", "startNode": "make",
	"nodes": [
		{"id": "make", "type": "transform", "config": {"mapping": {"v": "input.n * 2"}}},
		{"id": "answer", "type": "respond", "config": {"status": 201, "body": {"id": "nodes.make.v"}}},
		{"id": "slow", "type": "wait", "config": {"duration": "2h"}},
		{"id": "tick", "type": "wait", "config": {"duration": "1m"}},
		{"id": "after", "type": "transform", "config": {"mapping": {"done": "true"}}}
	],
	"edges": [
		{"source": "make", "target": "answer"},
		{"source": "answer", "target": "slow"},
		{"source": "answer", "target": "tick"},
		{"source": "slow", "target": "after"}
	]}`

// A response recorded before the boundary is still the answer of the
// ResponseQuery and of a ResponseUpdate in the next run.
func TestRespondAnsweredBeforeTheBoundaryStillReadable(t *testing.T) {
	h := newHarness(t, respondAcrossDoc)
	var first, second updateResult
	runs := h.runChain(h.input(map[string]any{"n": 21}), func(run int, env *testsuite.TestWorkflowEnvironment) {
		switch run {
		case 1:
			env.RegisterDelayedCallback(func() { env.UpdateWorkflow(interpreter.ResponseUpdate, "u1", first.callbacks(h)) }, 0)
			env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 30*time.Second)
		case 2:
			env.RegisterDelayedCallback(func() { env.UpdateWorkflow(interpreter.ResponseUpdate, "u2", second.callbacks(h)) }, time.Minute)
		}
	})
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if runs[1].Resume.Response == nil {
		t.Fatal("the snapshot carries no response")
	}
	for name, u := range map[string]*updateResult{"first run": &first, "second run": &second} {
		if !u.done || u.err != nil || !u.result.Responded || u.result.Response.Status != 201 || u.result.Response.Body["id"] != float64(42) {
			t.Errorf("update in the %s: %+v", name, u)
		}
	}
	v, err := h.env.QueryWorkflow(interpreter.ResponseQuery)
	if err != nil {
		t.Fatal(err)
	}
	var got *interpreter.Response
	if err := v.Get(&got); err != nil || got == nil || got.NodeID != "answer" {
		t.Fatalf("response query in the last run: %+v, %v", got, err)
	}
	h.wantStatus(map[string]string{"answer": interpreter.StatusCompleted, "after": interpreter.StatusCompleted})
}

// A ResponseUpdate waiting when the run continues as new before any
// respond node ran answers Continued: the caller asks the next run, whose
// respond node answers it.
func TestResponseUpdateAcrossTheBoundary(t *testing.T) {
	h := newHarness(t, `{"id": "resp-late", "version": "1", "startNode": "start",
		"nodes": [
			{"id": "start", "type": "transform", "config": {"mapping": {"v": "1"}}},
			{"id": "w", "type": "wait", "config": {"duration": "1h"}},
			{"id": "answer", "type": "respond", "config": {"status": 202}},
			{"id": "tick", "type": "wait", "config": {"duration": "1m"}}
		],
		"edges": [
			{"source": "start", "target": "w"},
			{"source": "w", "target": "answer"},
			{"source": "start", "target": "tick"}
		]}`)
	var first, second updateResult
	runs := h.runChain(h.input(nil), func(run int, env *testsuite.TestWorkflowEnvironment) {
		switch run {
		case 1:
			env.RegisterDelayedCallback(func() { env.UpdateWorkflow(interpreter.ResponseUpdate, "u1", first.callbacks(h)) }, 0)
			env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 30*time.Second)
		case 2:
			env.RegisterDelayedCallback(func() { env.UpdateWorkflow(interpreter.ResponseUpdate, "u2", second.callbacks(h)) }, 0)
		}
	})
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if !first.done || first.err != nil || first.result.Responded || !first.result.Continued {
		t.Errorf("update in the first run: %+v, want continued", first)
	}
	if !second.done || second.err != nil || !second.result.Responded || second.result.Response.Status != 202 {
		t.Errorf("update in the second run: %+v", second)
	}
	h.output()
}

// A cancel while the run drains (here: waiting for a call node's child)
// abandons the drain: the parked wait resumes in the same run, is
// interrupted and its error edge compensates; the run never continues as
// new.
func TestCancelDuringTheDrainCompensatesInTheSameRun(t *testing.T) {
	h := newHarness(t, `{"id": "drain-cancel", "version": "1", "startNode": "start",
		"nodes": [
			{"id": "start", "type": "transform", "config": {"mapping": {"v": "1"}}},
			{"id": "child", "type": "call", "config": {"definition": "slow", "version": "1.0.0"}},
			{"id": "hold", "type": "wait", "config": {"signal": "go"}},
			{"id": "undo", "type": "transform", "config": {"mapping": {"undone": "nodes.start.v"}}},
			{"id": "tick", "type": "wait", "config": {"duration": "1m"}}
		],
		"edges": [
			{"source": "start", "target": "child"},
			{"source": "start", "target": "hold"},
			{"source": "hold", "target": "undo", "on": "error"},
			{"source": "start", "target": "tick"}
		]}`)
	in := h.input(nil)
	in.Called = []interpreter.Definition{parseDef(t, calledWaits)}
	runs := h.runChain(in, func(_ int, env *testsuite.TestWorkflowEnvironment) {
		// tick ends at 1m: the drain parks hold and waits for the child
		// (1h); the cancel comes during that wait.
		env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 30*time.Second)
		env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 10*time.Minute)
	})
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1: a canceled run does not continue as new", len(runs))
	}
	var canceled *temporal.CanceledError
	if err := h.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("the execution ended with %v, want canceled", err)
	}
	h.wantStatus(map[string]string{
		"tick": interpreter.StatusCompleted, "hold": interpreter.StatusFailed,
		"undo": interpreter.StatusCompleted, "child": interpreter.StatusFailed,
	})
}
