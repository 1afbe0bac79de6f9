package interpreter_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// A graph with two branches: a completes, b fails (after a wait, so a
// has completed by then) and the run ends, so c, after b, is skipped
// by the end of the run, while d, on a's dead path, is skipped for good.
const redriveDoc = `{"id": "redrive", "version": "1", "startNode": "start",
	"nodes": [
		{"id": "start", "type": "transform", "config": {"mapping": {"ok": "true"}}},
		{"id": "a", "type": "transform", "config": {"mapping": {"v": "input.n * 2"}}},
		{"id": "d", "type": "transform", "config": {"mapping": {"never": "true"}}},
		{"id": "nap", "type": "wait", "config": {"duration": "10s"}},
		{"id": "b", "type": "validation", "config": {"rules": [{"field": "email", "operator": "email"}]}},
		{"id": "c", "type": "transform", "config": {"mapping": {"sum": "nodes.a.v + 1"}}}
	],
	"edges": [
		{"source": "start", "target": "a"}, {"source": "start", "target": "nap"},
		{"source": "a", "target": "d", "condition": "false"},
		{"source": "nap", "target": "b"}, {"source": "b", "target": "c"}
	]}`

// endState runs the harness's workflow to its end and returns what the
// SnapshotQuery answers on it.
func endState(t *testing.T, h *harness, input any) interpreter.ExecutionInput {
	t.Helper()
	h.run(input)
	v, err := h.env.QueryWorkflow(interpreter.SnapshotQuery)
	if err != nil {
		t.Fatal(err)
	}
	var in interpreter.ExecutionInput
	if err := v.Get(&in); err != nil {
		t.Fatal(err)
	}
	if in.Resume == nil {
		t.Fatal("the snapshot query answered no state")
	}
	return in
}

// startedNodes records the ids of the nodes whose activity (local or
// not) env starts.
func startedNodes(h *harness) *[]string {
	var ids []string
	h.env.SetOnLocalActivityStartedListener(func(_ *activity.Info, _ context.Context, args []any) {
		if req, ok := args[0].(interpreter.NodeRequest); ok {
			ids = append(ids, req.Node.ID)
		}
	})
	h.env.SetOnActivityStartedListener(func(_ *activity.Info, _ context.Context, args converter.EncodedValues) {
		var req interpreter.NodeRequest
		if args.Get(&req) == nil && req.Node.ID != "" {
			ids = append(ids, req.Node.ID)
		}
	})
	return &ids
}

// A redrive runs the failed node and what follows it, never the completed
// parallel branch, and the redriven run's output reads the completed
// node's recorded output.
func TestRedriveRunsOnlyTheFailedBranch(t *testing.T) {
	h := newHarness(t, redriveDoc)
	in := endState(t, h, map[string]any{"n": 20, "email": "nope"})
	if f := h.failure(); f.NodeID != "b" {
		t.Fatalf("the first run failed at %q, want b", f.NodeID)
	}
	snap, err := interpreter.RedriveSnapshot(&in.Definition, in.Resume)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"start": "completed", "a": "completed", "d": "skipped", "nap": "completed", "b": "pending", "c": "pending"}
	for _, n := range snap.Nodes {
		if n.Status != want[n.ID] {
			t.Errorf("node %s in the redrive snapshot: %q, want %q", n.ID, n.Status, want[n.ID])
		}
	}

	// The fix: the input the failed node validates (a redrive keeps the
	// input; here the test gives b something valid).
	in.Input = map[string]any{"n": 20, "email": "x@example.com"}
	in.Resume = snap
	h.env = h.newEnv()
	started := startedNodes(h)
	h.env.ExecuteWorkflow(interpreter.WorkflowName, in)
	out := h.output()
	c, _ := out["c"].(map[string]any)
	if c["sum"] != 41.0 && c["sum"] != int64(41) {
		t.Errorf("output %v: c must read a's recorded output (40)", out)
	}
	if !slices.Equal(*started, []string{"b", "c"}) {
		t.Errorf("the redriven run started %v, want only [b c]", *started)
	}
	h.wantStatus(map[string]string{"a": "completed", "d": "skipped", "b": "completed", "c": "completed"})
}

// A rerun from a node reuses what ran before it, on the same or another
// version; a version that lacks a reused node is refused with a reason.
func TestRerunFromNode(t *testing.T) {
	h := newHarness(t, redriveDoc)
	in := endState(t, h, map[string]any{"n": 1, "email": "x@example.com"})
	snap, problems := interpreter.RerunSnapshot(&in.Definition, in.Resume, &in.Definition, "a")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	in.Input = map[string]any{"n": 5, "email": "x@example.com"}
	in.Resume = snap
	h.env = h.newEnv()
	started := startedNodes(h)
	h.env.ExecuteWorkflow(interpreter.WorkflowName, in)
	out := h.output()
	if c, _ := out["c"].(map[string]any); c["sum"] != 3.0 && c["sum"] != int64(3) {
		t.Errorf("c = %v: it is not downstream of a, so it keeps its output (a was 2)", out["c"])
	}
	if !slices.Equal(*started, []string{"a"}) {
		t.Errorf("the rerun started %v, want only [a] (d is on a dead path again)", *started)
	}

	// Version 2 adds an audit branch the former run never ran: its
	// output cannot be reused for a rerun from c.
	v2 := in.Definition
	v2.Version = "2"
	v2.Nodes = append(slices.Clone(v2.Nodes), interpreter.Node{ID: "audit", Type: "transform"})
	v2.Edges = append(slices.Clone(v2.Edges), interpreter.Edge{ID: "start->audit", Source: "start", Target: "audit"})
	if _, problems := interpreter.RerunSnapshot(&in.Definition, in.Resume, &v2, "c"); len(problems) != 2 ||
		!strings.Contains(problems[0], `"audit"`) || !strings.Contains(problems[1], `"start->audit"`) {
		t.Errorf("rerun on a version with a node the former run lacks: problems %v", problems)
	}
	// d was on a dead path: its edge did not fire.
	if _, problems := interpreter.RerunSnapshot(&in.Definition, in.Resume, &in.Definition, "d"); len(problems) != 1 ||
		!strings.Contains(problems[0], "was not reached") {
		t.Errorf("rerun from a node the former run never reached: problems %v", problems)
	}
	if _, problems := interpreter.RerunSnapshot(&in.Definition, in.Resume, &in.Definition, "zz"); len(problems) != 1 {
		t.Errorf("rerun from an unknown node: problems %v", problems)
	}
}

// A run that failed at its start node is redriven as a fresh run.
func TestRedriveFromTheStartNodeIsAFreshRun(t *testing.T) {
	h := newHarness(t, `{"id": "first", "version": "1", "startNode": "b",
		"nodes": [{"id": "b", "type": "validation", "config": {"rules": [{"field": "email", "operator": "email"}]}}]}`)
	in := endState(t, h, map[string]any{"email": "nope"})
	snap, err := interpreter.RedriveSnapshot(&in.Definition, in.Resume)
	if err != nil || snap != nil {
		t.Errorf("redrive snapshot %+v, %v; want none (a fresh run)", snap, err)
	}
}
