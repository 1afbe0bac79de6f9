package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestMemoryGuard runs the dev command with a memory budget its baseline
// already passes (MAX_MEMORY=64MiB, threshold 50%; GOMEMLIMIT=off keeps the
// runtime's soft limit out of the way, which also exercises "GOMEMLIMIT
// wins"): the process is under pressure from its first sample. New
// executions are refused with 503 and Retry-After, everything else works,
// the workers still finish work at their floor of slots, and health,
// statistics and metrics show the state.
func TestMemoryGuard(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the dev command")
	}
	d := newDevEnv(t, "LOG_LEVEL=info", "MAX_MEMORY=64MiB", "MEMORY_THRESHOLD=0.5", "GOMEMLIMIT=off")
	env, api, temporalAddr := d.env, d.api, d.temporalAddr
	_, logs := startDevLogging(t, env, api)

	// The guard samples every 250 ms: wait for its first reading.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := call(t, "GET", api+"/health", "")
		if strings.Contains(string(body), `"memory":"pressure"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health never reported pressure: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	def := `{"id":"light","version":"1","startNode":"t",
		"nodes":[{"id":"t","type":"transform","config":{"mapping":{"ok":"true"}}}],"edges":[]}`
	if status, body := call(t, "POST", api+"/api/workflows", def); status != http.StatusCreated {
		t.Fatalf("registration under pressure: %d %s", status, body)
	}
	for _, path := range []string{"/api/workflows/light/execute", "/api/users/register"} {
		req, _ := http.NewRequest("POST", api+path, strings.NewReader(`{"input":{}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"memory_pressure"`) || resp.Header.Get("Retry-After") == "" {
			t.Errorf("POST %s under pressure: %d %s (Retry-After %q), want 503 memory_pressure", path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	for _, get := range []string{"/api/workflows", "/api/workflows/light", "/api/executions", "/api/products"} {
		if status, body := call(t, "GET", api+get, ""); status != http.StatusOK {
			t.Errorf("GET %s under pressure: %d %s", get, status, body)
		}
	}
	// Signals and cancels are not gated: an unknown execution is a 404.
	if status, body := call(t, "POST", api+"/api/executions/nope/signals/go", `{}`); status != http.StatusNotFound {
		t.Errorf("signal under pressure: %d %s, want 404", status, body)
	}

	// The workers keep a floor of one slot per kind of task: an execution
	// started directly in Temporal still completes.
	tc, err := client.Dial(client.Options{HostPort: temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var light interpreter.Definition
	if err := json.Unmarshal([]byte(def), &light); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: config.Defaults().TaskQueue},
		interpreter.WorkflowName, interpreter.ExecutionInput{Definition: light, Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	// The result is encrypted with dev mode's key: completing is enough.
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("execution under pressure: %v", err)
	}

	var stats struct {
		Data struct {
			MemoryGuard struct {
				UnderPressure bool   `json:"underPressure"`
				Refused       uint64 `json:"refusedRequests"`
				Withheld      uint64 `json:"withheldSlots"`
				InUse         uint64 `json:"inUseBytes"`
				Threshold     uint64 `json:"thresholdBytes"`
			} `json:"memoryGuard"`
		} `json:"data"`
	}
	_, body := call(t, "GET", api+"/api/workflows/statistics", "")
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatal(err)
	}
	g := stats.Data.MemoryGuard
	if !g.UnderPressure || g.Refused < 2 || g.Withheld == 0 || g.Threshold != 32<<20 || g.InUse <= g.Threshold {
		t.Errorf("statistics memoryGuard: %+v (from %s)", g, body)
	}
	_, metrics := call(t, "GET", api+"/metrics", "")
	for _, want := range []string{"workflow_backend_memory_pressure 1", "workflow_backend_memory_refused_requests_total 2", "workflow_backend_memory_threshold_bytes 3.3554432e+07"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	log := logs.String()
	if n := strings.Count(log, "memory above the threshold"); n != 1 {
		t.Errorf("%d pressure warnings, want one for the one crossing", n)
	}
	if !strings.Contains(log, "softLimitFrom=GOMEMLIMIT") {
		t.Error("the log does not say that GOMEMLIMIT sets the soft limit")
	}
}
