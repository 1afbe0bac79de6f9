package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// respondData is the data of an execute answered by a respond node.
type respondData struct {
	ExecutionID string                `json:"executionId"`
	RunID       string                `json:"runId"`
	Status      string                `json:"status"`
	Output      json.RawMessage       `json:"output"`
	Response    *interpreter.Response `json:"response"`
}

func respondDefinition(id string, last map[string]any) map[string]any {
	return apitest.Definition(id, "1.0.0", "make", []map[string]any{
		apitest.Transform("make", map[string]string{"n": "input.n * 2"}),
		apitest.Node("answer", "respond", map[string]any{"status": 201, "body": map[string]string{"n": "nodes.make.n", "id": "execution.id"}}),
		apitest.Node("slow", "wait", map[string]any{"duration": "2s"}),
		last,
	}, []map[string]any{apitest.Edge("make", "answer"), apitest.Edge("answer", "slow"), apitest.Edge("slow", last["id"].(string))})
}

// executeResponding executes def synchronously and checks that the respond
// node's answer arrives before the 2 s wait after it ends.
func executeResponding(t *testing.T, id string) respondData {
	t.Helper()
	began := time.Now()
	r := execute(t, id, "?wait=30s", map[string]any{"input": map[string]any{"n": 21}})
	took := time.Since(began)
	apitest.Expect(t, r, http.StatusCreated, "")
	var d respondData
	r.DecodeData(t, &d)
	if took >= 2*time.Second {
		t.Errorf("the answer took %v: it waited for the wait after respond", took)
	}
	if d.Status != "running" || d.Response == nil || d.Response.Status != 201 || d.Response.NodeID != "answer" ||
		d.Response.Body["n"] != float64(42) || d.Response.Body["id"] != d.ExecutionID || len(d.Output) != 0 {
		t.Fatalf("answer %+v (response %+v)", d, d.Response)
	}
	return d
}

func TestRespondAnswersBeforeTheExecutionEnds(t *testing.T) {
	id := uniqueID("t-respond")
	register(t, respondDefinition(id, apitest.Transform("after", map[string]string{"done": "nodes.make.n + 1"})), http.StatusCreated)
	d := executeResponding(t, id)

	var v struct {
		executionView
		Response *interpreter.Response `json:"response"`
	}
	v.executionView = waitFor(t, d.ExecutionID, statusIs("completed"))
	r := call(t, http.MethodGet, "/api/executions/"+d.ExecutionID, nil)
	r.DecodeData(t, &v)
	apitest.JSONEqual(t, v.Output, map[string]any{"after": map[string]any{"done": 43}})
	if v.Response == nil || v.Response.Status != 201 || v.Response.Body["n"] != float64(42) {
		t.Fatalf("GET response %+v", v.Response)
	}
	recordHistory(t, "respond", d.ExecutionID, d.RunID)
}

func TestRespondThenAFailingNode(t *testing.T) {
	id := uniqueID("t-respond-fail")
	register(t, respondDefinition(id, apitest.Node("mail", "fail", map[string]any{"status": 409, "code": "mail_down", "message": "the mail is down"})), http.StatusCreated)
	d := executeResponding(t, id)

	var v struct {
		executionView
		Response *interpreter.Response `json:"response"`
	}
	v.executionView = waitFor(t, d.ExecutionID, statusIs("failed"))
	r := call(t, http.MethodGet, "/api/executions/"+d.ExecutionID, nil)
	r.DecodeData(t, &v)
	if v.Error == nil || v.Error.Code != "mail_down" {
		t.Fatalf("GET error %+v", v.Error)
	}
	if v.Response == nil || v.Response.Status != 201 {
		t.Fatalf("GET response %+v", v.Response)
	}
}

// A keyed retry of a finished execution with a respond node is answered
// as any finished execution: with its output.
func TestRespondIdempotentRetry(t *testing.T) {
	id := uniqueID("t-respond-idem")
	register(t, respondDefinition(id, apitest.Transform("after", map[string]string{"done": "nodes.make.n + 1"})), http.StatusCreated)
	body := map[string]any{"input": map[string]any{"n": 21}}
	r := execute(t, id, "?wait=30s", body, "Idempotency-Key", "k1")
	apitest.Expect(t, r, http.StatusCreated, "")
	var first respondData
	r.DecodeData(t, &first)
	// While it runs: the same response.
	r = execute(t, id, "?wait=30s", body, "Idempotency-Key", "k1")
	apitest.Expect(t, r, http.StatusCreated, "")
	var second respondData
	r.DecodeData(t, &second)
	if second.ExecutionID != first.ExecutionID || second.Response == nil {
		t.Fatalf("retry while running: %+v, first %+v", second, first)
	}
	waitFor(t, first.ExecutionID, statusIs("completed"))
	r = execute(t, id, "?wait=30s", body, "Idempotency-Key", "k1")
	apitest.Expect(t, r, http.StatusOK, "")
	var third respondData
	r.DecodeData(t, &third)
	if third.ExecutionID != first.ExecutionID || third.Status != "completed" {
		t.Fatalf("retry after the end: %+v", third)
	}
	// Another body with the same key: conflict.
	r = execute(t, id, "?wait=30s", map[string]any{"input": map[string]any{"n": 1}}, "Idempotency-Key", "k1")
	if r.Status != http.StatusConflict {
		t.Fatalf("reused key: status %d", r.Status)
	}
}

// When no respond node runs (its branch is not taken), or the wait budget
// runs out before one does, the answer is the usual one.
func TestRespondNotReached(t *testing.T) {
	id := uniqueID("t-respond-skipped")
	register(t, apitest.Definition(id, "1.0.0", "make", []map[string]any{
		apitest.Transform("make", map[string]string{"n": "input.n * 2"}),
		apitest.Node("answer", "respond", map[string]any{"status": 201}),
	}, []map[string]any{apitest.Edge("make", "answer", "condition", "input.n > 100")}), http.StatusCreated)
	r := execute(t, id, "?wait=30s", map[string]any{"input": map[string]any{"n": 21}})
	apitest.Expect(t, r, http.StatusOK, "")
	var d respondData
	r.DecodeData(t, &d)
	if d.Status != "completed" || d.Response != nil {
		t.Fatalf("answer %+v", d)
	}
	apitest.JSONEqual(t, d.Output, map[string]any{"make": map[string]any{"n": 42}})

	slow := uniqueID("t-respond-late")
	register(t, apitest.Definition(slow, "1.0.0", "slow", []map[string]any{
		apitest.Node("slow", "wait", map[string]any{"duration": "3s"}),
		apitest.Node("answer", "respond", map[string]any{"status": 201}),
	}, []map[string]any{apitest.Edge("slow", "answer")}), http.StatusCreated)
	r = execute(t, slow, "?wait=500ms", map[string]any{"input": nil})
	apitest.Expect(t, r, http.StatusAccepted, "")
	r.DecodeData(t, &d)
	if d.Status != "running" || d.Response != nil || d.ExecutionID == "" {
		t.Fatalf("answer %+v", d)
	}
	v := waitFor(t, d.ExecutionID, statusIs("completed"))
	if n := nodeByID(t, v, "answer"); n.Status != interpreter.StatusCompleted {
		t.Fatalf("answer node %+v", n)
	}
}
