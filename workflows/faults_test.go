package workflows_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestPaymentFaults runs the order flow against a scripted Stripe API (for
// what stripe-mock cannot do: declines, server errors, distinct ids) on each
// app database.
func TestPaymentFaults(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b testenv.Backend) {
		t.Run("Declined", func(t *testing.T) { testDeclined(t, b) })
		t.Run("PaymentFailed", func(t *testing.T) { testPaymentFailed(t, b) })
		t.Run("StripeErrorThenSuccess", func(t *testing.T) { testStripeErrorThenSuccess(t, b) })
		t.Run("SendGridErrorThenSuccess", func(t *testing.T) { testSendGridErrorThenSuccess(t, b) })
		t.Run("ConcurrentOrdersForScarceStock", func(t *testing.T) { testScarceStock(t, b) })
	})
}

const oneKeyboard = `{"customerId": 123, "items": [{"productId": 456, "quantity": 1}], "totalAmount": 49.99, "paymentMethodId": "pm_card_visa"}`

// A declined card: 402, no order, the stock given back.
func testDeclined(t *testing.T, b testenv.Backend) {
	stripe := testenv.NewStripeServer(t, testenv.StripeDecline("insufficient_funds", "Your card has insufficient funds."))
	e := newFlowEnv(t, b.URL(t), stripe.URL, nil)
	before := e.stock(t, 456)
	r := e.post(t, "/api/orders/process", oneKeyboard)
	if r.Status != http.StatusPaymentRequired || r.Error.Code != "payment_declined" {
		t.Fatalf("declined order: %d %s", r.Status, r.Raw)
	}
	e.checkGolden(t, "order-processing-declined", r)
	if got := e.stock(t, 456); got != before {
		t.Errorf("stock = %d after a decline, want %d", got, before)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM orders`); n != 0 {
		t.Errorf("%d orders after a decline", n)
	}
	if reqs := stripe.Requests(); len(reqs) != 1 {
		t.Errorf("a decline was retried: %d requests", len(reqs))
	}
}

// Stripe refuses the API key: nothing can be charged, the failure is not
// retried, the stock is released and the client gets 502 payment_failed.
func testPaymentFailed(t *testing.T, b testenv.Backend) {
	stripe := testenv.NewStripeServer(t)
	e := newFlowEnv(t, b.URL(t), stripe.URL, map[string]string{"STRIPE_SECRET_KEY": "sk_test_revoked"})
	before := e.stock(t, 456)
	r := e.post(t, "/api/orders/process", oneKeyboard)
	if r.Status != http.StatusBadGateway || r.Error.Code != "payment_failed" {
		t.Fatalf("order with a revoked key: %d %s", r.Status, r.Raw)
	}
	e.checkGolden(t, "order-processing-payment-failed", r)
	if got := e.stock(t, 456); got != before {
		t.Errorf("stock = %d, want %d", got, before)
	}
	if reqs := stripe.Requests(); len(reqs) != 1 || reqs[0].Status != http.StatusUnauthorized {
		t.Errorf("Stripe requests = %+v, want one 401", reqs)
	}
}

// Stripe answers 500 to the first charge: the activity retries with the
// same idempotency key, and exactly one charge succeeds.
func testStripeErrorThenSuccess(t *testing.T, b testenv.Backend) {
	stripe := testenv.NewStripeServer(t,
		testenv.StripeError(http.StatusInternalServerError, "api_error", "", "", "An unknown error occurred"),
		testenv.StripeOK)
	e := newFlowEnv(t, b.URL(t), stripe.URL, nil)
	r := e.post(t, "/api/orders/process", oneKeyboard)
	if r.Status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	reqs := stripe.Requests()
	if len(reqs) != 2 || reqs[0].Status != 500 || reqs[1].Status != 200 {
		t.Fatalf("Stripe requests = %+v, want a 500 then a 200", reqs)
	}
	want := r.Data.ExecutionID + "/charge"
	for _, req := range reqs {
		if req.IdempotencyKey != want {
			t.Errorf("Idempotency-Key = %q, want %q on every attempt", req.IdempotencyKey, want)
		}
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM payments`); n != 1 {
		t.Errorf("%d payments recorded", n)
	}
}

// SendGrid answers 500 once: the email node retries, one message arrives
// and the registration completes.
func testSendGridErrorThenSuccess(t *testing.T, b testenv.Backend) {
	e := newFlowEnv(t, b.URL(t), testenv.NewStripeServer(t).URL, nil)
	e.sendgrid.FailNext(1, http.StatusInternalServerError, 0)
	r := e.post(t, "/api/users/register", `{"email": "grace@example.com", "password": "cobol1959x"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	// The 201 comes before the email (a respond node): wait for the end.
	e.waitDone(t, r.executionID())
	if final := e.do(t, http.MethodGet, "/api/executions/"+r.executionID(), ""); final.Data.Output["welcomeEmailSent"] != true {
		t.Fatalf("final state: %s", final.Raw)
	}
	if got := e.sendgrid.Requests(); got != 2 {
		t.Errorf("SendGrid got %d requests, want 2 (a 500, then the message)", got)
	}
	if msgs := e.sendgrid.Messages(); len(msgs) != 1 || msgs[0].Mail.Personalizations[0].To[0].Email != "grace@example.com" {
		t.Errorf("messages = %+v", msgs)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'`); n != 1 {
		t.Errorf("%d sent rows in the outbox", n)
	}
}

// Twenty orders at once for a product with five left: exactly five orders,
// stock zero and never below, and every charge belongs to an order (a
// refused order is refused before the charge).
func testScarceStock(t *testing.T, b testenv.Backend) {
	stripe := testenv.NewStripeServer(t)
	e := newFlowEnv(t, b.URL(t), stripe.URL, nil)
	e.db.MustExec(`UPDATE products SET stock = 5 WHERE id = 458`)
	body := `{"customerId": 123, "items": [{"productId": 458, "quantity": 1}], "totalAmount": 25, "paymentMethodId": "pm_card_visa"}`
	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			r := e.post(t, "/api/orders/process?wait=60s", body)
			statuses[i] = r.Status
			if r.Status != http.StatusCreated && r.Status != http.StatusConflict {
				t.Errorf("order %d: %d %s", i, r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 5 || count[http.StatusConflict] != 15 {
		t.Errorf("statuses = %v, want five 201 and fifteen 409", count)
	}
	if got := e.stock(t, 458); got != 0 {
		t.Errorf("stock = %d, want 0", got)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM orders WHERE status = 'confirmed'`); n != 5 {
		t.Errorf("%d confirmed orders", n)
	}
	charges := 0
	for _, req := range stripe.Requests() {
		if strings.HasPrefix(req.Path, "/v1/payment_intents") && req.Status == http.StatusOK {
			charges++
		}
	}
	if charges != 5 {
		t.Errorf("%d charges taken, want 5", charges)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM payments WHERE order_id IS NULL AND status <> 'refunded'`); n != 0 {
		t.Errorf("%d charges neither in an order nor refunded", n)
	}
}
