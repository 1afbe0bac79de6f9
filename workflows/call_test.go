package workflows_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// corpusCallee is the definition corpusCaller calls: it fails with a
// business error when asked to, else doubles its input.
const corpusCallee = `{
  "id": "corpus-callee", "version": "1", "startNode": "check",
  "output": {"doubled": "nodes.double.v"},
  "nodes": [
    {"id": "check", "type": "condition", "config": {"expression": "input.refuse"}},
    {"id": "refuse", "type": "fail", "config": {"status": 409, "code": "callee_refused", "message": "the callee refused"}},
    {"id": "double", "type": "transform", "config": {"mapping": {"v": "input.n * 2"}}}
  ],
  "edges": [
    {"source": "check", "target": "refuse", "on": "true"},
    {"source": "check", "target": "double", "on": "false"}
  ]
}`

// corpusCaller calls corpusCallee (no version: pinned to the latest at
// registration) and reads its output.
const corpusCaller = `{
  "id": "corpus-caller", "version": "1", "startNode": "call",
  "output": {"got": "nodes.call.doubled"},
  "nodes": [
    {"id": "call", "type": "call", "config": {"definition": "corpus-callee", "input": {"n": "input.n + 1", "refuse": "input.refuse"}}}
  ],
  "edges": []
}`

// calleeWaits waits for a signal that never comes; callerWaits calls it.
const calleeWaits = `{
  "id": "callee-waits", "version": "1", "startNode": "w",
  "nodes": [{"id": "w", "type": "wait", "config": {"signal": "never"}}],
  "edges": []
}`

const callerWaits = `{
  "id": "caller-waits", "version": "1", "startNode": "call",
  "nodes": [{"id": "call", "type": "call", "config": {"definition": "callee-waits"}}],
  "edges": []
}`

// TestCall runs call nodes on the embedded Temporal server through the
// API: the child's output is the node's output, the child's business error
// is the caller's, and canceling the caller cancels the child.
func TestCall(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.NewStripeServer(t).URL, nil)
	for _, def := range []string{corpusCallee, corpusCaller, calleeWaits, callerWaits} {
		if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
	}

	t.Run("Output", func(t *testing.T) {
		r := e.post(t, "/api/workflows/corpus-caller/execute?wait=20s", `{"input": {"n": 20, "refuse": false}}`)
		if r.Status != http.StatusOK || r.Data.Output["got"] != 42.0 {
			t.Fatalf("execute: %d %s", r.Status, r.Raw)
		}
		child := interpreter.CallChildID(r.executionID(), "call")
		e.checkPath(t, child, "check completed\ndouble completed\n")
		if got := e.do(t, http.MethodGet, "/api/executions/"+child, ""); !strings.Contains(got.Raw, `"parentExecutionId":"`+r.executionID()+`"`) ||
			!strings.Contains(got.Raw, `"definitionId":"corpus-callee"`) {
			t.Errorf("the child does not link its parent: %s", got.Raw)
		}
		// The list links it too (visibility may lag a little).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			list := e.do(t, http.MethodGet, "/api/executions?definitionId=corpus-callee", "")
			if strings.Contains(list.Raw, `"parentExecutionId":"`+r.executionID()+`"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /api/executions does not link the child to its parent: %s", list.Raw)
			}
		}
	})

	t.Run("NewerCalleeVersionRegisteredLater", func(t *testing.T) {
		// corpus-caller was pinned to corpus-callee 1 when it was
		// registered: a version 2 registered since does not change what it
		// runs.
		v2 := strings.Replace(strings.Replace(corpusCallee, `"version": "1"`, `"version": "2"`, 1), "input.n * 2", "input.n * 3", 1)
		if r := e.post(t, "/api/workflows", v2); r.Status != http.StatusCreated {
			t.Fatalf("register v2: %d %s", r.Status, r.Raw)
		}
		r := e.post(t, "/api/workflows/corpus-caller/execute?wait=20s", `{"input": {"n": 20, "refuse": false}}`)
		if r.Status != http.StatusOK || r.Data.Output["got"] != 42.0 {
			t.Fatalf("execute: %d %s, want version 1's 42", r.Status, r.Raw)
		}
	})

	t.Run("Examples", func(t *testing.T) {
		for _, f := range []string{"send-receipt.json", "checkout.json"} {
			doc, err := os.ReadFile("../examples/" + f)
			if err != nil {
				t.Fatal(err)
			}
			if r := e.post(t, "/api/workflows", string(doc)); r.Status != http.StatusCreated {
				t.Fatalf("register %s: %d %s", f, r.Status, r.Raw)
			}
		}
		r := e.post(t, "/api/workflows/checkout/execute?wait=20s",
			`{"input": {"email": "ada@example.com", "orderId": "o-1", "qty": 3, "unitPrice": 2.5}}`)
		if r.Status != http.StatusOK || r.Data.Output["total"] != 7.5 || r.Data.Output["receipt"] == "not sent" {
			t.Fatalf("checkout: %d %s", r.Status, r.Raw)
		}
		e.checkPath(t, r.executionID(), "price completed\nreceipt completed\n")
	})

	t.Run("FailingChild", func(t *testing.T) {
		r := e.post(t, "/api/workflows/corpus-caller/execute?wait=20s", `{"input": {"n": 1, "refuse": true}}`)
		if r.Status != http.StatusConflict || r.Error.Code != "callee_refused" {
			t.Fatalf("execute: %d %s, want the callee's 409 callee_refused", r.Status, r.Raw)
		}
		e.checkPath(t, r.executionID(), "call failed\n")
	})

	t.Run("CancelCancelsTheChild", func(t *testing.T) {
		r := e.post(t, "/api/workflows/caller-waits/execute?wait=0", `{"input": {}}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("execute: %d %s", r.Status, r.Raw)
		}
		id := r.executionID()
		child := interpreter.CallChildID(id, "call")
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(e.path(t, child), "w waiting") {
			if time.Now().After(deadline) {
				t.Fatalf("the child never waits: %q", e.path(t, child))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r := e.post(t, "/api/executions/"+id+"/cancel", ""); r.Status != http.StatusAccepted {
			t.Fatalf("cancel: %d %s", r.Status, r.Raw)
		}
		e.waitDone(t, id)
		e.waitDone(t, child)
		if r := e.do(t, http.MethodGet, "/api/executions/"+child, ""); r.Data.Status != "canceled" {
			t.Errorf("child: %s, want canceled", r.Raw)
		}
	})
}
