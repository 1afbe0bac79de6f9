package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
)

// With METRICS_ADDR the worker command serves the Temporal SDK's metrics
// of its pollers and requests on GET /metrics, and stops serving them when
// it drains.
func TestWorkerServesMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{Logger: slog.New(slog.DiscardHandler), LogLevel: slog.LevelError})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	port, err := devserver.GetFreePort("")
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	environ := map[string]string{
		"TEMPORAL_ADDRESS":   srv.FrontendAddress(),
		"DATA_DIR":           t.TempDir(),
		"PAYLOAD_ENCRYPTION": "off",
		"PAYMENTS_PROVIDER":  "fake",
		"LOG_LEVEL":          "error",
		"METRICS_ADDR":       addr,
	}
	done := make(chan error, 1)
	go func() { done <- app.RunWorker(ctx, environ, io.Discard) }()

	want := []string{
		`temporal_worker_start_total{`,
		`temporal_long_request_total{`,
		`operation="PollWorkflowTaskQueue"`,
		`temporal_num_pollers{`,
		"process_resident_memory_bytes ",
	}
	var text string
	deadline := time.Now().Add(20 * time.Second)
	for {
		text = scrape(t, "http://"+addr+"/metrics")
		if containsAll(text, want) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("worker stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics on METRICS_ADDR lacks some of %q:\n%s", want, text)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunWorker: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("/metrics still served after the worker stopped")
	}
}

// scrape returns the body of url, or "" when it does not answer yet.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(raw)
}

func containsAll(text string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(text, p) {
			return false
		}
	}
	return true
}
