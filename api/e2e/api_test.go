package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/api"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Scenario 1: a sequence of transform nodes answers 200 with the output,
// and the execution reads back with every node completed in definition
// order.
func TestExecuteSequence(t *testing.T) {
	id := uniqueID("t-sequence")
	register(t, apitest.Definition(id, "1.0.0", "double", []map[string]any{
		apitest.Transform("double", map[string]string{"n": "input.n * 2"}),
		apitest.Transform("add", map[string]string{"n": "nodes.double.n + 1"}),
		apitest.Transform("label", map[string]string{"result": "'n=' + string(int(nodes.add.n))"}),
	}, []map[string]any{apitest.Edge("double", "add"), apitest.Edge("add", "label")}), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{"n": 20}})
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)
	if res.Status != "completed" || !strings.HasPrefix(res.ExecutionID, id+"-") || res.RunID == "" {
		t.Fatalf("unexpected result %+v", res)
	}
	apitest.JSONEqual(t, res.Output, map[string]any{"label": map[string]any{"result": "n=41"}})
	wantUI := testUIBase + "/namespaces/" + testNamespace + "/workflows/" + res.ExecutionID + "/" + res.RunID + "/history"
	if res.UIURL != wantUI {
		t.Fatalf("uiUrl %q, want %q", res.UIURL, wantUI)
	}

	v := getExecution(t, res.ExecutionID)
	if v.Status != "completed" || v.DefinitionID != id || v.Version != "1.0.0" || v.ClosedAt == nil || v.NodesError != "" {
		t.Fatalf("unexpected execution %+v", v)
	}
	apitest.JSONEqual(t, v.Output, map[string]any{"label": map[string]any{"result": "n=41"}})
	var ids []string
	for _, n := range v.Nodes {
		ids = append(ids, n.ID)
		if n.Status != interpreter.StatusCompleted || n.Attempts < 1 || n.StartedAt == nil || n.FinishedAt == nil {
			t.Fatalf("node %+v not completed", n)
		}
	}
	if !slices.Equal(ids, []string{"double", "add", "label"}) {
		t.Fatalf("nodes in order %v", ids)
	}
	recordHistory(t, "sequence", res.ExecutionID, res.RunID)
}

// DefaultWait 0 (EXECUTE_WAIT_DEFAULT=0) is taken as it is: execute answers
// 202 at once unless ?wait= asks for a wait.
func TestExecuteDefaultWaitZero(t *testing.T) {
	zero := time.Duration(0)
	s, err := api.New(api.Options{
		Client: env.client, PayloadCodec: env.codec, Store: env.store, Registry: env.registry, Exprs: env.exprs,
		TaskQueue: testTaskQueue, Namespace: testNamespace, EagerStart: true, Logger: env.logger,
		DefaultWait: &zero,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)

	id := uniqueID("t-wait-zero")
	register(t, apitest.Definition(id, "1", "hello", []map[string]any{apitest.Transform("hello", map[string]string{"v": "1"})}, nil), http.StatusCreated)
	path := "/api/workflows/" + id + "/execute"
	r := callAt(t, ts.URL, http.MethodPost, path, nil)
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	if res.Status != "running" || res.Output != nil {
		t.Fatalf("without ?wait=: %s", r.Raw)
	}
	r = callAt(t, ts.URL, http.MethodPost, path+"?wait=20s", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	res = executeResponse{}
	r.DecodeData(t, &res)
	if res.Status != "completed" {
		t.Fatalf("with ?wait=20s: %s", r.Raw)
	}
	apitest.JSONEqual(t, res.Output, map[string]any{"hello": map[string]any{"v": 1}})
}

// Scenario 2: an if/else joined afterwards completes; the branch not taken
// is skipped (dead-path elimination).
func TestExecuteIfElseJoin(t *testing.T) {
	id := uniqueID("t-if-else")
	register(t, apitest.Definition(id, "1", "check", []map[string]any{
		apitest.Node("check", "condition", map[string]any{"expression": "input.amount >= 100"}),
		apitest.Transform("big", map[string]string{"tier": "'big'"}),
		apitest.Transform("small", map[string]string{"tier": "'small'"}),
		apitest.Transform("join", map[string]string{"tier": "has(nodes.big) ? nodes.big.tier : nodes.small.tier"}),
	}, []map[string]any{
		apitest.Edge("check", "big", "on", "true"),
		apitest.Edge("check", "small", "on", "false"),
		apitest.Edge("big", "join"),
		apitest.Edge("small", "join"),
	}), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{"amount": 150}})
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)
	apitest.JSONEqual(t, res.Output, map[string]any{"join": map[string]any{"tier": "big"}})

	v := getExecution(t, res.ExecutionID)
	for id, want := range map[string]string{"check": "completed", "big": "completed", "small": "skipped", "join": "completed"} {
		if got := nodeByID(t, v, id).Status; got != want {
			t.Fatalf("node %s is %s, want %s", id, got, want)
		}
	}
	recordHistory(t, "if-else-join", res.ExecutionID, res.RunID)
}

// Scenario 3: three waits after one node start in the same workflow task:
// their TimerStarted events share one WorkflowTaskCompleted event.
func TestParallelWaitsStartTogether(t *testing.T) {
	id := uniqueID("t-parallel-waits")
	wait := map[string]any{"duration": "1s"}
	register(t, apitest.Definition(id, "1", "start", []map[string]any{
		apitest.Transform("start", map[string]string{"ok": "true"}),
		apitest.Node("w1", "wait", wait),
		apitest.Node("w2", "wait", wait),
		apitest.Node("w3", "wait", wait),
	}, []map[string]any{apitest.Edge("start", "w1"), apitest.Edge("start", "w2"), apitest.Edge("start", "w3")}), http.StatusCreated)

	r := execute(t, id, "", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)

	var completedIDs []int64
	for _, ev := range history(t, res.ExecutionID, res.RunID).GetEvents() {
		if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			completedIDs = append(completedIDs, ev.GetTimerStartedEventAttributes().GetWorkflowTaskCompletedEventId())
		}
	}
	if len(completedIDs) != 3 || completedIDs[0] != completedIDs[1] || completedIDs[1] != completedIDs[2] {
		t.Fatalf("TimerStarted events' WorkflowTaskCompleted ids %v: want three equal", completedIDs)
	}
	recordHistory(t, "parallel-waits", res.ExecutionID, res.RunID)
}

// Scenario 4: a failing validation node's error edge leads to a node that
// reads errors.<id>; the execution completes.
func TestErrorEdge(t *testing.T) {
	id := uniqueID("t-error-edge")
	register(t, apitest.Definition(id, "1", "validate", []map[string]any{
		apitest.Node("validate", "validation", map[string]any{"rules": []map[string]any{
			{"field": "email", "operator": "required", "message": "email is required"},
		}}),
		apitest.Transform("ok", map[string]string{"valid": "true"}),
		apitest.Transform("handle", map[string]string{"errorType": "errors.validate.type"}),
	}, []map[string]any{apitest.Edge("validate", "ok"), apitest.Edge("validate", "handle", "on", "error")}), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{}})
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)
	apitest.JSONEqual(t, res.Output, map[string]any{"handle": map[string]any{"errorType": interpreter.ErrValidation}})

	v := getExecution(t, res.ExecutionID)
	if n := nodeByID(t, v, "validate"); n.Status != interpreter.StatusFailed || n.Error == "" {
		t.Fatalf("validate node %+v, want failed with an error", n)
	}
	if n := nodeByID(t, v, "ok"); n.Status != interpreter.StatusSkipped {
		t.Fatalf("ok node %+v, want skipped", n)
	}
	recordHistory(t, "error-edge", res.ExecutionID, res.RunID)
}

// Scenario 5: a fail node sets the HTTP status and code.
func TestFailNode(t *testing.T) {
	id := uniqueID("t-fail-node")
	register(t, apitest.Definition(id, "1", "exists", []map[string]any{
		apitest.Node("exists", "fail", map[string]any{"status": 409, "code": "email_exists", "message": "This email is already registered"}),
	}, nil), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{"email": "a@example.com"}})
	apitest.Expect(t, r, http.StatusConflict, "email_exists")
	e := r.Body.Error
	if e.Message != "This email is already registered" || !strings.HasPrefix(e.ExecutionID, id+"-") || e.RunID == "" || e.UIURL == "" {
		t.Fatalf("error %+v", e)
	}
	v := getExecution(t, e.ExecutionID)
	if v.Status != "failed" || v.Error == nil || v.Error.Code != "email_exists" || v.Error.HTTPStatus != http.StatusConflict {
		t.Fatalf("execution %+v", v)
	}
	recordHistory(t, "fail-node", e.ExecutionID, e.RunID)
}

// A validation node that fails with no error edge answers 400 with each
// field's message.
func TestValidationFailure(t *testing.T) {
	id := uniqueID("t-validation-failure")
	register(t, apitest.Definition(id, "1", "validate", []map[string]any{
		apitest.Node("validate", "validation", map[string]any{"rules": []map[string]any{
			{"field": "email", "operator": "email", "message": "Invalid email"},
			{"field": "age", "operator": "min", "value": 18, "message": "Too young"},
		}}),
	}, nil), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{"email": "nope", "age": 12}})
	apitest.Expect(t, r, http.StatusBadRequest, "validation_failed")
	var fields []fieldError
	if err := json.Unmarshal(r.Body.Error.Details, &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) != 2 || r.Body.Error.ExecutionID == "" {
		t.Fatalf("details %s, executionId %q", r.Body.Error.Details, r.Body.Error.ExecutionID)
	}
}

// Scenario 6: a signal wait started asynchronously completes with the
// signal's payload; a signal to the finished execution is 409.
func TestSignalWait(t *testing.T) {
	id := uniqueID("t-signal-wait")
	register(t, apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
		apitest.Transform("decide", map[string]string{"approvedBy": "nodes.approval.by", "amount": "nodes.approval.amount"}),
	}, []map[string]any{apitest.Edge("approval", "decide")}), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": nil}, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	if res.Status != "running" || res.StatusURL != "/api/executions/"+res.ExecutionID || r.Header.Get("Location") != res.StatusURL {
		t.Fatalf("async answer %+v, Location %q", res, r.Header.Get("Location"))
	}

	// A signal no wait node of the definition waits for is refused, and
	// says which ones it waits for.
	unknown := call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/aprove", map[string]any{"by": "eve"})
	apitest.Expect(t, unknown, http.StatusUnprocessableEntity, "unknown_signal")
	apitest.JSONEqual(t, unknown.Body.Error.Details, []map[string]string{{"signal": "approve"}})

	sig := call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/approve", map[string]any{"by": "ann", "amount": 12.5})
	apitest.Expect(t, sig, http.StatusAccepted, "")

	v := waitFor(t, res.ExecutionID, statusIs("completed"))
	apitest.JSONEqual(t, v.Output, map[string]any{"decide": map[string]any{"approvedBy": "ann", "amount": 12.5}})
	if n := nodeByID(t, v, "approval"); n.Status != interpreter.StatusCompleted {
		t.Fatalf("approval node %+v", n)
	}

	again := call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/approve", `{"by":"bob"}`)
	apitest.Expect(t, again, http.StatusConflict, "execution_finished")
	if again.Body.Error.ExecutionID != res.ExecutionID {
		t.Fatalf("409 without executionId: %s", again.Raw)
	}
	bad := call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/not-a-name", nil)
	apitest.Expect(t, bad, http.StatusBadRequest, "invalid_signal")
	recordHistory(t, "signal-wait", res.ExecutionID, res.RunID)
}

// Scenario 7: a wait longer than the budget answers 202 with Location, and
// the execution completes later.
func TestWaitBudgetFallback(t *testing.T) {
	id := uniqueID("t-budget")
	register(t, apitest.Definition(id, "1", "slow", []map[string]any{
		apitest.Node("slow", "wait", map[string]any{"duration": "3s"}),
	}, nil), http.StatusCreated)

	r := execute(t, id, "?wait=1", nil)
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	if res.Status != "running" || r.Header.Get("Location") != "/api/executions/"+res.ExecutionID || res.UIURL == "" {
		t.Fatalf("202 answer %+v, Location %q", res, r.Header.Get("Location"))
	}
	v := waitFor(t, res.ExecutionID, statusIs("completed"))
	apitest.JSONEqual(t, v.Output, map[string]any{"slow": map[string]any{"waited": "3s"}})
}

// Scenario 8: the same Idempotency-Key attaches to the same execution; with
// a different body it is 409.
func TestIdempotentExecute(t *testing.T) {
	id := uniqueID("t-idempotent")
	register(t, apitest.Definition(id, "1", "echo", []map[string]any{
		apitest.Transform("echo", map[string]string{"a": "input.a"}),
	}, nil), http.StatusCreated)

	first := execute(t, id, "", `{"input": {"a": 1, "b": [1, 2]}}`, "Idempotency-Key", "order-42")
	apitest.Expect(t, first, http.StatusOK, "")
	var a executeResponse
	first.DecodeData(t, &a)
	if !strings.HasPrefix(a.ExecutionID, id+"-idem-") {
		t.Fatalf("keyed execution id %q", a.ExecutionID)
	}

	// Same request, other formatting and key order: same execution.
	second := execute(t, id, "", `{"input":{"b":[1,2],"a":1}}`, "Idempotency-Key", "order-42")
	apitest.Expect(t, second, http.StatusOK, "")
	var b executeResponse
	second.DecodeData(t, &b)
	if b.ExecutionID != a.ExecutionID || b.RunID != a.RunID {
		t.Fatalf("retry started %s/%s, want %s/%s", b.ExecutionID, b.RunID, a.ExecutionID, a.RunID)
	}
	apitest.JSONEqual(t, b.Output, map[string]any{"echo": map[string]any{"a": 1}})

	conflict := execute(t, id, "", `{"input": {"a": 2}}`, "Idempotency-Key", "order-42")
	apitest.Expect(t, conflict, http.StatusConflict, "idempotency_key_reused")
	if conflict.Body.Error.ExecutionID != a.ExecutionID {
		t.Fatalf("409 names %q, want %q", conflict.Body.Error.ExecutionID, a.ExecutionID)
	}

	other := execute(t, id, "", `{"input": {"a": 2}}`, "Idempotency-Key", "order-43")
	apitest.Expect(t, other, http.StatusOK, "")
	var c executeResponse
	other.DecodeData(t, &c)
	if c.ExecutionID == a.ExecutionID {
		t.Fatal("another key attached to the same execution")
	}
}

// An Idempotency-Key retried while the first execution still runs attaches
// to the running execution.
func TestIdempotentExecuteWhileRunning(t *testing.T) {
	id := uniqueID("t-idempotent-running")
	register(t, apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "go"}),
	}, nil), http.StatusCreated)
	first := execute(t, id, "", nil, "Idempotency-Key", "k", "Prefer", "respond-async")
	apitest.Expect(t, first, http.StatusAccepted, "")
	var a executeResponse
	first.DecodeData(t, &a)
	second := execute(t, id, "?wait=0", "", "Idempotency-Key", "k")
	apitest.Expect(t, second, http.StatusAccepted, "")
	var b executeResponse
	second.DecodeData(t, &b)
	if a.ExecutionID != b.ExecutionID || a.RunID != b.RunID {
		t.Fatalf("retry got %s/%s, want %s/%s", b.ExecutionID, b.RunID, a.ExecutionID, a.RunID)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+a.ExecutionID+"/signals/go", nil), http.StatusAccepted, "")
	waitFor(t, a.ExecutionID, statusIs("completed"))
}

// Scenario 9: registration reports every problem; identical
// re-registration is 200, changed content 409, a new version 201 and runs.
func TestRegistration(t *testing.T) {
	id := uniqueID("t-registration")
	broken := apitest.Definition(id, "1", "start", []map[string]any{
		apitest.Transform("start", map[string]string{"x": "input.a +"}),     // invalid_expression
		apitest.Node("mystery", "teleport", map[string]any{}),               // unknown_node_type
		apitest.Transform("start", map[string]string{"y": "1"}),             // duplicate_id
		apitest.Transform("orphan", map[string]string{"z": "1"}),            // unreachable_node
		apitest.Transform("after", map[string]string{"w": "nodes.start.x"}), // fine
	}, []map[string]any{
		apitest.Edge("start", "mystery"),
		apitest.Edge("start", "after"),
		apitest.Edge("start", "ghost"), // unknown_node
	})
	r := call(t, http.MethodPost, "/api/workflows", broken)
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	var problems []interpreter.Problem
	if err := json.Unmarshal(r.Body.Error.Details, &problems); err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, p := range problems {
		if p.Path == "" || p.Message == "" {
			t.Fatalf("problem without path or message: %+v", p)
		}
		codes[p.Code] = true
	}
	for _, want := range []string{
		interpreter.CodeInvalidExpression, interpreter.CodeUnknownNodeType, interpreter.CodeDuplicateID,
		interpreter.CodeUnknownNode, interpreter.CodeUnreachableNode,
	} {
		if !codes[want] {
			t.Errorf("problem %s not reported in %s", want, r.Body.Error.Details)
		}
	}

	v1 := apitest.Definition(id, "1", "hello", []map[string]any{apitest.Transform("hello", map[string]string{"v": "1"})}, nil)
	v1["description"] = "first"
	r = call(t, http.MethodPost, "/api/workflows", v1)
	apitest.Expect(t, r, http.StatusCreated, "")
	var created struct {
		ID         string          `json:"id"`
		Version    string          `json:"version"`
		CreatedAt  time.Time       `json:"createdAt"`
		Definition json.RawMessage `json:"definition"`
	}
	r.DecodeData(t, &created)
	if created.ID != id || created.Version != "1" || created.CreatedAt.IsZero() || len(created.Definition) == 0 {
		t.Fatalf("created %+v", created)
	}
	// Identical (other key order and formatting do not matter).
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", v1), http.StatusOK, "")
	v1["description"] = "changed"
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", v1), http.StatusConflict, "definition_conflict")

	v2 := apitest.Definition(id, "2", "hello", []map[string]any{apitest.Transform("hello", map[string]string{"v": "2"})}, nil)
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", v2), http.StatusCreated, "")

	r = execute(t, id, "", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var res executeResponse
	r.DecodeData(t, &res)
	apitest.JSONEqual(t, res.Output, map[string]any{"hello": map[string]any{"v": 2}})
	if v := getExecution(t, res.ExecutionID); v.Version != "2" {
		t.Fatalf("ran version %q, want 2", v.Version)
	}
	// A named version runs that version.
	r = execute(t, id, "", map[string]any{"version": "1"})
	apitest.Expect(t, r, http.StatusOK, "")
	r.DecodeData(t, &res)
	apitest.JSONEqual(t, res.Output, map[string]any{"hello": map[string]any{"v": 1}})
	apitest.Expect(t, execute(t, id, "", map[string]any{"version": "9"}), http.StatusNotFound, "definition_not_found")

	// Reading definitions.
	r = call(t, http.MethodGet, "/api/workflows/"+id, nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var got struct {
		Version  string `json:"version"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	r.DecodeData(t, &got)
	if got.Version != "2" || len(got.Versions) != 2 || got.Versions[0].Version != "1" {
		t.Fatalf("GET definition %s", r.Body.Data)
	}
	r = call(t, http.MethodGet, "/api/workflows/"+id+"/versions/1", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var one struct {
		Description string `json:"description"`
	}
	r.DecodeData(t, &one)
	if one.Description != "first" {
		t.Fatalf("version 1: %s", r.Body.Data)
	}
	apitest.Expect(t, call(t, http.MethodGet, "/api/workflows/"+id+"/versions/3", nil), http.StatusNotFound, "definition_not_found")

	r = call(t, http.MethodGet, "/api/workflows", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var list struct {
		Workflows []struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		} `json:"workflows"`
	}
	r.DecodeData(t, &list)
	found := false
	for _, w := range list.Workflows {
		if w.ID == id {
			found = w.Version == "2"
		}
	}
	if !found {
		t.Fatalf("list does not show %s at version 2: %s", id, r.Body.Data)
	}
	// "statistics" is reserved for GET /api/workflows/statistics.
	reserved := apitest.Definition("statistics", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil)
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", reserved), http.StatusBadRequest, "invalid_definition")
}

// Scenario 10: client errors.
func TestClientErrors(t *testing.T) {
	id := uniqueID("t-client-errors")
	def := apitest.Definition(id, "1", "hello", []map[string]any{apitest.Transform("hello", map[string]string{"email": "input.email"})}, nil)
	def["inputSchema"] = map[string]any{
		"type":     "object",
		"required": []string{"email", "name"},
		"properties": map[string]any{
			"email": map[string]any{"type": "string", "format": "email"},
			"age":   map[string]any{"type": "integer", "minimum": 0},
		},
	}
	register(t, def, http.StatusCreated)

	apitest.Expect(t, execute(t, "t-no-such-definition", "", nil), http.StatusNotFound, "definition_not_found")
	apitest.Expect(t, execute(t, id, "", `{"input": `), http.StatusBadRequest, "invalid_json")
	apitest.Expect(t, execute(t, id, "", `{"input": {}, "extra": 1}`), http.StatusBadRequest, "invalid_request")
	apitest.Expect(t, execute(t, id, "", `[1]`), http.StatusBadRequest, "invalid_request")
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", `{"id": `), http.StatusBadRequest, "invalid_json")
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", `{"id": 5}`), http.StatusBadRequest, "invalid_definition")
	apitest.Expect(t, call(t, http.MethodGet, "/api/executions/no-such-execution", nil), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, call(t, http.MethodGet, "/api/executions/"+strings.Repeat("x", 300), nil), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/no-such-execution/cancel", nil), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/no-such-execution/signals/go", nil), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, execute(t, id, "?wait=abc", map[string]any{"input": map[string]any{"email": "a@b.c", "name": "n"}}), http.StatusBadRequest, "invalid_wait")
	apitest.Expect(t, execute(t, id, "?wait=-1s", nil), http.StatusBadRequest, "invalid_wait")
	apitest.Expect(t, call(t, http.MethodGet, "/api/nowhere", nil), http.StatusNotFound, "not_found")
	apitest.Expect(t, call(t, http.MethodDelete, "/api/workflows", nil), http.StatusMethodNotAllowed, "method_not_allowed")

	big := `{"input": "` + strings.Repeat("a", int(env.bodyLimit)) + `"}`
	apitest.Expect(t, execute(t, id, "", big), http.StatusRequestEntityTooLarge, "payload_too_large")
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", big), http.StatusRequestEntityTooLarge, "payload_too_large")

	r := execute(t, id, "", map[string]any{"input": map[string]any{"email": "not-an-email", "age": -3}})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_input")
	var fields []fieldError
	if err := json.Unmarshal(r.Body.Error.Details, &fields); err != nil {
		t.Fatal(err)
	}
	byField := map[string]bool{}
	for _, f := range fields {
		byField[f.Field] = true
	}
	if !byField["name"] || !byField["age"] {
		t.Fatalf("invalid_input details %s: want name and age", r.Body.Error.Details)
	}

	r = execute(t, id, "?wait=5s", map[string]any{"input": map[string]any{"email": "a@example.com", "name": "n"}})
	apitest.Expect(t, r, http.StatusOK, "")
}

// Scenario 11: canceling a signal wait runs its error edge (compensation);
// the execution ends canceled.
func TestCancelCompensates(t *testing.T) {
	id := uniqueID("t-cancel")
	register(t, apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
		apitest.Transform("proceed", map[string]string{"ok": "true"}),
		apitest.Transform("compensate", map[string]string{"undone": "errors.approval.type"}),
	}, []map[string]any{apitest.Edge("approval", "proceed"), apitest.Edge("approval", "compensate", "on", "error")}), http.StatusCreated)

	r := execute(t, id, "", nil, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	waitFor(t, res.ExecutionID, func(v executionView) bool {
		return len(v.Nodes) > 0 && nodeByID(t, v, "approval").Status == interpreter.StatusWaiting
	})

	c := call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/cancel", nil)
	apitest.Expect(t, c, http.StatusAccepted, "")
	var cancelData struct {
		ExecutionID string `json:"executionId"`
		Status      string `json:"status"`
	}
	c.DecodeData(t, &cancelData)
	if cancelData.ExecutionID != res.ExecutionID || cancelData.Status != "canceling" {
		t.Fatalf("cancel answer %s", c.Body.Data)
	}

	v := waitFor(t, res.ExecutionID, statusIs("canceled"))
	if v.Error == nil || v.Error.Code != "execution_canceled" {
		t.Fatalf("canceled execution error %+v", v.Error)
	}
	if n := nodeByID(t, v, "compensate"); n.Status != interpreter.StatusCompleted {
		t.Fatalf("compensate node %+v, want completed", n)
	}
	if n := nodeByID(t, v, "proceed"); n.Status != interpreter.StatusSkipped {
		t.Fatalf("proceed node %+v, want skipped", n)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/cancel", nil), http.StatusConflict, "execution_finished")
	recordHistory(t, "cancel-compensation", res.ExecutionID, res.RunID)
}

// Scenario 12: executions are listed from visibility by definition.
func TestListExecutions(t *testing.T) {
	id := uniqueID("t-list")
	register(t, apitest.Definition(id, "1", "hello", []map[string]any{apitest.Transform("hello", map[string]string{"v": "1"})}, nil), http.StatusCreated)
	started := map[string]bool{}
	for range 3 {
		r := execute(t, id, "", nil)
		apitest.Expect(t, r, http.StatusOK, "")
		var res executeResponse
		r.DecodeData(t, &res)
		started[res.ExecutionID] = true
	}

	type listPage struct {
		Executions    []executionView `json:"executions"`
		NextPageToken string          `json:"nextPageToken"`
	}
	// Visibility is eventually consistent: poll.
	page := poll(t, fmt.Sprintf("listing the %d completed executions", len(started)), func() listPage {
		r := call(t, http.MethodGet, "/api/executions?definitionId="+id+"&status=completed", nil)
		apitest.Expect(t, r, http.StatusOK, "")
		var p listPage
		r.DecodeData(t, &p)
		return p
	}, func(p listPage) bool { return len(p.Executions) == len(started) })
	for _, e := range page.Executions {
		if !started[e.ExecutionID] || e.DefinitionID != id || e.Version != "1" || e.Status != "completed" ||
			e.ClosedAt == nil || e.StartedAt.IsZero() || e.UIURL == "" || e.RunID == "" {
			t.Fatalf("unexpected item %+v", e)
		}
	}

	// Pagination: two pages of 2 and 1.
	r := call(t, http.MethodGet, "/api/executions?definitionId="+id+"&pageSize=2", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	r.DecodeData(t, &page)
	if len(page.Executions) != 2 || page.NextPageToken == "" {
		t.Fatalf("first page %s", r.Body.Data)
	}
	seen := map[string]bool{page.Executions[0].ExecutionID: true, page.Executions[1].ExecutionID: true}
	r = call(t, http.MethodGet, "/api/executions?definitionId="+id+"&pageSize=2&pageToken="+page.NextPageToken, nil)
	apitest.Expect(t, r, http.StatusOK, "")
	r.DecodeData(t, &page)
	if len(page.Executions) != 1 || seen[page.Executions[0].ExecutionID] {
		t.Fatalf("second page %s", r.Body.Data)
	}

	// Time filters.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = call(t, http.MethodGet, "/api/executions?definitionId="+id+"&startedAfter="+future, nil)
	apitest.Expect(t, r, http.StatusOK, "")
	r.DecodeData(t, &page)
	if len(page.Executions) != 0 {
		t.Fatalf("startedAfter the future listed %d", len(page.Executions))
	}

	// Every bad parameter is reported; nothing reaches the query.
	r = call(t, http.MethodGet, "/api/executions?definitionId=x'%20OR%20'1'='1&status=done&startedAfter=yesterday&startedBefore=2025-13-01&pageSize=500&pageToken=***", nil)
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_query")
	var bad []fieldError
	if err := json.Unmarshal(r.Body.Error.Details, &bad); err != nil {
		t.Fatal(err)
	}
	if len(bad) != 6 {
		t.Fatalf("bad parameters reported: %s", r.Body.Error.Details)
	}
}

func TestHealth(t *testing.T) {
	r := call(t, http.MethodGet, "/health", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("health %d: %s", r.Status, r.Raw)
	}
	var h struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(r.Raw, &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Checks["temporal"] != "ok" || h.Checks["database"] != "ok" {
		t.Fatalf("health %s", r.Raw)
	}
}

// A request id comes back on every response, errors included.
func TestRequestID(t *testing.T) {
	r := call(t, http.MethodGet, "/api/nowhere", nil)
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}
}

// A terminated execution reads back as terminated, and a keyed retry that
// attaches to it answers 409 execution_terminated with its id.
func TestTerminatedExecution(t *testing.T) {
	id := uniqueID("t-terminated")
	register(t, apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
	}, nil), http.StatusCreated)

	r := execute(t, id, "", nil, "Prefer", "respond-async", "Idempotency-Key", "term")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	if err := env.client.TerminateWorkflow(t.Context(), res.ExecutionID, res.RunID, "test"); err != nil {
		t.Fatal(err)
	}
	v := waitFor(t, res.ExecutionID, statusIs("terminated"))
	if v.Error == nil || v.Error.Code != "execution_terminated" || v.Error.HTTPStatus != http.StatusConflict {
		t.Fatalf("terminated execution error %+v", v.Error)
	}
	retry := execute(t, id, "", nil, "Idempotency-Key", "term")
	apitest.Expect(t, retry, http.StatusConflict, "execution_terminated")
	if retry.Body.Error.ExecutionID != res.ExecutionID || retry.Body.Error.RunID != res.RunID {
		t.Fatalf("retry error %s", retry.Raw)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/approve", nil), http.StatusConflict, "execution_finished")
}

// Executions of other workflow types are not this API's: 404.
func TestOtherWorkflowTypeIsNotFound(t *testing.T) {
	other := uniqueID("t-other-type")
	run, err := env.client.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID: other, TaskQueue: "api-test-nobody-polls",
	}, "SomethingElse")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.client.TerminateWorkflow(context.WithoutCancel(t.Context()), run.GetID(), run.GetRunID(), "test done")
	})
	apitest.Expect(t, call(t, http.MethodGet, "/api/executions/"+other, nil), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+other+"/cancel", nil), http.StatusNotFound, "execution_not_found")
}

// A terminated execution is redriven in a new run of the same id: the
// node that was waiting waits again, the completed one keeps its state
// and output (it does not run again), and the execution completes once
// signaled. A running or completed execution is refused.
func TestRedriveTerminatedExecution(t *testing.T) {
	id := uniqueID("t-redrive")
	register(t, apitest.Definition(id, "1", "prep", []map[string]any{
		apitest.Transform("prep", map[string]string{"v": "input.n * 2"}),
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
		apitest.Transform("done", map[string]string{"v": "nodes.prep.v + 1"}),
	}, []map[string]any{apitest.Edge("prep", "approval"), apitest.Edge("approval", "done")}), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{"n": 20}}, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	before := waitFor(t, res.ExecutionID, func(v executionView) bool {
		return len(v.Nodes) == 3 && v.Nodes[1].Status == interpreter.StatusWaiting
	})
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/redrive", nil), http.StatusConflict, "execution_running")
	if err := env.client.TerminateWorkflow(t.Context(), res.ExecutionID, res.RunID, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, res.ExecutionID, statusIs("terminated"))

	redrive := call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/redrive", nil)
	apitest.Expect(t, redrive, http.StatusAccepted, "")
	var rd struct {
		ExecutionID   string `json:"executionId"`
		RunID         string `json:"runId"`
		PreviousRunID string `json:"previousRunId"`
	}
	redrive.DecodeData(t, &rd)
	if rd.ExecutionID != res.ExecutionID || rd.PreviousRunID != res.RunID || rd.RunID == res.RunID {
		t.Fatalf("redrive answered %s", redrive.Raw)
	}
	after := waitFor(t, res.ExecutionID, func(v executionView) bool {
		return v.RunID == rd.RunID && len(v.Nodes) == 3 && v.Nodes[1].Status == interpreter.StatusWaiting
	})
	if p, q := before.Nodes[0], after.Nodes[0]; q.Status != interpreter.StatusCompleted || !q.StartedAt.Equal(*p.StartedAt) || !q.FinishedAt.Equal(*p.FinishedAt) {
		t.Errorf("prep before %+v, after the redrive %+v: it must not run again", p, q)
	}
	if !after.StartedAt.Equal(before.StartedAt) {
		t.Errorf("startedAt %v after the redrive, want the first run's %v", after.StartedAt, before.StartedAt)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/approve", nil), http.StatusAccepted, "")
	final := waitFor(t, res.ExecutionID, statusIs("completed"))
	if string(final.Output) != `{"done":{"v":41}}` {
		t.Errorf("output %s, want done reading prep's recorded output", final.Output)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/redrive", nil), http.StatusConflict, "execution_completed")
}

// POST /api/executions/redrive redrives the page of executions the filter
// selects; executions whose latest run was already redriven are listed
// with the reason, not redriven twice.
func TestBulkRedrive(t *testing.T) {
	id := uniqueID("t-bulk-redrive")
	register(t, apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
	}, nil), http.StatusCreated)
	var ids []string
	for range 2 {
		r := execute(t, id, "", nil, "Prefer", "respond-async")
		apitest.Expect(t, r, http.StatusAccepted, "")
		var res executeResponse
		r.DecodeData(t, &res)
		waitFor(t, res.ExecutionID, func(v executionView) bool { return len(v.Nodes) == 1 && v.Nodes[0].Status == interpreter.StatusWaiting })
		if err := env.client.TerminateWorkflow(t.Context(), res.ExecutionID, res.RunID, "test"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ExecutionID)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/redrive?definitionId="+id, nil), http.StatusBadRequest, "invalid_query")

	type bulk struct {
		Count       int `json:"count"`
		NotRedriven []struct {
			ExecutionID string `json:"executionId"`
			Code        string `json:"code"`
		} `json:"notRedriven"`
	}
	// Visibility catches up with the terminations.
	first := poll(t, "bulk redrive", func() bulk {
		r := call(t, http.MethodPost, "/api/executions/redrive?status=terminated&definitionId="+id, nil)
		apitest.Expect(t, r, http.StatusOK, "")
		var b bulk
		r.DecodeData(t, &b)
		return b
	}, func(b bulk) bool { return b.Count+len(b.NotRedriven) == 2 })
	// Both were redriven, by this call or an earlier poll of it.
	for _, x := range ids {
		if v := getExecution(t, x); v.Status != "running" {
			t.Errorf("%s is %s after the bulk redrive", x, v.Status)
		}
	}
	for _, n := range first.NotRedriven {
		if n.Code != "execution_running" {
			t.Errorf("not redriven: %+v", n)
		}
	}
	r := call(t, http.MethodPost, "/api/executions/redrive?status=terminated&definitionId="+id, nil)
	var again bulk
	r.DecodeData(t, &again)
	if again.Count != 0 || len(again.NotRedriven) != 2 {
		t.Errorf("a second bulk redrive: %s", r.Raw)
	}
}
