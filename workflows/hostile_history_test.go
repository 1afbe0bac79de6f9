package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestHostileHistory: inputs that used to cut executions short at
// Temporal's history limit, and definitions that used to cost registration
// quadratic time, through the real path (REST, Temporal, workers).
func TestHostileHistory(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.StripeMock(t), nil)
	big := strings.Repeat("0123456789", 90_000) // 900 KB

	// chain registers n remote transforms in a line, each mapping x to
	// mapping, and returns its id.
	chain := func(t *testing.T, n int, mapping string) string {
		t.Helper()
		id := fmt.Sprintf("t-chain-%d", queueSeq.Add(1))
		nodes := make([]any, n)
		edges := make([]any, 0, n)
		for i := range nodes {
			nodes[i] = map[string]any{"id": fmt.Sprintf("n%d", i), "type": "transform", "execution": "remote",
				"config": map[string]any{"mapping": map[string]any{"x": mapping}}}
			if i > 0 {
				edges = append(edges, map[string]any{"source": fmt.Sprintf("n%d", i-1), "target": fmt.Sprintf("n%d", i)})
			}
		}
		raw, _ := json.Marshal(map[string]any{"id": id, "version": "1", "startNode": "n0", "nodes": nodes, "edges": edges})
		if r := e.post(t, "/api/workflows", string(raw)); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		return id
	}
	input := func(extra string) string {
		return `{"input": {"n": 1, "s": "` + big + `"` + extra + `}}`
	}

	t.Run("NodesReadingAFieldRunWithLinearHistory", func(t *testing.T) {
		const n = 150
		id := chain(t, n, "input.n + 1")
		r := e.post(t, "/api/workflows/"+id+"/execute?wait=60s", input(""))
		if r.Status != http.StatusOK {
			t.Fatalf("execute: %d %.600s", r.Status, r.Raw)
		}
		desc, err := e.temporal.DescribeWorkflowExecution(t.Context(), r.executionID(), "")
		if err != nil {
			t.Fatal(err)
		}
		// The input is recorded once, in the start event; each node adds
		// its own small request and events. Before, each node carried the
		// whole input: 150 x 900 KB.
		size := desc.GetWorkflowExecutionInfo().GetHistorySizeBytes()
		t.Logf("history of %d nodes with a 900 KB input: %d bytes", n, size)
		if limit := int64(len(big) + n*4<<10); size > limit {
			t.Errorf("history is %d bytes, want under %d (the input once, then a few KB per node)", size, limit)
		}
		e.healthy(t)
	})

	t.Run("NodesReadingTheWholeInputAreRefusedUpFront", func(t *testing.T) {
		id := chain(t, 100, "size(input.s)")
		r := e.post(t, "/api/workflows/"+id+"/execute?wait=60s", input(""))
		if r.Status != http.StatusRequestEntityTooLarge || r.Error.Code != "history_budget_exceeded" {
			t.Fatalf("execute: %d %.600s, want 413 history_budget_exceeded", r.Status, r.Raw)
		}
		if !strings.Contains(r.Raw, "HISTORY_BUDGET_BYTES") {
			t.Errorf("the message does not name the setting: %s", r.Raw)
		}
		// Nothing was started.
		list := e.do(t, http.MethodGet, "/api/executions?definitionId="+id, "")
		if strings.Contains(list.Raw, `"executionId"`) {
			t.Errorf("an execution was started: %s", list.Raw)
		}
		e.healthy(t)
	})

	t.Run("TerminationSaysWhy", func(t *testing.T) {
		id := fmt.Sprintf("t-wait-%d", queueSeq.Add(1))
		def := `{"id": "` + id + `", "version": "1", "startNode": "w", "nodes": [{"id": "w", "type": "wait", "config": {"signal": "go"}}], "edges": []}`
		if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		r := e.post(t, "/api/workflows/"+id+"/execute?wait=0", `{"input": {}}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("execute: %d %s", r.Status, r.Raw)
		}
		if err := e.temporal.TerminateWorkflow(t.Context(), r.executionID(), "", "stuck order, see ticket 42"); err != nil {
			t.Fatal(err)
		}
		got := e.do(t, http.MethodGet, "/api/executions/"+r.executionID(), "")
		var body struct {
			Data struct {
				Status string `json:"status"`
				Error  struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			} `json:"data"`
		}
		_ = json.Unmarshal([]byte(got.Raw), &body)
		if body.Data.Status != "terminated" || body.Data.Error.Code != "execution_terminated" ||
			!strings.Contains(body.Data.Error.Message, "stuck order, see ticket 42") {
			t.Errorf("GET: %s, want terminated with the reason", got.Raw)
		}
		e.healthy(t)
	})

	t.Run("ManyEdgesAnswerAtOnce", func(t *testing.T) {
		for _, n := range []int{2_000, 30_000} {
			edges := make([]any, n)
			for i := range edges {
				edges[i] = map[string]any{"source": "a", "target": "b"}
			}
			raw, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("t-edges-%d", n), "version": "1", "startNode": "a",
				"nodes": []any{
					map[string]any{"id": "a", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": "1"}}},
					map[string]any{"id": "b", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": "1"}}},
				}, "edges": edges})
			start := time.Now()
			r := e.post(t, "/api/workflows", string(raw))
			took := time.Since(start)
			t.Logf("%d edges between one pair: %d in %v", n, r.Status, took.Round(time.Millisecond))
			if r.Status != http.StatusBadRequest || r.Error.Code != "invalid_definition" {
				t.Errorf("%d edges: %d %.300s, want 400 invalid_definition", n, r.Status, r.Raw)
			}
			// 20,000 edges took a minute before; 5 s is a generous bound
			// on a loaded machine for what takes about 20 ms.
			if took > 5*time.Second {
				t.Errorf("%d edges: answered after %v", n, took)
			}
		}
		e.healthy(t)
	})
}
