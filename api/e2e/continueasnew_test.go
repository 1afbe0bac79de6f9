package e2e

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/api"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// budgetAPI serves an API that starts every execution with runBudget,
// over the package's Temporal, store and workers.
func budgetAPI(t *testing.T, runBudget *interpreter.RunBudget) string {
	t.Helper()
	s, err := api.New(api.Options{
		Client: env.client, PayloadCodec: env.codec, Store: env.store, Registry: env.registry, Exprs: env.exprs,
		TaskQueue: testTaskQueue, Namespace: testNamespace, EagerStart: true, Logger: env.logger,
		RunBudget: runBudget,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// runsOf follows an execution's runs from its first one through their
// close events and returns their ids, first to last. Call it once the
// execution has closed: the close event of a running run is not there.
func runsOf(t *testing.T, id, firstRunID string) []string {
	t.Helper()
	runs := []string{firstRunID}
	for {
		iter := env.client.GetWorkflowHistory(t.Context(), id, runs[len(runs)-1], false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		if !iter.HasNext() {
			return runs // the current run, still open
		}
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		next := ev.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		if next == "" {
			return runs
		}
		runs = append(runs, next)
	}
}

// An execution that waits for four daily-style signals, with a budget so
// small that every node boundary continues as new: it spans several runs
// under one execution id, loses none of the signals (two of them sent
// back to back, around boundaries), the synchronous execute gets its final
// output, and GET /api/executions/{id} shows the whole execution.
func TestContinueAsNewThroughREST(t *testing.T) {
	base := budgetAPI(t, &interpreter.RunBudget{Events: 1})
	id := uniqueID("t-daily")
	day := func(node string) map[string]any {
		return apitest.Node(node, "wait", map[string]any{"signal": "day", "timeout": "5m"})
	}
	def := apitest.Definition(id, "1.0.0", "prep", []map[string]any{
		apitest.Transform("prep", map[string]string{"customer": "input.customer"}),
		day("day1"),
		apitest.Node("nap", "wait", map[string]any{"duration": "1s"}),
		day("day2"), day("day3"), day("day4"),
		apitest.Transform("total", map[string]string{"sum": "nodes.day1.amount + nodes.day2.amount + nodes.day3.amount + nodes.day4.amount"}),
	}, []map[string]any{
		apitest.Edge("prep", "day1"), apitest.Edge("day1", "nap"), apitest.Edge("nap", "day2"),
		apitest.Edge("day2", "day3"), apitest.Edge("day3", "day4"), apitest.Edge("day4", "total"),
	})
	// The output reads prep, day1 and day4, which ran in earlier runs.
	def["output"] = map[string]string{"sum": "nodes.total.sum", "customer": "nodes.prep.customer", "first": "nodes.day1.amount", "last": "nodes.day4.amount"}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def), http.StatusCreated, "")

	// The synchronous execute waits for the whole execution, across runs.
	executed := make(chan response, 1)
	go func() {
		executed <- callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute?wait=60s", map[string]any{"input": map[string]any{"customer": "acme"}})
	}()
	listed := poll(t, "the execution in the list", func() []executionView {
		r := callAt(t, base, http.MethodGet, "/api/executions?definitionId="+id, nil)
		var d struct {
			Executions []executionView `json:"executions"`
		}
		r.DecodeData(t, &d)
		return d.Executions
	}, func(l []executionView) bool { return len(l) > 0 })
	execID := listed[0].ExecutionID

	signal := func(amount int) {
		t.Helper()
		r := callAt(t, base, http.MethodPost, "/api/executions/"+execID+"/signals/day", map[string]any{"amount": amount})
		apitest.Expect(t, r, http.StatusAccepted, "")
	}
	waitingAt := func(node string) {
		t.Helper()
		waitFor(t, execID, func(v executionView) bool {
			for _, n := range v.Nodes {
				if n.ID == node {
					return n.Status == interpreter.StatusWaiting
				}
			}
			return false
		})
	}
	waitingAt("day1")
	signal(1)
	// Sent while day1's run hands over and nap sleeps: day2 takes it.
	signal(2)
	waitingAt("day3")
	// Back to back: the second arrives while the run day3 ended drains.
	signal(3)
	signal(4)

	var r response
	select {
	case r = <-executed:
	case <-time.After(90 * time.Second):
		t.Fatal("the synchronous execute did not answer")
	}
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)
	if res.ExecutionID != execID || res.Status != "completed" {
		t.Fatalf("execute answered %s", r.Raw)
	}
	apitest.JSONEqual(t, res.Output, map[string]any{"sum": 10, "customer": "acme", "first": 1, "last": 4})

	runs := runsOf(t, execID, res.RunID)
	if len(runs) < 4 {
		t.Fatalf("the execution ran in %d runs, want one per boundary (at least 4)", len(runs))
	}
	v := getExecution(t, execID)
	if v.Status != "completed" || v.RunID != runs[len(runs)-1] || v.NodesError != "" {
		t.Fatalf("GET: status %q, run %s (runs %v), nodesError %q", v.Status, v.RunID, runs, v.NodesError)
	}
	apitest.JSONEqual(t, v.Output, map[string]any{"sum": 10, "customer": "acme", "first": 1, "last": 4})
	if len(v.Nodes) != 7 {
		t.Fatalf("GET shows %d nodes, want 7", len(v.Nodes))
	}
	for _, n := range v.Nodes {
		if n.Status != interpreter.StatusCompleted || n.StartedAt == nil || n.FinishedAt == nil {
			t.Errorf("node %+v", n)
		}
		if n.StartedAt != nil && n.StartedAt.Before(v.StartedAt) {
			t.Errorf("node %s started at %v, before the execution's start %v", n.ID, n.StartedAt, v.StartedAt)
		}
	}
	if first := nodeByID(t, v, "prep"); first.StartedAt.Sub(v.StartedAt) > 5*time.Second {
		t.Errorf("startedAt %v is not the first run's (prep started at %v)", v.StartedAt, first.StartedAt)
	}
	// One execution in the list, not one per run.
	lr := callAt(t, base, http.MethodGet, "/api/executions?definitionId="+id, nil)
	var list struct {
		Executions []executionView `json:"executions"`
	}
	lr.DecodeData(t, &list)
	if len(list.Executions) != 1 || list.Executions[0].Status != "completed" {
		t.Errorf("list: %s", lr.Raw)
	}
	// Signals 2 and 4 arrive before the wait that takes them starts (a
	// drain leaves day2 and day4 found ready for the next run), so some
	// run takes a signal a former run carried.
	carrying := ""
	for _, run := range runs[1:] {
		if in := inputOf(t, execID, run); in.Resume != nil && len(in.Resume.Signals) > 0 {
			carrying = run
			break
		}
	}
	if carrying == "" {
		t.Fatal("no run was given a carried signal")
	}
	recordHistory(t, "continue-as-new", execID, runs[0])
	recordHistory(t, "continue-as-new-resumed", execID, carrying)
}

// inputOf decodes the ExecutionInput a run started with.
func inputOf(t *testing.T, id, runID string) interpreter.ExecutionInput {
	t.Helper()
	h := history(t, id, runID)
	if err := env.codec.DecodeMessage(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	var in interpreter.ExecutionInput
	payloads := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	if err := converter.GetDefaultDataConverter().FromPayloads(payloads, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// A cancel reaches the execution's current run, and compensation there
// reads an output carried from the first run.
func TestCancelInAContinuedRun(t *testing.T) {
	base := budgetAPI(t, &interpreter.RunBudget{Events: 1})
	id := uniqueID("t-can-cancel")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", apitest.Definition(id, "1.0.0", "prep", []map[string]any{
		apitest.Transform("prep", map[string]string{"v": "1"}),
		apitest.Node("hold", "wait", map[string]any{"signal": "go"}),
		apitest.Transform("undo", map[string]string{"undone": "nodes.prep.v"}),
	}, []map[string]any{apitest.Edge("prep", "hold"), apitest.Edge("hold", "undo", "on", "error")})), http.StatusCreated, "")
	r := callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", nil, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	// hold parks at once (every boundary is over budget): the run that
	// waits is the second one.
	waitFor(t, res.ExecutionID, func(v executionView) bool { return v.RunID != res.RunID && v.Status == "running" })
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/executions/"+res.ExecutionID+"/cancel", nil), http.StatusAccepted, "")
	v := waitFor(t, res.ExecutionID, statusIs("canceled"))
	if n := nodeByID(t, v, "undo"); n.Status != interpreter.StatusCompleted {
		t.Fatalf("undo %+v: compensation did not run in the continued run", n)
	}
}

// A synchronous execute whose respond node runs in a later run is
// answered by it: the ResponseUpdate the first run answered "continued"
// is asked again of the current run.
func TestRespondInALaterRun(t *testing.T) {
	base := budgetAPI(t, &interpreter.RunBudget{Events: 1})
	id := uniqueID("t-can-respond")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", apitest.Definition(id, "1.0.0", "make", []map[string]any{
		apitest.Transform("make", map[string]string{"n": "input.n * 2"}),
		apitest.Node("w", "wait", map[string]any{"duration": "1s"}),
		apitest.Node("answer", "respond", map[string]any{"status": 201, "body": map[string]string{"n": "nodes.make.n"}}),
		apitest.Node("slow", "wait", map[string]any{"duration": "4s"}),
	}, []map[string]any{apitest.Edge("make", "w"), apitest.Edge("w", "answer"), apitest.Edge("answer", "slow")})), http.StatusCreated, "")
	began := time.Now()
	r := callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute?wait=30s", map[string]any{"input": map[string]any{"n": 21}})
	took := time.Since(began)
	apitest.Expect(t, r, http.StatusCreated, "")
	var d respondData
	r.DecodeData(t, &d)
	if d.Response == nil || d.Response.NodeID != "answer" || d.Response.Body["n"] != float64(42) || d.Status != "running" {
		t.Fatalf("answer %s", r.Raw)
	}
	if took >= 4*time.Second {
		t.Errorf("the answer took %v: it waited for the wait after respond", took)
	}
	v := waitFor(t, d.ExecutionID, statusIs("completed"))
	if runs := runsOf(t, d.ExecutionID, d.RunID); len(runs) < 2 {
		t.Errorf("runs %v: the respond node did not run in a later run", runs)
	}
	if n := nodeByID(t, v, "slow"); n.Status != interpreter.StatusCompleted {
		t.Errorf("slow %+v", n)
	}
}
