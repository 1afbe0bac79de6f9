package e2e

import (
	"net/http"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// A definition with "cache" runs once per key within its ttl on the real
// server: the second execute with the same key is answered from the API's
// result cache with the first execution's id and output, and Temporal
// holds one execution of the definition.
func TestResultCacheAnswersWithoutStarting(t *testing.T) {
	id := uniqueID("t-cache")
	def := apitest.Definition(id, "1.0.0", "price", []map[string]any{
		apitest.Transform("price", map[string]string{"sku": "input.sku", "price": "size(input.sku) * 10"}),
	}, nil)
	def["cache"] = map[string]any{"key": "input.sku", "ttl": "1m"}
	def["output"] = map[string]string{"price": "nodes.price.price"}
	register(t, def, http.StatusCreated)

	type answer struct {
		ExecutionID string         `json:"executionId"`
		Output      map[string]any `json:"output"`
		Cached      bool           `json:"cached"`
	}
	run := func(sku string) answer {
		r := execute(t, id, "?wait=30s", map[string]any{"input": map[string]any{"sku": sku}})
		apitest.Expect(t, r, http.StatusOK, "")
		var a answer
		r.DecodeData(t, &a)
		return a
	}
	first := run("abc")
	again := run("abc")
	if first.Cached || !again.Cached || again.ExecutionID != first.ExecutionID || again.Output["price"] != 30.0 {
		t.Fatalf("first %+v, again %+v: want the second answered from the first", first, again)
	}
	if other := run("abcd"); other.Cached || other.Output["price"] != 40.0 {
		t.Errorf("another key: %+v", other)
	}
	// Two executions in Temporal, not three.
	got := poll(t, "the definition's executions listed", func() int {
		var list struct {
			Executions []struct{ ExecutionID string } `json:"executions"`
		}
		call(t, http.MethodGet, "/api/executions?definitionId="+id, nil).DecodeData(t, &list)
		return len(list.Executions)
	}, func(n int) bool { return n >= 2 })
	if got != 2 {
		t.Errorf("%d executions of %s, want 2", got, id)
	}
	var stats struct {
		CacheStats struct{ Hits, Size int } `json:"cacheStats"`
	}
	call(t, http.MethodGet, "/api/workflows/statistics", nil).DecodeData(t, &stats)
	if stats.CacheStats.Hits < 1 || stats.CacheStats.Size < 2 {
		t.Errorf("cacheStats %+v: want the hit and the two results counted", stats.CacheStats)
	}
}
