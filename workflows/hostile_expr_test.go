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

// TestHostileExpressions runs expressions that used to allocate until the
// process died through the real path (REST, Temporal, the node
// activities): each execution fails with an expression error that names
// the limit, the process's heap stays bounded, /health answers, and
// ordinary executions still run afterwards.
func TestHostileExpressions(t *testing.T) {
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.StripeMock(t), nil)
	big := strings.Repeat("abcdefgh", 400<<10/8) // 400 KB, as in the attack
	input, _ := json.Marshal(map[string]any{"input": map[string]any{"s": big}})

	one := func(node map[string]any) map[string]any {
		return map[string]any{"version": "1", "startNode": "n", "nodes": []any{node}, "edges": []any{}}
	}
	transform := func(src string) map[string]any {
		return one(map[string]any{"id": "n", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": src}}})
	}
	cases := []struct {
		name string
		def  map[string]any
	}{
		{"transform: replace with an empty pattern", transform("input.s.replace('', input.s)")},
		{"transform: join with a long separator", transform("lists.range(1000).map(i, 'a').join(input.s)")},
		{"transform: shared references", transform("lists.range(1000).map(i, input.s)")},
		{"transform: json.encode of shared references", transform("json.encode(lists.range(1000).map(i, input.s))")},
		{"condition", one(map[string]any{"id": "n", "type": "condition", "config": map[string]any{
			"expression": "size(input.s.replace('', input.s)) > 0"}})},
		{"validation target", one(map[string]any{"id": "n", "type": "validation", "config": map[string]any{
			"target": "{'all': lists.range(1000).map(i, input.s)}",
			"rules":  []any{map[string]any{"field": "all", "operator": "required"}}}})},
		{"edge condition", func() map[string]any {
			d := transform("1")
			d["nodes"] = append(d["nodes"].([]any), map[string]any{"id": "m", "type": "transform", "config": map[string]any{"mapping": map[string]any{"y": "2"}}})
			d["edges"] = []any{map[string]any{"source": "n", "target": "m", "condition": "size(lists.range(1000).map(i, 'a').join(input.s)) > 0"}}
			return d
		}()},
		{"output mapping", func() map[string]any {
			d := transform("1")
			d["output"] = map[string]any{"z": "input.s.replace('', input.s)"}
			return d
		}()},
		{"hashPassword in a comprehension", transform("lists.range(400).map(i, hashPassword('hostile-password'))")},
		// A validation rule whose expression fails by itself is the
		// definition's fault (422), not the input's (400).
		{"validation rule dividing by zero", one(map[string]any{"id": "n", "type": "validation", "config": map[string]any{
			"rules": []any{map[string]any{"field": "s", "operator": "expr", "value": "size(value) / 0 > 1"}}}})},
		{"validation rule over the size limit", one(map[string]any{"id": "n", "type": "validation", "config": map[string]any{
			"rules": []any{map[string]any{"field": "s", "operator": "expr", "value": "size(value.replace('', value)) > 0"}}}})},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("t-hostile-expr-%d-%d", i, queueSeq.Add(1))
			c.def["id"] = id
			raw, _ := json.Marshal(c.def)
			if r := e.post(t, "/api/workflows", string(raw)); r.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", r.Status, r.Raw)
			}
			var r reply
			start := time.Now()
			grew := testenv.HeapGrowth(func() { r = e.post(t, "/api/workflows/"+id+"/execute?wait=30s", string(input)) })
			t.Logf("%d in %v, heap grew %d MB: %.300s", r.Status, time.Since(start).Round(time.Millisecond), grew>>20, r.Raw)
			if r.Status != http.StatusUnprocessableEntity || r.Error.Code != "execution_failed" {
				t.Fatalf("execute: %d %.600s, want 422 execution_failed", r.Status, r.Raw)
			}
			if !strings.Contains(r.Raw, "limit") && !strings.Contains(r.Raw, "division by zero") {
				t.Errorf("the error does not name the limit: %.600s", r.Raw)
			}
			if grew > 256<<20 {
				t.Errorf("the heap grew %d MB", grew>>20)
			}
			e.healthy(t)
		})
	}

	t.Run("OrdinaryExecutionAfterwards", func(t *testing.T) {
		d := transform("size(input.s)")
		d["id"] = fmt.Sprintf("t-after-%d", queueSeq.Add(1))
		raw, _ := json.Marshal(d)
		if r := e.post(t, "/api/workflows", string(raw)); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		if r := e.post(t, "/api/workflows/"+d["id"].(string)+"/execute", string(input)); r.Status != http.StatusOK {
			t.Fatalf("execute: %d %.300s", r.Status, r.Raw)
		}
	})

	t.Run("CancelStopsASlowEvaluation", func(t *testing.T) {
		// Four hashes per evaluation at most (about a second), retried:
		// the cancel must end it without waiting for the retries.
		d := transform("lists.range(400).map(i, hashPassword('hostile-password'))")
		d["id"] = fmt.Sprintf("t-cancel-%d", queueSeq.Add(1))
		d["nodes"].([]any)[0].(map[string]any)["retry"] = map[string]any{"maximumAttempts": 100, "initialInterval": "1s"}
		raw, _ := json.Marshal(d)
		if r := e.post(t, "/api/workflows", string(raw)); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		r := e.post(t, "/api/workflows/"+d["id"].(string)+"/execute?wait=0", string(input))
		if r.Status != http.StatusAccepted {
			t.Fatalf("execute: %d %.300s", r.Status, r.Raw)
		}
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		if c := e.post(t, "/api/executions/"+r.executionID()+"/cancel", ""); c.Status != http.StatusAccepted {
			t.Fatalf("cancel: %d %s", c.Status, c.Raw)
		}
		e.waitDone(t, r.executionID())
		t.Logf("ended %v after the cancel", time.Since(start).Round(time.Millisecond))
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the execution ended %v after the cancel", took)
		}
		e.healthy(t)
	})
}
