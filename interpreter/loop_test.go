package interpreter_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func loopDoc(loopConfig string) string {
	return `{"id": "looping", "version": "1", "startNode": "poll",
		"nodes": [
			{"id": "poll", "type": "loop", "config": ` + loopConfig + `},
			{"id": "after", "type": "transform", "config": {"mapping": {"n": "nodes.poll.iterations", "last": "nodes.poll.last"}}},
			{"id": "caught", "type": "transform", "config": {"mapping": {"type": "errors.poll.type", "message": "errors.poll.message"}}}
		],
		"edges": [
			{"source": "poll", "target": "after"},
			{"source": "poll", "target": "caught", "on": "error", "condition": "input.catch"}
		]}`
}

func TestLoopRunsANodeBodyUntilItsConditionHolds(t *testing.T) {
	h := newHarness(t, loopDoc(`{"maxIterations": 5, "until": "last.n >= input.stop",
		"body": {"node": {"type": "transform", "config": {"mapping": {"n": "iteration * 10", "had": "last == null ? 0 : last.n"}}}}}`))
	h.run(map[string]any{"stop": 30, "catch": false})
	after, _ := h.output()["after"].(map[string]any)
	last, _ := after["last"].(map[string]any)
	if after["n"] != 3.0 || last["n"] != 30.0 || last["had"] != 20.0 {
		t.Errorf("after = %v, want 3 iterations, last {n: 30, had: 20}", after)
	}
	h.wantStatus(map[string]string{"poll": "completed", "after": "completed", "caught": "skipped"})
}

func TestLoopWhoseUntilNeverHoldsFails(t *testing.T) {
	cfg := `{"maxIterations": 3, "until": "false", "body": {"node": {"type": "transform", "config": {"mapping": {"i": "iteration"}}}}}`
	h := newHarness(t, loopDoc(cfg))
	h.run(map[string]any{"catch": false})
	if f := h.failure(); f.NodeID != "poll" || f.Message == "" {
		t.Errorf("failure = %+v", f)
	}
	// An error edge catches it.
	h = newHarness(t, loopDoc(cfg))
	h.run(map[string]any{"catch": true})
	caught, _ := h.output()["caught"].(map[string]any)
	if caught["type"] != interpreter.ErrLoopExhausted || caught["message"] != `loop poll: until "false" still false after 3 iterations (maxIterations)` {
		t.Errorf("caught = %v", caught)
	}
}

func TestLoopDelaySleepsDurablyBetweenIterations(t *testing.T) {
	h := newHarness(t, loopDoc(`{"maxIterations": 10, "until": "iteration >= 3", "delay": "30s",
		"body": {"node": {"type": "transform", "config": {"mapping": {"i": "iteration"}}}}}`))
	began := h.env.Now()
	var timers int
	h.env.SetOnTimerFiredListener(func(string) { timers++ })
	h.run(map[string]any{"catch": false})
	if after, _ := h.output()["after"].(map[string]any); after["n"] != 3.0 {
		t.Errorf("after = %v", after)
	}
	// Two delays: between 1 and 2, and between 2 and 3; none after the last.
	if took := h.env.Now().Sub(began); timers != 2 || took < time.Minute || took >= 90*time.Second {
		t.Errorf("%d timers, %v of workflow time; want 2 timers, 1 minute", timers, took)
	}
}

func TestLoopRunsADefinitionBodyAsChildren(t *testing.T) {
	h := newHarness(t, loopDoc(`{"maxIterations": 5, "until": "last.value >= 6", "input": {"n": "iteration", "from": "execution.definitionId"},
		"body": {"definition": "double", "version": "1.0.0"}}`))
	var ids []string
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		ids = append(ids, info.WorkflowExecution.ID)
	})
	h.runCalling(map[string]any{"catch": false}, parseDef(t, calledDouble))
	after, _ := h.output()["after"].(map[string]any)
	if last, _ := after["last"].(map[string]any); after["n"] != 3.0 || last["value"] != 6.0 {
		t.Errorf("after = %v", after)
	}
	want := []string{"default-test-workflow-id.poll.1", "default-test-workflow-id.poll.2", "default-test-workflow-id.poll.3"}
	if len(ids) != 3 || ids[0] != want[0] || ids[2] != want[2] {
		t.Errorf("child ids %v, want %v", ids, want)
	}
}

func TestLoopConfigIsChecked(t *testing.T) {
	body := `"body": {"node": {"type": "transform", "config": {"mapping": {"a": "1"}}}}`
	for _, tc := range []struct{ config, path, code string }{
		{`{"until": "true", ` + body + `}`, "nodes[0].config.maxIterations", interpreter.CodeRequired},
		{`{"until": "true", "maxIterations": 10001, ` + body + `}`, "nodes[0].config.maxIterations", interpreter.CodeInvalidConfig},
		{`{"until": "true(", "maxIterations": 3, ` + body + `}`, "nodes[0].config.until", interpreter.CodeInvalidExpression},
		{`{"until": "true", "maxIterations": 3, "delay": "soon", ` + body + `}`, "nodes[0].config.delay", interpreter.CodeInvalidDuration},
		{`{"until": "true", "maxIterations": 3}`, "nodes[0].config.body", interpreter.CodeRequired},
		{`{"until": "true", "maxIterations": 3, "input": {"a": "1"}, ` + body + `}`, "nodes[0].config.input", interpreter.CodeInvalidConfig},
		{`{"until": "true", "maxIterations": 3, "body": {"node": {"type": "transform", "config": {"mapping": {"a": "nope("}}}}}`, "nodes[0].config.body.node.config.mapping.a", interpreter.CodeInvalidExpression},
		{`{"until": "true", "maxIterations": 3, "body": {"node": {"id": "x", "type": "transform"}}}`, "nodes[0].config", interpreter.CodeInvalidConfig},
		{`{"until": "true", "maxIterations": 3, "body": {"node": {"type": "wait", "config": {"duration": "1s"}}}}`, "nodes[0].config.body.node.type", interpreter.CodeInvalidConfig},
		{`{"until": "true", "maxIterations": 3, "body": {"node": {"type": "nope"}}}`, "nodes[0].config.body.node.type", interpreter.CodeUnknownNodeType},
		{`{"until": "true", "maxIterations": 3, "body": {"node": {"type": "transform", "execution": "sideways", "config": {"mapping": {"a": "1"}}}}}`, "nodes[0].config.body.node.execution", interpreter.CodeInvalidExecution},
		{`{"until": "true", "maxIterations": 3, "body": {"definition": "x", "node": {"type": "transform"}}}`, "nodes[0].config.body", interpreter.CodeInvalidConfig},
	} {
		wantProblem(t, `{"id": "l", "type": "loop", "config": `+tc.config+`}`, tc.path, tc.code)
	}
	wantProblem(t, `{"id": "l", "type": "loop", "retry": {"maximumAttempts": 2}, "config": {"until": "true", "maxIterations": 3, `+body+`}}`, "nodes[0]", interpreter.CodeInvalidConfig)
}

// wantProblem parses a one-node definition and wants a problem with code at path.
func wantProblem(t *testing.T, node, path, code string) {
	t.Helper()
	reg, exprs := newRegistry(t)
	_, problems := interpreter.Parse([]byte(`{"id": "p", "version": "1", "startNode": "l", "nodes": [`+node+`], "edges": []}`), reg, exprs)
	for _, p := range problems {
		if p.Path == path && p.Code == code {
			return
		}
	}
	t.Errorf("%s: problems %+v, want %s at %s", node, problems, code, path)
}

// A loop whose run is over its history budget parks at an iteration
// boundary and the next run resumes it where it was: every iteration runs
// once, in order, and the output is the uninterrupted loop's.
func TestLoopContinuesAsNewAtIterationBoundaries(t *testing.T) {
	h := newHarness(t, loopDoc(`{"maxIterations": 20, "until": "iteration >= 4",
		"body": {"node": {"type": "transform", "config": {"mapping": {"n": "iteration", "had": "last == null ? 0 : last.n"}}}}}`))
	in := h.input(map[string]any{"catch": false})
	in.RunBudget = &interpreter.RunBudget{Events: 10}
	runs := h.runChain(in, func(_ int, env *testsuite.TestWorkflowEnvironment) { env.SetCurrentHistoryLength(20) })
	if len(runs) < 4 {
		t.Fatalf("%d runs, want the loop spread over at least 4 (one iteration per run)", len(runs))
	}
	if p := snapshotOf(t, runs[1], "poll"); p.Progress == nil {
		t.Errorf("the loop was not parked with its progress: %+v", p)
	}
	after, _ := h.output()["after"].(map[string]any)
	last, _ := after["last"].(map[string]any)
	if after["n"] != 4.0 || last["n"] != 4.0 || last["had"] != 3.0 {
		t.Errorf("after = %v, want 4 iterations, last {n: 4, had: 3}", after)
	}
}
