package payments

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

func newStripe(t *testing.T, base string) *Stripe {
	t.Helper()
	s, err := NewStripe(StripeConfig{SecretKey: testenv.StripeTestKey, APIBase: base, timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func chargeParams() map[string]any {
	return map[string]any{"amount": 2000.0, "currency": "usd", "paymentMethodId": "pm_card_visa"}
}

// TestStripeMock checks the protocol against Stripe's own mock, which
// validates every request against Stripe's OpenAPI spec.
func TestStripeMock(t *testing.T) {
	s := newStripe(t, testenv.StripeMock(t))
	ctx := context.Background()

	out, err := s.Call(ctx, OpCharge, map[string]any{
		"amount": 2000.0, "currency": "USD", "paymentMethodId": "pm_card_visa", "customer": "cus_123",
		"description": "Order 42", "metadata": map[string]any{"orderId": "42", "items": 3.0},
	}, "wf-1/charge")
	if err != nil {
		t.Fatal(err)
	}
	pi, _ := out["paymentIntentId"].(string)
	// stripe-mock answers from fixtures: the status is its fixture's, the
	// amount and currency are echoed from the request.
	if !strings.HasPrefix(pi, "pi_") || out["amount"] != int64(2000) || out["currency"] != "usd" || out["status"] == "" {
		t.Fatalf("charge output %v", out)
	}

	out, err = s.Call(ctx, OpRefund, map[string]any{"paymentIntentId": pi, "amount": 500.0}, "wf-1/refund")
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := out["refundId"].(string); !strings.HasPrefix(id, "re_") || out["amount"] != int64(500) || out["status"] != "succeeded" {
		t.Fatalf("refund output %v", out)
	}
}

func TestStripeRequests(t *testing.T) {
	srv := testenv.NewStripeServer(t)
	s := newStripe(t, srv.URL)
	ctx := context.Background()
	long := strings.Repeat("w", 300) + "/charge"
	for _, call := range []struct {
		op     string
		params map[string]any
		key    string
	}{
		{OpCharge, chargeParams(), "order-42/charge"},
		{OpRefund, map[string]any{"paymentIntentId": "pi_test_0"}, "order-42/refund"},
		{OpCharge, chargeParams(), long},
		{OpCharge, chargeParams(), long},
	} {
		if _, err := s.Call(ctx, call.op, call.params, call.key); err != nil {
			t.Fatalf("%s: %v", call.op, err)
		}
	}
	reqs := srv.Requests()
	if reqs[0].Path != "/v1/payment_intents" || reqs[0].IdempotencyKey != "order-42/charge" {
		t.Fatalf("charge request %+v", reqs[0])
	}
	form := reqs[0].Form
	for field, want := range map[string]string{
		"amount": "2000", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true",
		"automatic_payment_methods[enabled]": "true", "automatic_payment_methods[allow_redirects]": "never",
	} {
		if got := form.Get(field); got != want {
			t.Errorf("charge %s = %q, want %q", field, got, want)
		}
	}
	if reqs[1].Path != "/v1/refunds" || reqs[1].IdempotencyKey != "order-42/refund" ||
		reqs[1].Form.Get("payment_intent") != "pi_test_0" || reqs[1].Form.Has("amount") {
		t.Fatalf("refund request %+v", reqs[1])
	}
	// A key over Stripe's 255 characters is shortened, deterministically.
	if k := reqs[2].IdempotencyKey; len(k) != 255 || k != reqs[3].IdempotencyKey || !strings.HasPrefix(k, "www") {
		t.Fatalf("long key %q (%d), then %q", k, len(k), reqs[3].IdempotencyKey)
	}
}

func TestStripeErrors(t *testing.T) {
	requiresAction := testenv.StripeReply{Status: http.StatusOK,
		Body: `{"id": "pi_3ds", "object": "payment_intent", "status": "requires_action", "amount": 2000, "currency": "usd"}`}
	tests := []struct {
		name  string
		reply testenv.StripeReply
		check func(t *testing.T, err error)
	}{
		{"decline", testenv.StripeDecline("insufficient_funds", "Your card has insufficient funds."), func(t *testing.T, err error) {
			f := failure(t, err, ErrDeclined)
			if f.Status != 402 || f.Code != "card_declined" || f.DeclineCode != "insufficient_funds" || f.RequestID == "" {
				t.Fatalf("failure %+v", f)
			}
			if !strings.Contains(err.Error(), "Your card has insufficient funds. (insufficient_funds)") {
				t.Fatalf("message %q", err.Error())
			}
		}},
		{"authentication required", requiresAction, func(t *testing.T, err error) {
			if f := failure(t, err, ErrDeclined); f.Code != "authentication_required" || f.PaymentIntentID != "pi_3ds" {
				t.Fatalf("failure %+v", f)
			}
		}},
		{"invalid request", testenv.StripeError(400, "invalid_request_error", "amount_too_small", "", "Amount must be at least $0.50 usd"),
			func(t *testing.T, err error) {
				if f := failure(t, err, ErrInvalid); f.Status != 400 || f.Code != "amount_too_small" {
					t.Fatalf("failure %+v", f)
				}
			}},
		{"unknown payment method", testenv.StripeError(404, "invalid_request_error", "resource_missing", "", "No such PaymentMethod: 'pm_x'"),
			func(t *testing.T, err error) {
				if f := failure(t, err, ErrInvalid); f.Status != 404 || f.Code != "resource_missing" {
					t.Fatalf("failure %+v", f)
				}
			}},
		{"idempotency error", testenv.StripeError(400, "idempotency_error", "", "", "Keys for idempotent requests can only be used with the same parameters"),
			func(t *testing.T, err error) {
				if f := failure(t, err, ErrInvalid); f.Code != "idempotency_error" {
					t.Fatalf("failure %+v", f)
				}
			}},
		{"bad key", testenv.StripeError(401, "invalid_request_error", "", "", "Invalid API Key provided: sk_test_****_123"), func(t *testing.T, err error) {
			msg := appError(t, err, interpreter.ErrConfiguration).Error()
			if strings.Contains(msg, "sk_") || !strings.Contains(msg, "STRIPE_SECRET_KEY") {
				t.Fatalf("message %q", msg)
			}
		}},
		{"restricted key lacks permission", testenv.StripeError(403, "invalid_request_error", "", "", "rk_test_**** does not have permission"),
			func(t *testing.T, err error) { appError(t, err, interpreter.ErrConfiguration) }},
		{"key in use", testenv.StripeError(409, "idempotency_error", "idempotency_key_in_use", "", "in progress"), retryable},
		{"rate limited", testenv.StripeError(429, "invalid_request_error", "rate_limit", "", "Too many requests"), retryable},
		{"server error", testenv.StripeError(500, "api_error", "", "", "Something went wrong"), retryable},
		{"unavailable", testenv.StripeError(503, "api_error", "", "", "Unavailable"), retryable},
		{"proxy page", testenv.StripeReply{Status: 502, Body: "<html>Bad Gateway</html>"}, retryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStripe(t, testenv.NewStripeServer(t, tt.reply).URL)
			_, err := s.Call(context.Background(), OpCharge, chargeParams(), "wf/charge")
			tt.check(t, err)
			if strings.Contains(err.Error(), "client_secret") || strings.Contains(err.Error(), testenv.StripeTestKey) {
				t.Fatalf("message %q leaks a secret", err.Error())
			}
		})
	}
}

// A 500 on the first attempt then success: the retry carries the same key,
// and exactly one charge succeeds.
func TestStripeRetrySameKey(t *testing.T) {
	srv := testenv.NewStripeServer(t, testenv.StripeError(500, "api_error", "", "", "boom"), testenv.StripeOK)
	s := newStripe(t, srv.URL)
	_, err := s.Call(context.Background(), OpCharge, chargeParams(), "order-7/charge")
	retryable(t, err)
	out, err := s.Call(context.Background(), OpCharge, chargeParams(), "order-7/charge")
	if err != nil || out["status"] != "succeeded" {
		t.Fatalf("second attempt: %v %v", out, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Status != 500 || reqs[1].Status != 200 ||
		reqs[0].IdempotencyKey != "order-7/charge" || reqs[1].IdempotencyKey != "order-7/charge" {
		t.Fatalf("requests %+v: want one 500 then one 200, both with key order-7/charge", reqs)
	}
}

func TestStripeNetworkErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		_, err := newStripe(t, srv.URL).Call(context.Background(), OpCharge, chargeParams(), "wf/charge")
		retryable(t, err)
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		s, err := NewStripe(StripeConfig{SecretKey: testenv.StripeTestKey, APIBase: srv.URL, timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Call(context.Background(), OpCharge, chargeParams(), "wf/charge")
		retryable(t, err)
	})
}

func TestNewStripe(t *testing.T) {
	tests := []struct {
		name string
		cfg  StripeConfig
		want string
	}{
		{"no key", StripeConfig{}, "secret (sk_…)"},
		{"publishable key", StripeConfig{SecretKey: "pk_live_abcdef"}, "secret (sk_…)"},
		{"bad base", StripeConfig{SecretKey: "sk_test_1", APIBase: "api.stripe.com"}, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStripe(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "abcdef") {
				t.Fatalf("error %v, want one containing %q and not the key", err, tt.want)
			}
		})
	}
	if _, err := NewStripe(StripeConfig{SecretKey: "rk_live_1"}); err != nil {
		t.Fatalf("restricted key with the default base: %v", err)
	}
}
