package metrics

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/memguard"
)

// What the SDK reports through Temporal() and what the API reports
// through ObserveRequest reach the Prometheus text, under their names.
func TestExposition(t *testing.T) {
	m, err := New(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Temporal().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(2)
	h.Timer("temporal_request_latency").Record(30 * time.Millisecond)
	m.ObserveRequest(http.MethodGet, "/api/executions/:executionId", 404, 5*time.Millisecond)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	text := string(raw)
	for _, want := range []string{
		`temporal_request_total{namespace="default"} 2`,
		`temporal_request_latency_seconds_count{namespace="default"} 1`,
		`http_requests_total{method="GET",route="/api/executions/:executionId",status="404"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/api/executions/:executionId",status="404"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// The memory guard's state is exported under its names, gauges and
// counters, from one reading of the guard per scrape.
func TestWatchMemory(t *testing.T) {
	m, err := New(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	err = m.WatchMemory(func() memguard.Stats {
		reads++
		return memguard.Stats{InUseBytes: 40 << 20, MaxBytes: 64 << 20, ThresholdBytes: 32 << 20, UnderPressure: true,
			Episodes: 1, Refused: 2, Withheld: 3}
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		"# TYPE workflow_backend_memory_in_use_bytes gauge\nworkflow_backend_memory_in_use_bytes 4.194304e+07\n",
		"workflow_backend_memory_max_bytes 6.7108864e+07\n",
		"workflow_backend_memory_threshold_bytes 3.3554432e+07\n",
		"# TYPE workflow_backend_memory_pressure gauge\nworkflow_backend_memory_pressure 1\n",
		"# TYPE workflow_backend_memory_pressure_episodes_total counter\nworkflow_backend_memory_pressure_episodes_total 1\n",
		"workflow_backend_memory_refused_requests_total 2\n",
		"workflow_backend_memory_withheld_slots_total 3\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if reads != 1 {
		t.Errorf("the guard was read %d times for one scrape, want 1", reads)
	}
}
