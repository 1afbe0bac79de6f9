package metrics

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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
