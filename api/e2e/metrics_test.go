package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// scrape reads GET /metrics as Prometheus text.
func scrape(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, env.baseURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	apitest.CheckResponse(t, req, resp.StatusCode, resp.Header, raw)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(raw)
}

// After an execution, /metrics holds the Temporal SDK's client and worker
// metrics and the HTTP metrics of the requests, labelled by route pattern
// (not by the execution id in the URL).
func TestMetrics(t *testing.T) {
	id := uniqueID("t-metrics")
	register(t, apitest.Definition(id, "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil), http.StatusCreated)
	r := execute(t, id, "", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)
	getExecution(t, res.ExecutionID)
	apitest.Expect(t, call(t, http.MethodGet, "/api/executions/no-such-execution", nil), http.StatusNotFound, "execution_not_found")

	text := scrape(t)
	for _, want := range []string{
		// The SDK's client calls and the co-located worker's work.
		`temporal_request_total{`,
		`operation="StartWorkflowExecution"`,
		`temporal_workflow_completed_total{`,
		`temporal_workflow_endtoend_latency_seconds_bucket{`,
		`temporal_local_activity_total{`,
		// The HTTP requests, by route pattern and status.
		`http_requests_total{method="POST",route="/api/workflows/:id/execute",status="200"}`,
		`http_requests_total{method="GET",route="/api/executions/:executionId",status="200"}`,
		`http_requests_total{method="GET",route="/api/executions/:executionId",status="404"}`,
		`http_request_duration_seconds_bucket{method="POST",route="/api/workflows/:id/execute",status="200",le="+Inf"}`,
		// The process.
		"go_goroutines ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, res.ExecutionID) {
		t.Error("/metrics names an execution id: a series per URL")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}
