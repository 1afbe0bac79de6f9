package e2e

import (
	"math"
	"net/http"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// statsView is GET /api/workflows/statistics.
type statsView struct {
	ActiveWorkflows            int64    `json:"activeWorkflows"`
	CompletedWorkflows         int64    `json:"completedWorkflows"`
	FailedWorkflows            int64    `json:"failedWorkflows"`
	CanceledWorkflows          int64    `json:"canceledWorkflows"`
	AverageExecutionTime       *float64 `json:"averageExecutionTime"`
	AverageExecutionTimeSample int      `json:"averageExecutionTimeSample"`
	MemoryUsage                struct {
		HeapBytes   uint64 `json:"heapBytes"`
		TotalBytes  uint64 `json:"totalBytes"`
		GCGoalBytes uint64 `json:"gcGoalBytes"`
	} `json:"memoryUsage"`
	// ExpressionCache is the CEL program cache (cacheStats is the result
	// cache: see cache_test.go).
	ExpressionCache *struct {
		HitRate     float64 `json:"hitRate"`
		Size        int     `json:"size"`
		MemoryUsage *uint64 `json:"memoryUsage"`
		Hits        uint64  `json:"hits"`
		Misses      uint64  `json:"misses"`
		MaxSize     int     `json:"maxSize"`
	} `json:"expressionCache"`
	WorkflowType string `json:"workflowType"`
	DefinitionID string `json:"definitionId"`
}

func getStats(t *testing.T, query string) statsView {
	t.Helper()
	r := call(t, http.MethodGet, "/api/workflows/statistics"+query, nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var v statsView
	r.DecodeData(t, &v)
	return v
}

// waitForStats polls the statistics until done says so: visibility is
// updated after the execution closes, not with it.
func waitForStats(t *testing.T, query string, done func(statsView) bool) statsView {
	t.Helper()
	return poll(t, "statistics"+query, func() statsView { return getStats(t, query) }, done)
}

// The counts follow executions as they start, complete, fail and are
// canceled; the average duration is that of the closed executions as
// Temporal recorded them; memory and the expression cache are reported.
func TestStatistics(t *testing.T) {
	id := uniqueID("t-stats")
	q := "?definitionId=" + id
	before := getStats(t, q)
	if before.ActiveWorkflows+before.CompletedWorkflows+before.FailedWorkflows+before.CanceledWorkflows != 0 ||
		before.AverageExecutionTime != nil || before.AverageExecutionTimeSample != 0 || before.DefinitionID != id ||
		before.WorkflowType != interpreter.WorkflowName {
		t.Fatalf("statistics of a definition that never ran: %+v", before)
	}
	if before.ExpressionCache == nil {
		t.Fatal("no expressionCache")
	}
	cacheBefore := *before.ExpressionCache

	// One route per mode: "ok" completes, "fail" fails, "wait" waits.
	register(t, apitest.Definition(id, "1", "route", []map[string]any{
		apitest.Transform("route", map[string]string{"mode": "input.mode"}),
		apitest.Transform("done", map[string]string{"ok": "true"}),
		apitest.Node("boom", "fail", map[string]any{"status": 409, "code": "stats_failed", "message": "failed on purpose"}),
		apitest.Node("hold", "wait", map[string]any{"signal": "release"}),
	}, []map[string]any{
		apitest.Edge("route", "done", "condition", "input.mode == 'ok'"),
		apitest.Edge("route", "boom", "condition", "input.mode == 'fail'"),
		apitest.Edge("route", "hold", "condition", "input.mode == 'wait'"),
	}), http.StatusCreated)

	ok := execute(t, id, "", map[string]any{"input": map[string]any{"mode": "ok"}})
	apitest.Expect(t, ok, http.StatusOK, "")
	var okRes executeResponse
	ok.DecodeData(t, &okRes)
	waitForStats(t, q, func(v statsView) bool { return v.CompletedWorkflows == 1 })

	failed := execute(t, id, "", map[string]any{"input": map[string]any{"mode": "fail"}})
	apitest.Expect(t, failed, http.StatusConflict, "stats_failed")
	waitForStats(t, q, func(v statsView) bool { return v.FailedWorkflows == 1 })

	held := execute(t, id, "", map[string]any{"input": map[string]any{"mode": "wait"}}, "Prefer", "respond-async")
	apitest.Expect(t, held, http.StatusAccepted, "")
	var heldRes executeResponse
	held.DecodeData(t, &heldRes)
	mid := waitForStats(t, q, func(v statsView) bool { return v.ActiveWorkflows == 1 })
	if mid.CompletedWorkflows != 1 || mid.FailedWorkflows != 1 || mid.CanceledWorkflows != 0 {
		t.Fatalf("after one of each: %+v", mid)
	}

	// The average is over the two closed executions, from their start and
	// close times in Temporal.
	if mid.AverageExecutionTimeSample != 2 || mid.AverageExecutionTime == nil {
		t.Fatalf("average over %d executions: %v", mid.AverageExecutionTimeSample, mid.AverageExecutionTime)
	}
	var sum float64
	for _, execID := range []string{okRes.ExecutionID, failed.Body.Error.ExecutionID} {
		d, err := env.client.DescribeWorkflowExecution(t.Context(), execID, "")
		if err != nil {
			t.Fatal(err)
		}
		info := d.GetWorkflowExecutionInfo()
		sum += float64(info.GetCloseTime().AsTime().Sub(info.GetStartTime().AsTime()).Microseconds()) / 1000
	}
	// Visibility keeps times to the microsecond; Describe to the nanosecond.
	if want := sum / 2; math.Abs(*mid.AverageExecutionTime-want) > 0.01 {
		t.Errorf("averageExecutionTime %v ms, want %v ms", *mid.AverageExecutionTime, want)
	}

	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+heldRes.ExecutionID+"/cancel", nil), http.StatusAccepted, "")
	end := waitForStats(t, q, func(v statsView) bool { return v.CanceledWorkflows == 1 })
	if end.ActiveWorkflows != 0 || end.AverageExecutionTimeSample != 3 {
		t.Fatalf("after the cancel: %+v", end)
	}

	// Across definitions: at least this test's executions.
	all := getStats(t, "")
	if all.DefinitionID != "" || all.CompletedWorkflows < 1 || all.FailedWorkflows < 1 || all.CanceledWorkflows < 1 ||
		all.AverageExecutionTimeSample < 3 {
		t.Fatalf("statistics of every definition: %+v", all)
	}

	// The registration compiled the new expressions (misses, now cached) and
	// the executions evaluated them (hits, in this process's worker).
	mem, cache := end.MemoryUsage, end.ExpressionCache
	if mem.HeapBytes == 0 || mem.TotalBytes < mem.HeapBytes || mem.GCGoalBytes == 0 {
		t.Errorf("memoryUsage %+v", mem)
	}
	if cache.Misses <= cacheBefore.Misses || cache.Hits <= cacheBefore.Hits || cache.Size <= cacheBefore.Size ||
		cache.MaxSize != env.exprs.Limits().CacheSize || cache.MemoryUsage != nil {
		t.Errorf("expressionCache before %+v, after %+v", cacheBefore, *cache)
	}
	if want := float64(cache.Hits) / float64(cache.Hits+cache.Misses); math.Abs(cache.HitRate-want) > 1e-9 {
		t.Errorf("hitRate %v, want %v", cache.HitRate, want)
	}

	r := call(t, http.MethodGet, "/api/workflows/statistics?definitionId=Not'Valid", nil)
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_query")
}
