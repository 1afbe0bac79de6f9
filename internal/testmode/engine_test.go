package testmode_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

func newEngine(t testing.TB) *testmode.Engine {
	t.Helper()
	env, err := expr.New(expr.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return &testmode.Engine{Registry: interpreter.NewRegistry(activities.NodeTypes(activities.IOOptions{})...), Exprs: env}
}

// run parses doc and runs it with the mocks (JSON) on input.
func run(t *testing.T, e *testmode.Engine, doc, input, mocks string) (*testmode.Result, []problem.Problem) {
	t.Helper()
	def, problems := interpreter.Parse([]byte(doc), e.Registry, e.Exprs)
	if len(problems) > 0 {
		t.Fatalf("definition problems: %+v", problems)
	}
	r := testmode.Run{Definition: def}
	if err := json.Unmarshal([]byte(input), &r.Input); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mocks), &r.Mocks); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, problems, err := e.Execute(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the run took %s; test mode skips timers and does no I/O", d)
	}
	return res, problems
}

func node(t *testing.T, res *testmode.Result, id string) testmode.Node {
	t.Helper()
	for _, n := range res.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("no node %s in %+v", id, res.Nodes)
	return testmode.Node{}
}

func wantPath(t *testing.T, res *testmode.Result, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(res.Path, want) {
		t.Errorf("path %v, want %v", res.Path, want)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const chargeFlow = `{"id": "pay", "version": "1", "startNode": "check",
	"output": {"paid": "has(nodes.charge) ? nodes.charge.paymentIntentId : ''", "note": "has(nodes.apology) ? nodes.apology.text : ''"},
	"nodes": [
		{"id": "check", "type": "validation", "config": {"rules": [{"field": "amount", "operator": "min", "value": 1}]}},
		{"id": "charge", "type": "external_service", "retry": {"maximumAttempts": 3, "initialInterval": "10m"},
		 "config": {"service": "stripe", "operation": "charge", "params": {"amount": "input.amount", "currency": "'usd'", "paymentMethodId": "'pm_card_visa'"}}},
		{"id": "receipt", "type": "email", "config": {"to": "'a@example.com'", "subject": "'paid ' + nodes.charge.paymentIntentId", "text": "'thanks'"}},
		{"id": "apology", "type": "transform", "config": {"mapping": {"text": "'declined: ' + errors.charge.type"}}}
	],
	"edges": [
		{"source": "check", "target": "charge"},
		{"source": "charge", "target": "receipt"},
		{"source": "charge", "target": "apology", "on": "error"}
	]}`

func TestMockedSuccess(t *testing.T) {
	e := newEngine(t)
	res, problems := run(t, e, chargeFlow, `{"amount": 5}`, `{
		"charge": {"output": {"paymentIntentId": "pi_1"}},
		"receipt": {"output": {"sent": true}}}`)
	if problems != nil {
		t.Fatal(problems)
	}
	if res.Status != "completed" || jsonOf(res.Output) != `{"note":"","paid":"pi_1"}` {
		t.Fatalf("status %s output %s error %+v", res.Status, jsonOf(res.Output), res.Error)
	}
	wantPath(t, res, "check", "charge", "receipt")
	if got := jsonOf(node(t, res, "receipt").Output); got != `{"sent":true}` {
		t.Errorf("receipt output %s", got)
	}
	if n := node(t, res, "check"); n.Status != "completed" || n.Output == nil {
		t.Errorf("the validation node ran for real: %+v", n)
	}
	if n := node(t, res, "apology"); n.Status != "skipped" {
		t.Errorf("apology %+v", n)
	}
}

func TestMockedErrorTakesTheErrorEdge(t *testing.T) {
	e := newEngine(t)
	res, _ := run(t, e, chargeFlow, `{"amount": 5}`, `{
		"charge": {"error": {"type": "PaymentDeclined", "message": "card declined"}},
		"receipt": {"output": {}}}`)
	if res.Status != "completed" || jsonOf(res.Output) != `{"note":"declined: PaymentDeclined","paid":""}` {
		t.Fatalf("status %s output %s error %+v", res.Status, jsonOf(res.Output), res.Error)
	}
	wantPath(t, res, "check", "charge", "apology")
	charge := node(t, res, "charge")
	if charge.Status != "failed" || charge.Attempts != 1 || charge.ErrorType != "PaymentDeclined" || charge.Error != "card declined" {
		t.Errorf("charge %+v: a non-retryable mock error fails the node at once", charge)
	}
}

func TestPerAttemptMocksRetryThenSucceed(t *testing.T) {
	e := newEngine(t)
	start := time.Now()
	res, _ := run(t, e, chargeFlow, `{"amount": 5}`, `{
		"charge": [
			{"error": {"type": "ProviderUnavailable", "message": "503", "retryable": true}},
			{"output": {"paymentIntentId": "pi_2"}}
		],
		"receipt": {"output": {}}}`)
	if res.Status != "completed" || jsonOf(res.Output) != `{"note":"","paid":"pi_2"}` {
		t.Fatalf("status %s output %s error %+v", res.Status, jsonOf(res.Output), res.Error)
	}
	if n := node(t, res, "charge"); n.Attempts != 2 || n.Status != "completed" {
		t.Errorf("charge %+v, want completed after 2 attempts", n)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the ten-minute retry interval was not skipped")
	}
}

func TestRetryableMockErrorExhaustsTheRetries(t *testing.T) {
	e := newEngine(t)
	res, _ := run(t, e, chargeFlow, `{"amount": 5}`, `{
		"charge": {"error": {"type": "ProviderUnavailable", "message": "503", "retryable": true}},
		"receipt": {"output": {}}}`)
	if n := node(t, res, "charge"); n.Attempts != 3 || n.Status != "failed" {
		t.Errorf("charge %+v, want failed after its 3 attempts", n)
	}
	wantPath(t, res, "check", "charge", "apology")
}

func TestConditionBranch(t *testing.T) {
	e := newEngine(t)
	doc := `{"id": "branch", "version": "1", "startNode": "big",
		"nodes": [
			{"id": "big", "type": "condition", "config": {"expression": "input.amount >= 1000"}},
			{"id": "notify", "type": "notification", "config": {"url": "'https://hooks.example.com/x'", "message": "'big order'"}},
			{"id": "small", "type": "transform", "config": {"mapping": {"ok": "true"}}}
		],
		"edges": [
			{"source": "big", "target": "notify", "on": "true"},
			{"source": "big", "target": "small", "on": "false"}
		]}`
	mocks := `{"notify": {"output": {"status": 200}}}`
	res, _ := run(t, e, doc, `{"amount": 5000}`, mocks)
	wantPath(t, res, "big", "notify")
	res, _ = run(t, e, doc, `{"amount": 5}`, mocks)
	wantPath(t, res, "big", "small")
	if n := node(t, res, "notify"); n.Status != "skipped" {
		t.Errorf("notify %+v", n)
	}
}

func TestUnmockedIONodesAreAllRefused(t *testing.T) {
	e := newEngine(t)
	res, problems := run(t, e, chargeFlow, `{"amount": 5}`, `{"check": {"output": {}}, "nope": {"output": 1}}`)
	if res != nil {
		t.Fatal("a refused run has no result")
	}
	got := map[string]string{}
	for _, p := range problems {
		got[p.Path] = p.Code + ": " + p.Message
	}
	want := map[string]string{
		"mocks.charge":  "missing_mock: node charge has no mock",
		"mocks.receipt": "missing_mock: node receipt has no mock",
		"mocks.check":   "invalid_mock: node check (validation) runs for real",
		"mocks.nope":    "invalid_mock: the definition has no node nope",
	}
	if len(got) != len(want) {
		t.Errorf("problems %+v, want %d", problems, len(want))
	}
	for path, prefix := range want {
		if !strings.HasPrefix(got[path], prefix) {
			t.Errorf("%s: %q, want %q…", path, got[path], prefix)
		}
	}
}

func TestWaitTimerIsSkipped(t *testing.T) {
	e := newEngine(t)
	doc := `{"id": "later", "version": "1", "startNode": "pause",
		"nodes": [
			{"id": "pause", "type": "wait", "config": {"duration": "72h"}},
			{"id": "approval", "type": "wait", "config": {"signal": "approve"}},
			{"id": "remind", "type": "wait", "config": {"signal": "nudge", "timeout": "24h"}},
			{"id": "done", "type": "transform", "config": {"mapping": {"by": "nodes.approval.by"}}}
		],
		"edges": [
			{"source": "pause", "target": "approval"},
			{"source": "approval", "target": "remind"},
			{"source": "remind", "target": "done", "on": "timeout"}
		]}`
	start := time.Now()
	res, problems := run(t, e, doc, `{}`, `{"approval": {"output": {"by": "ann"}}}`)
	if problems != nil {
		t.Fatal(problems)
	}
	if time.Since(start) > 3*time.Second {
		t.Error("the 72h timer was not skipped")
	}
	if res.Status != "completed" || jsonOf(node(t, res, "done").Output) != `{"by":"ann"}` {
		t.Fatalf("status %s error %+v nodes %+v", res.Status, res.Error, res.Nodes)
	}
	wantPath(t, res, "pause", "approval", "remind", "done")

	// A signal wait without a timeout cannot end without its mock.
	_, problems = run(t, e, doc, `{}`, `{}`)
	if len(problems) != 1 || problems[0].Path != "mocks.approval" || problems[0].Code != problem.CodeMissingMock {
		t.Errorf("problems %+v", problems)
	}
}

func TestCallNodesAreRefused(t *testing.T) {
	e := newEngine(t)
	_, problems := run(t, e, `{"id": "outer", "version": "1", "startNode": "c",
		"nodes": [{"id": "c", "type": "call", "config": {"definition": "inner", "version": "1"}}], "edges": []}`, `{}`, `{}`)
	if len(problems) != 1 || problems[0].Code != problem.CodeInvalidMock || !strings.Contains(problems[0].Message, "call node") {
		t.Errorf("problems %+v", problems)
	}
}

// A loop or map runs in test mode when its body is a pure node, and is
// refused when its body runs a definition or an I/O node.
func TestLoopAndMapBodies(t *testing.T) {
	e := newEngine(t)
	res, problems := run(t, e, `{"id": "m", "version": "1", "startNode": "each",
		"nodes": [{"id": "each", "type": "map", "config": {"items": "input.xs", "maxItems": 10,
			"body": {"node": {"type": "transform", "config": {"mapping": {"twice": "item * 2"}}}}}}], "edges": []}`, `{"xs": [1, 2, 3]}`, `{}`)
	if len(problems) != 0 || res == nil || res.Status != "completed" {
		t.Fatalf("a pure map body: %+v %+v", res, problems)
	}
	for _, doc := range []string{
		`{"id": "m", "version": "1", "startNode": "each", "nodes": [{"id": "each", "type": "map", "config": {"items": "input.xs", "maxItems": 10,
			"body": {"definition": "inner", "version": "1"}}}], "edges": []}`,
		`{"id": "l", "version": "1", "startNode": "poll", "nodes": [{"id": "poll", "type": "loop", "config": {"until": "true", "maxIterations": 3,
			"body": {"node": {"type": "api_call", "config": {"method": "GET", "url": "'https://example.com'"}}}}}], "edges": []}`,
	} {
		_, problems := run(t, e, doc, `{"xs": [1]}`, `{}`)
		if len(problems) != 1 || problems[0].Code != problem.CodeInvalidMock || !strings.Contains(problems[0].Message, "only pure bodies") {
			t.Errorf("problems %+v", problems)
		}
	}
}

// The shipped order definition, declined at the charge: the stock is
// released and the execution ends at the 402 fail node.
func TestOrderProcessingDeclinedPayment(t *testing.T) {
	e := newEngine(t)
	doc, err := os.ReadFile("../../workflows/order-processing.json")
	if err != nil {
		t.Fatal(err)
	}
	notReached := `{"error": {"type": "NotReached", "message": "this path is not taken"}}`
	mocks := `{
		"load_customer": {"output": {"found": true, "row": {"id": 7, "email": "ann@example.com", "name": "Ann"}}},
		"load_products": {"output": {"results": [{"found": true, "row": {"id": 1, "name": "Mug", "price_cents": 1250, "currency": "usd"}}]}},
		"reserve_stock": {"output": {"rowsAffected": 1}},
		"charge": {"error": {"type": "PaymentDeclined", "message": "Your card was declined."}},
		"release_unpaid_stock": {"output": {"rowsAffected": 1}},
		"record_payment": ` + notReached + `, "create_order": ` + notReached + `, "add_items": ` + notReached + `,
		"link_payment": ` + notReached + `, "refund": ` + notReached + `, "mark_refunded": ` + notReached + `,
		"cancel_order": ` + notReached + `, "release_paid_stock": ` + notReached + `, "confirmation_email": ` + notReached + `}`
	res, problems := run(t, e, string(doc), `{"customerId": 7, "items": [{"productId": 1, "quantity": 2}], "totalAmount": 25}`, mocks)
	if problems != nil {
		t.Fatal(problems)
	}
	if res.Status != "failed" || res.Error == nil || res.Error.Status != 402 || res.Error.Code != "payment_declined" {
		t.Fatalf("status %s error %+v", res.Status, res.Error)
	}
	wantPath(t, res, "validate", "normalize", "load_customer", "customer_found", "load_products", "products_found",
		"price", "amount_matches", "reserve_stock", "charge", "release_unpaid_stock", "payment_declined")
	if got := jsonOf(node(t, res, "price").Output); got != `{"amountCents":2500,"currency":"usd"}` {
		t.Errorf("price (a real transform over the mocked rows) %s", got)
	}
}

func TestTimeoutBoundsARun(t *testing.T) {
	e := newEngine(t)
	e.Timeout = time.Millisecond
	def, problems := interpreter.Parse([]byte(chargeFlow), e.Registry, e.Exprs)
	if problems != nil {
		t.Fatal(problems)
	}
	var mocks map[string]testmode.Mock
	_ = json.Unmarshal([]byte(`{"charge": {"output": {}}, "receipt": {"output": {}}}`), &mocks)
	_, _, err := e.Execute(context.Background(), testmode.Run{Definition: def, Input: map[string]any{"amount": 5.0}, Mocks: mocks})
	if !errors.Is(err, testmode.ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
}
