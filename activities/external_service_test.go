package activities

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/payments"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Both payment connectors are Connectors.
var (
	_ Connector = (*payments.Stripe)(nil)
	_ Connector = (*payments.Fake)(nil)
)

var paymentServices = map[string][]string{payments.ServiceStripe: payments.Operations()}

// serviceNodes returns the node activities with conn as the stripe service.
func serviceNodes(t *testing.T, conn Connector) *ServiceNodes {
	t.Helper()
	e := testExprs(t)
	return &ServiceNodes{Activities: &Activities{Expr: e}, Connectors: map[string]Connector{payments.ServiceStripe: conn}}
}

// newServiceEnv returns a test activity environment running external_service
// nodes on conn. Its activities run as if started by the workflow
// "default-test-workflow-id".
func newServiceEnv(t *testing.T, conn Connector) *testsuite.TestActivityEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	s := serviceNodes(t, conn)
	s.RegisterIO(env, &IO{Services: s})
	return env
}

func newStripe(t *testing.T, base string) *payments.Stripe {
	t.Helper()
	s, err := payments.NewStripe(payments.StripeConfig{SecretKey: testenv.StripeTestKey, APIBase: base})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const chargeConfig = `{"service": "stripe", "operation": "charge", "params": {
	"amount": "input.total * 100", "currency": "'usd'", "paymentMethodId": "input.paymentMethodId",
	"metadata": "{'customerId': input.customerId}"}}`

func TestExternalServiceCheckConfig(t *testing.T) {
	t.Parallel()
	p := problemAt
	nt := lookupType(t, TypeExternalService, IOOptions{Services: paymentServices})
	if nt.Kind != interpreter.KindIO || nt.Name != TypeExternalService {
		t.Fatalf("node type %+v", nt)
	}
	checkProblems(t, nt, chargeConfig, nil)
	checkProblems(t, nt, `{"service": "stripe", "operation": "refund", "params": {"paymentIntentId": "nodes.charge.paymentIntentId"}}`, nil)
	checkProblems(t, nt, `{}`, []interpreter.Problem{p("service", interpreter.CodeRequired), p("operation", interpreter.CodeRequired)})
	checkProblems(t, nt, `{"service": "paypal", "operation": "charge"}`, []interpreter.Problem{p("service", interpreter.CodeInvalidConfig)})
	checkProblems(t, nt, `{"service": "stripe", "operation": "capture"}`, []interpreter.Problem{p("operation", interpreter.CodeInvalidConfig)})
	checkProblems(t, nt, `{"service": "stripe", "operation": "charge", "params": {"b": "input.", "": "1", "a": ""}}`, []interpreter.Problem{
		p("params", interpreter.CodeInvalidConfig), p("params.a", interpreter.CodeRequired), p("params.b", interpreter.CodeInvalidExpression)})
	checkProblems(t, nt, `{"service": "stripe", "operation": "charge", "apiKey": "sk_live_x"}`, []interpreter.Problem{p("", interpreter.CodeInvalidConfig)})
}

// TestExternalServiceUnknownServiceAtRegistration registers a definition
// through the interpreter's validator: the problem names the node's config.
func TestExternalServiceUnknownServiceAtRegistration(t *testing.T) {
	t.Parallel()
	e := testExprs(t)
	def := `{"id": "pay", "version": "1", "startNode": "charge", "nodes": [
		{"id": "charge", "type": "external_service", "config": {"service": "paypal", "operation": "charge"}}]}`
	_, problems := interpreter.Parse([]byte(def), interpreter.NewRegistry(lookupType(t, TypeExternalService, IOOptions{Services: paymentServices})), e)
	if len(problems) != 1 || problems[0].Path != "nodes[0].config.service" || problems[0].Code != interpreter.CodeInvalidConfig ||
		!strings.Contains(problems[0].Message, `unknown service "paypal" (known: stripe)`) {
		t.Fatalf("problems %+v", problems)
	}
}

func TestExternalServiceStripeMock(t *testing.T) {
	t.Parallel()
	env := newServiceEnv(t, newStripe(t, testenv.StripeMock(t)))
	charge, err := execNode(t, env, nodeRequest(t, "charge", TypeExternalService, chargeConfig,
		`{"total": 20, "paymentMethodId": "pm_card_visa", "customerId": "123"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := charge.Output.(map[string]any)
	if id, _ := out["paymentIntentId"].(string); !strings.HasPrefix(id, "pi_") || out["amount"] != 2000.0 || out["currency"] != "usd" {
		t.Fatalf("charge output %v", charge.Output)
	}

	refund := nodeRequest(t, "refund", TypeExternalService,
		`{"service": "stripe", "operation": "refund", "params": {"paymentIntentId": "nodes.charge.paymentIntentId"}}`, `{}`)
	refund.Scope.Nodes = map[string]any{"charge": charge.Output}
	res, err := execNode(t, env, refund)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := res.Output.(map[string]any); !strings.HasPrefix(out["refundId"].(string), "re_") || out["status"] != "succeeded" {
		t.Fatalf("refund output %v", res.Output)
	}
}

// TestExternalServiceIdempotencyKey: the key is <workflow id>/<node id>.
func TestExternalServiceIdempotencyKey(t *testing.T) {
	t.Parallel()
	srv := testenv.NewStripeServer(t)
	env := newServiceEnv(t, newStripe(t, srv.URL))
	input := `{"total": 20, "paymentMethodId": "pm_card_visa", "customerId": "123"}`
	for _, node := range []string{"charge", "charge", "charge_again"} {
		if _, err := execNode(t, env, nodeRequest(t, node, TypeExternalService, chargeConfig, input)); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.Requests()
	want := []string{"default-test-workflow-id/charge", "default-test-workflow-id/charge", "default-test-workflow-id/charge_again"}
	if len(reqs) != len(want) || reqs[0].Form.Get("amount") != "2000" || reqs[0].Form.Get("metadata[customerId]") != "123" {
		t.Fatalf("requests %+v", reqs)
	}
	for i, r := range reqs {
		if r.IdempotencyKey != want[i] {
			t.Fatalf("request %d key %q, want %q", i, r.IdempotencyKey, want[i])
		}
	}

	// Outside a workflow there is no execution to key the payment on.
	env.SetExecuteActivitiesInWorkflow(false)
	_, err := execNode(t, env, nodeRequest(t, "charge", TypeExternalService, chargeConfig, input))
	appError(t, err, interpreter.ErrConfiguration)
	if len(srv.Requests()) != len(want) {
		t.Fatal("a charge without an idempotency key reached Stripe")
	}
}

// runChargeWorkflow runs one charge node in a workflow with id "order-42"
// and a retry policy of three attempts, as the interpreter schedules it.
func runChargeWorkflow(t *testing.T, conn Connector, input string) (interpreter.NodeResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	s := serviceNodes(t, conn)
	s.RegisterIO(env, &IO{Services: s})
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		})
		var res interpreter.NodeResult
		err := workflow.ExecuteActivity(ctx, TypeExternalService, req).Get(ctx, &res)
		return res, err
	}, workflow.RegisterOptions{Name: "charge"})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "order-42"})
	env.ExecuteWorkflow("charge", nodeRequest(t, "charge", TypeExternalService, chargeConfig, input))
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res interpreter.NodeResult
	if err := env.GetWorkflowError(); err != nil {
		return res, err
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

// A Stripe 500 on the first attempt, then success: Temporal retries the
// activity, the retry carries the same key, exactly one charge succeeds.
func TestExternalServiceRetryKeepsKey(t *testing.T) {
	t.Parallel()
	srv := testenv.NewStripeServer(t, testenv.StripeError(500, "api_error", "", "", "Something went wrong"), testenv.StripeOK)
	res, err := runChargeWorkflow(t, newStripe(t, srv.URL), `{"total": 20, "paymentMethodId": "pm_card_visa", "customerId": "123"}`)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := res.Output.(map[string]any); res.Attempt != 2 || out["status"] != "succeeded" {
		t.Fatalf("result %+v", res)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Status != 500 || reqs[1].Status != 200 {
		t.Fatalf("requests %+v, want a 500 then one successful charge", reqs)
	}
	for _, r := range reqs {
		if r.IdempotencyKey != "order-42/charge" {
			t.Fatalf("key %q, want order-42/charge on every attempt", r.IdempotencyKey)
		}
	}
}

// A decline fails the node at once: PaymentDeclined is not retried.
func TestExternalServiceDecline(t *testing.T) {
	t.Parallel()
	srv := testenv.NewStripeServer(t, testenv.StripeDecline("generic_decline", "Your card was declined."))
	_, err := runChargeWorkflow(t, newStripe(t, srv.URL), `{"total": 20, "paymentMethodId": "pm_card_chargeDeclined", "customerId": "123"}`)
	var f payments.Failure
	if err := appError(t, err, payments.ErrDeclined).Details(&f); err != nil {
		t.Fatal(err)
	}
	if f.DeclineCode != "generic_decline" || !strings.Contains(err.Error(), "Your card was declined.") {
		t.Fatalf("failure %+v (%v)", f, err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1: a decline must not be retried", n)
	}
}

func TestExternalServiceFake(t *testing.T) {
	t.Parallel()
	fake := payments.NewFake()
	env := newServiceEnv(t, fake)
	req := nodeRequest(t, "charge", TypeExternalService, chargeConfig, `{"total": 20, "paymentMethodId": "pm_card_visa", "customerId": "123"}`)
	first, err := execNode(t, env, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := execNode(t, env, req) // a retry of the same node
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, again.Output, `{"paymentIntentId": "`+first.Output.(map[string]any)["paymentIntentId"].(string)+`",
		"status": "succeeded", "amount": 2000, "currency": "usd"}`)
	if charges := fake.Charges(); len(charges) != 1 || charges[0].IdempotencyKey != "default-test-workflow-id/charge" {
		t.Fatalf("charges %+v, want one", charges)
	}

	declined := nodeRequest(t, "charge2", TypeExternalService, chargeConfig,
		`{"total": 20, "paymentMethodId": "`+payments.FakeDeclineToken+`", "customerId": "123"}`)
	_, err = execNode(t, env, declined)
	appError(t, err, payments.ErrDeclined)
}

func TestExternalServiceFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, input string
		typ                 string
		want                string
	}{
		{"card number", chargeConfig, `{"total": 20, "paymentMethodId": "4242 4242 4242 4242", "customerId": "123"}`,
			payments.ErrInvalid, "paymentMethodId looks like a card number"},
		{"amount not in cents", `{"service": "stripe", "operation": "charge", "params": {"amount": "input.total", "currency": "'usd'", "paymentMethodId": "'pm_card_visa'"}}`,
			`{"total": 19.99}`, payments.ErrInvalid, "got 19.99"},
		{"param expression", chargeConfig, `{"paymentMethodId": "pm_card_visa"}`, interpreter.ErrExpression, `node "pay": params.amount`},
		{"no connector", `{"service": "paypal", "operation": "charge"}`, `{}`, interpreter.ErrConfiguration, `no connector for service "paypal"`},
		{"bad config", `{"service": "stripe"}`, `{}`, interpreter.ErrConfiguration, "operation"},
	}
	env := newServiceEnv(t, payments.NewFake())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execNode(t, env, nodeRequest(t, "pay", TypeExternalService, tt.config, tt.input))
			msg := appError(t, err, tt.typ).Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "4242") {
				t.Fatalf("message %q, want one containing %q and no card number", msg, tt.want)
			}
		})
	}
}
