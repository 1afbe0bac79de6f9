package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// testModeAPI serves an API whose test mode knows every node type (the
// real engine: it runs in milliseconds, without Temporal).
func testModeAPI(t *testing.T) (string, *fakeExecutions) {
	t.Helper()
	o, fake := testOptions(t)
	full := interpreter.NewRegistry(activities.NodeTypes(activities.IOOptions{})...)
	o.Registry = full
	o.Tester = &testmode.Engine{Registry: full, Exprs: testExprs()}
	o.APIKeys = []APIKey{{Name: "alice", Secret: aliceKey}, {Name: "bob", Secret: bobKey}}
	return serve(t, o), fake
}

var payDefinition = map[string]any{
	"id": "pay", "version": "1", "startNode": "check",
	"inputSchema": map[string]any{"type": "object", "required": []string{"amount"}},
	"nodes": []map[string]any{
		apitest.Node("check", "condition", map[string]any{"expression": "input.amount > 0"}),
		apitest.Node("charge", "external_service", map[string]any{"service": "stripe", "operation": "charge",
			"params": map[string]string{"amount": "input.amount", "currency": "'usd'", "paymentMethodId": "'pm_card_visa'"}}),
		apitest.Node("receipt", "email", map[string]any{"to": "'a@example.com'", "subject": "'paid'", "text": "'thanks'"}),
		apitest.Node("declined", "fail", map[string]any{"status": 402, "code": "payment_declined", "message": "declined"}),
		apitest.Node("zero", "fail", map[string]any{"status": 400, "code": "zero_amount", "message": "nothing to pay"}),
	},
	"edges": []map[string]any{
		apitest.Edge("check", "charge", "on", "true"),
		apitest.Edge("check", "zero", "on", "false"),
		apitest.Edge("charge", "receipt"),
		apitest.Edge("charge", "declined", "on", "error", "condition", "errors.charge.type == 'PaymentDeclined'"),
	},
}

func TestWorkflowTestRunsAnInlineDefinition(t *testing.T) {
	base, fake := testModeAPI(t)
	r := callAt(t, base, http.MethodPost, "/api/workflows/test", map[string]any{
		"definition": payDefinition, "input": map[string]any{"amount": 12},
		"mocks": map[string]any{
			"charge":  map[string]any{"output": map[string]any{"paymentIntentId": "pi_1"}},
			"receipt": map[string]any{"output": map[string]any{"sent": true}},
		},
	}, bearer(aliceKey)...)
	apitest.Expect(t, r, http.StatusOK, "")
	var got struct {
		Status string         `json:"status"`
		Output map[string]any `json:"output"`
		Path   []string       `json:"path"`
		Nodes  []struct {
			ID, Status string
			Attempts   int
			Output     any
		} `json:"nodes"`
	}
	r.DecodeData(t, &got)
	if got.Status != "completed" || strings.Join(got.Path, ",") != "check,charge,receipt" {
		t.Fatalf("result %s", r.Body.Data)
	}
	if len(got.Nodes) != 5 || got.Nodes[1].ID != "charge" || got.Nodes[1].Status != "completed" || got.Nodes[1].Attempts != 1 || got.Nodes[4].Status != "skipped" {
		t.Errorf("nodes %+v", got.Nodes)
	}
	apitest.JSONEqual(t, r.Body.Data, map[string]any{
		"definitionId": "pay", "version": "1", "status": "completed", "path": got.Path,
		"output": map[string]any{"receipt": map[string]any{"sent": true}},
		"nodes":  decodeRaw(t, r, "nodes"),
	})
	if len(fake.started) != 0 {
		t.Errorf("test mode started %d executions on Temporal", len(fake.started))
	}
}

func decodeRaw(t *testing.T, r apitest.Response, key string) any {
	t.Helper()
	var m map[string]any
	r.DecodeData(t, &m)
	return m[key]
}

// A failed run shows its error as GET /api/executions/{id} does.
func TestWorkflowTestShowsTheFailureAsAnExecutionDoes(t *testing.T) {
	base, _ := testModeAPI(t)
	r := callAt(t, base, http.MethodPost, "/api/workflows/test", map[string]any{
		"definition": payDefinition, "input": map[string]any{"amount": 12},
		"mocks": map[string]any{
			"charge":  map[string]any{"error": map[string]any{"type": "PaymentDeclined", "message": "Your card was declined."}},
			"receipt": map[string]any{"output": nil},
		},
	}, bearer(aliceKey)...)
	apitest.Expect(t, r, http.StatusOK, "")
	var got struct {
		Status string
		Error  executionFailure
		Path   []string
	}
	r.DecodeData(t, &got)
	if got.Status != "failed" || got.Error.HTTPStatus != 402 || got.Error.Code != "payment_declined" || got.Error.Message != "declined" ||
		strings.Join(got.Path, ",") != "check,charge,declined" {
		t.Errorf("result %s", r.Body.Data)
	}
}

func TestWorkflowTestRefusals(t *testing.T) {
	base, _ := testModeAPI(t)
	post := func(body any) apitest.Response {
		return callAt(t, base, http.MethodPost, "/api/workflows/test", body, bearer(aliceKey)...)
	}
	// Every unmocked I/O node at once.
	r := post(map[string]any{"definition": payDefinition, "input": map[string]any{"amount": 1}, "mocks": map[string]any{}})
	apitest.Expect(t, r, http.StatusBadRequest, "test_not_runnable")
	apitest.JSONEqual(t, r.Body.Error.Details, []problem.Problem{
		{Path: "mocks.charge", Code: "missing_mock", Message: "node charge has no mock (external_service is an I/O node type: test mode never runs one)"},
		{Path: "mocks.receipt", Code: "missing_mock", Message: "node receipt has no mock (email is an I/O node type: test mode never runs one)"},
	})

	// A bad definition: the problems registration lists.
	bad := map[string]any{"id": "Bad Id", "version": "1", "startNode": "nowhere", "nodes": []map[string]any{apitest.Node("a", "teleport", nil)}}
	r = post(map[string]any{"definition": bad, "input": nil, "mocks": map[string]any{}})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	if d := string(r.Body.Error.Details); !strings.Contains(d, `"definition.id"`) || !strings.Contains(d, "unknown_node_type") || !strings.Contains(d, "missing_start_node") {
		t.Errorf("details %s", d)
	}

	// The input is checked against the inputSchema, as execute does.
	r = post(map[string]any{"definition": payDefinition, "input": map[string]any{}, "mocks": map[string]any{}})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_input")

	r = post(map[string]any{"input": 1})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_request")
	r = post(map[string]any{"id": "pay", "definition": payDefinition})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_request")
	r = post(map[string]any{"id": "nope", "input": 1})
	apitest.Expect(t, r, http.StatusNotFound, "definition_not_found")
	r = post(map[string]any{"definition": payDefinition, "mocks": map[string]any{"charge": map[string]any{"output": 1, "error": map[string]any{"type": "X"}}}})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_request")
	r = post(`{"definition": `)
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_json")
}

func TestWorkflowTestRunsARegisteredDefinition(t *testing.T) {
	o, _ := testOptions(t)
	base := serve(t, o)
	register(t, base, apitest.Definition("greet", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"hi": "'hello ' + input.name"})}, nil), http.StatusCreated)
	r := callAt(t, base, http.MethodPost, "/api/workflows/test", map[string]any{"id": "greet", "version": "1", "input": map[string]any{"name": "ann"}})
	apitest.Expect(t, r, http.StatusOK, "")
	var got struct{ Output map[string]any }
	r.DecodeData(t, &got)
	apitest.JSONEqual(t, r.Body.Data, map[string]any{
		"definitionId": "greet", "version": "1", "status": "completed", "path": []string{"a"},
		"output": map[string]any{"a": map[string]any{"hi": "hello ann"}}, "nodes": decodeRaw(t, r, "nodes"),
	})
	// "test" is reserved: no definition can hide behind the route.
	r = callAt(t, base, http.MethodPost, "/api/workflows", apitest.Definition("test", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
}

// stuckTester is a Tester whose runs never finish in time.
type stuckTester struct{ *testmode.Engine }

func (stuckTester) Execute(context.Context, testmode.Run) (*testmode.Result, []problem.Problem, error) {
	return nil, nil, testmode.ErrTimeout
}

func TestWorkflowTestTimeoutIs422(t *testing.T) {
	o, _ := testOptions(t)
	o.Tester = stuckTester{&testmode.Engine{Registry: o.Registry, Exprs: testExprs()}}
	base := serve(t, o)
	r := callAt(t, base, http.MethodPost, "/api/workflows/test", map[string]any{
		"definition": apitest.Definition("t", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil)})
	apitest.Expect(t, r, http.StatusUnprocessableEntity, "test_timeout")
}

// GET /api/executions/{id}/testcase: another caller's execution is not
// found; a running one has no test case yet.
func TestExecutionTestCaseAccess(t *testing.T) {
	base, fake := testModeAPI(t)
	fake.add("bobs", "pay", "1", "bob")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/bobs/testcase", nil, bearer(aliceKey)...), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/nope/testcase", nil, bearer(aliceKey)...), http.StatusNotFound, "execution_not_found")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/bobs/testcase", nil, bearer(bobKey)...), http.StatusConflict, "execution_running")
}

// blockingTester holds every run until release is closed.
type blockingTester struct {
	*testmode.Engine
	entered chan struct{}
	release chan struct{}
}

func (b blockingTester) Execute(ctx context.Context, r testmode.Run) (*testmode.Result, []problem.Problem, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Engine.Execute(ctx, r)
}

// Test runs take CPU in the API process: a few at a time, the next one
// refused with 503.
func TestWorkflowTestRunsAreBounded(t *testing.T) {
	o, _ := testOptions(t)
	s0 := newServer(t, o) // for the bound
	n := cap(s0.testRuns)
	// entered has room for the run after the held ones.
	bt := blockingTester{&testmode.Engine{Registry: o.Registry, Exprs: testExprs()}, make(chan struct{}, n+1), make(chan struct{})}
	o.Tester = bt
	s := newServer(t, o)
	base := serveServer(t, s)
	body := map[string]any{"definition": apitest.Definition("t", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil)}
	results := make(chan int, n)
	for range n {
		go func() { results <- callAt(t, base, http.MethodPost, "/api/workflows/test", body).Status }()
		<-bt.entered
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/test", body), http.StatusServiceUnavailable, "service_unavailable")
	close(bt.release)
	for range n {
		if status := <-results; status != http.StatusOK {
			t.Errorf("a held run answered %d", status)
		}
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/test", body), http.StatusOK, "")
}
