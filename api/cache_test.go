package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// A definition with "cache" answers a second execute with the same key
// from the result cache: 200, cached, the first execution's id, and no
// execution started. Other keys, asynchronous callers and keyed requests
// start executions as usual.
func TestResultCache(t *testing.T) {
	o, fake := testOptions(t)
	o.Evaluator = testExprs()
	base := serve(t, o)
	def := apitest.Definition("price", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"sku": "input.sku"})}, nil)
	def["cache"] = map[string]any{"key": "input.sku", "ttl": "5m"}
	register(t, base, def, http.StatusCreated)

	type answer struct {
		ExecutionID string `json:"executionId"`
		Status      string `json:"status"`
		Cached      bool   `json:"cached"`
		CachedAt    string `json:"cachedAt"`
	}
	execute := func(body string, headers ...string) (apitest.Response, answer) {
		r := callAt(t, base, http.MethodPost, "/api/workflows/price/execute", body, headers...)
		var a answer
		if r.Status < 300 {
			r.DecodeData(t, &a)
		}
		return r, a
	}
	r, first := execute(`{"input": {"sku": "a"}}`)
	apitest.Expect(t, r, http.StatusOK, "")
	if first.Cached {
		t.Errorf("the first execute was answered from the cache: %s", r.Raw)
	}
	r, again := execute(`{"input": {"sku": "a"}}`)
	apitest.Expect(t, r, http.StatusOK, "")
	if !again.Cached || again.ExecutionID != first.ExecutionID || again.Status != statusCompleted || again.CachedAt == "" {
		t.Errorf("second execute with the same key: %s, want cached from %s", r.Raw, first.ExecutionID)
	}
	if len(fake.started) != 1 {
		t.Fatalf("%d executions started, want 1 (the second answered from the cache)", len(fake.started))
	}

	_, other := execute(`{"input": {"sku": "b"}}`)
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/price/execute", `{"input": {"sku": "a"}}`, "Prefer", "respond-async"), http.StatusAccepted, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/price/execute", `{"input": {"sku": "a"}}`, "Idempotency-Key", "k-1"), http.StatusOK, "")
	if other.Cached || len(fake.started) != 4 {
		t.Errorf("another key, an async and a keyed request: %d executions started, want 4", len(fake.started))
	}

	// A key the input cannot give is the caller's mistake; nothing starts.
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/price/execute", `{"input": {"name": "x"}}`), http.StatusBadRequest, "invalid_input")
	if len(fake.started) != 4 {
		t.Errorf("a request whose cache key failed started an execution")
	}

	// A new version never answers with an older one's results.
	def["version"] = "2"
	register(t, base, def, http.StatusCreated)
	if _, v2 := execute(`{"input": {"sku": "a"}, "version": "2"}`); v2.Cached {
		t.Error("version 2 answered from version 1's cache")
	}

	// The statistics report the result cache.
	var stats struct {
		CacheStats struct {
			Hits, Misses, Size int
			HitRate            float64
			MemoryUsage        int64
		} `json:"cacheStats"`
		ExpressionCache *struct{ MaxSize int } `json:"expressionCache"`
	}
	callAt(t, base, http.MethodGet, "/api/workflows/statistics", nil).DecodeData(t, &stats)
	if c := stats.CacheStats; c.Hits != 1 || c.Misses != 3 || c.Size != 3 || c.HitRate != 0.25 || c.MemoryUsage <= 0 || stats.ExpressionCache == nil {
		t.Errorf("statistics: %+v, expression cache %v", c, stats.ExpressionCache)
	}
}

// Registration refuses a cache policy that could skip side effects or
// that is incomplete, listing every problem.
func TestResultCacheRegistration(t *testing.T) {
	o, _ := testOptions(t)
	base := serve(t, o)
	// A call node may run anything (here a definition of pure nodes, but
	// registration does not look inside): it counts as a node that writes.
	register(t, base, apitest.Definition("helper", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil), http.StatusCreated)
	call := map[string]any{"id": "run", "type": "call", "config": map[string]any{"definition": "helper"}}
	def := apitest.Definition("notify", "1", "run", []map[string]any{call}, nil)
	def["cache"] = map[string]any{"key": "", "ttl": "48h"}
	r := callAt(t, base, http.MethodPost, "/api/workflows", def)
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	var details []struct{ Path, Code string }
	if err := json.Unmarshal(r.Body.Error.Details, &details); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, d := range details {
		paths[d.Path] = true
	}
	for _, path := range []string{"cache.key", "cache.ttl", "cache.readOnly"} {
		if !paths[path] {
			t.Errorf("no problem at %s: %s", path, r.Raw)
		}
	}
	def["cache"] = map[string]any{"key": "input.to", "ttl": "1m", "readOnly": true}
	def["version"] = "2"
	register(t, base, def, http.StatusCreated)
}
