package payments

import (
	"context"
	"errors"
	"github.com/google/uuid"
	"reflect"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// appError asserts err is a non-retryable application error of type typ.
func appError(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != typ || !appErr.NonRetryable() {
		t.Fatalf("error = %v, want a non-retryable application error of type %s", err, typ)
	}
	return appErr
}

// failure asserts err is a non-retryable typ error and returns its Failure.
func failure(t *testing.T, err error, typ string) Failure {
	t.Helper()
	var f Failure
	if err := appError(t, err, typ).Details(&f); err != nil {
		t.Fatalf("details: %v", err)
	}
	return f
}

// retryable asserts err is an error the retry policy retries: Temporal
// retries any error that is not a non-retryable application error.
func retryable(t *testing.T, err error) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if err == nil || errors.As(err, &appErr) && appErr.NonRetryable() {
		t.Fatalf("error = %v, want a retryable error", err)
	}
}

func TestParseCharge(t *testing.T) {
	valid := func() map[string]any {
		return map[string]any{"amount": 1999.0, "currency": "USD", "paymentMethodId": "pm_card_visa"}
	}
	with := func(k string, v any) map[string]any {
		p := valid()
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	tests := []struct {
		name   string
		params map[string]any
		want   string // a part of the message; "" means valid
	}{
		{"minimal", valid(), ""},
		{"int literal amount", with("amount", int64(500)), ""},
		{"all optional", map[string]any{"amount": 1.0, "currency": "eur", "paymentMethodId": "pm_1Abc", "customer": "cus_9",
			"description": "Order 456 (order id 20240501123456789)", "metadata": map[string]any{"orderId": 1714567890123.0, "vip": true}}, ""},
		{"missing everything", map[string]any{}, "amount is required; currency is required; paymentMethodId is required"},
		{"fractional amount", with("amount", 19.99), "got 19.99"},
		{"zero amount", with("amount", 0.0), "positive integer"},
		{"string amount", with("amount", "100"), "amount must be a number, got a string"},
		{"bad currency", with("currency", "dollars"), "three-letter"},
		{"legacy token", with("paymentMethodId", "tok_visa"), "pm_"},
		{"card number as token", with("paymentMethodId", "4242424242424242"), "paymentMethodId looks like a card number"},
		{"card number in description", with("description", "card 4000 0566 5566 5556 exp 12/30"), "description looks like a card number"},
		{"card number with dashes", with("description", "paid with 4000-0566-5566-5556"), "description looks like a card number"},
		{"card number in metadata", with("metadata", map[string]any{"note": "5555-5555-5555-4444"}), "metadata looks like a card number"},
		{"card number as a number", with("metadata", map[string]any{"n": 4242424242424242.0}), "metadata looks like a card number"},
		{"nested metadata", with("metadata", map[string]any{"a": map[string]any{}}), "metadata.a must be a string, number or boolean"},
		{"bad customer", with("customer", "123"), "cus_"},
		{"unknown parameter", with("amout", 1.0), "unknown parameter amout (charge takes amount, currency, paymentMethodId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCharge(tt.params)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Amount <= 0 || c.Currency != strings.ToLower(c.Currency) || c.PaymentMethod == "" {
					t.Fatalf("parsed %+v", c)
				}
				return
			}
			f := failure(t, err, ErrInvalid)
			if f.Code != CodeInvalidParams || !strings.Contains(f.Message, tt.want) {
				t.Fatalf("failure %+v, want code %s and a message containing %q", f, CodeInvalidParams, tt.want)
			}
			for _, secret := range []string{"4242424242424242", "4000 0566", "5555-5555"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("message %q echoes card data", err.Error())
				}
			}
		})
	}
}

func TestParseChargeMetadata(t *testing.T) {
	c, err := parseCharge(map[string]any{"amount": 100.0, "currency": "usd", "paymentMethodId": "pm_card_visa",
		"metadata": map[string]any{"orderId": 1714567890123.0, "customerId": "123", "vip": true, "qty": int64(2)}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"orderId": "1714567890123", "customerId": "123", "vip": "true", "qty": "2"}
	if !reflect.DeepEqual(c.Metadata, want) {
		t.Fatalf("metadata %v, want %v", c.Metadata, want)
	}
}

func TestParseRefund(t *testing.T) {
	r, err := parseRefund(map[string]any{"paymentIntentId": "pi_123", "amount": nil})
	if err != nil || r.PaymentIntent != "pi_123" || r.Amount != 0 {
		t.Fatalf("refund %+v, %v", r, err)
	}
	_, err = parseRefund(map[string]any{"paymentIntentId": "ch_123", "amount": -5.0})
	f := failure(t, err, ErrInvalid)
	for _, want := range []string{"pi_", "amount must be a positive integer"} {
		if !strings.Contains(f.Message, want) {
			t.Fatalf("message %q does not contain %q", f.Message, want)
		}
	}
}

func TestContainsPAN(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"4242424242424242", true},
		{"4242 4242 4242 4242", true},
		{"3782-822463-10005", true}, // Amex, 4-6-5 groups
		{"order 12 4242 4242 4242 4242", true},
		{"pm_4242424242424242", true},
		{"4242424242424241", false},        // fails Luhn
		{"1714567890123", false},           // epoch milliseconds
		{"12345678901234567890123", false}, // too long to be a card number
		{"4242 4242", false},
		{"550e8400-e29b-41d4-a716-446655440000", false},
		{"+1 415 555 2671", false},
		// Found by the fault suite: an execution id whose UUID has digit
		// groups that pass the Luhn check once joined.
		{"Order faults-s3-ac4c3dc1-4735-4497-9710-16eab5861ad2", false},
		{"card4242424242424242", false}, // glued to a word: not typed as a number
	}
	for _, tt := range tests {
		if got := containsPAN(tt.s); got != tt.want {
			t.Errorf("containsPAN(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
	// The order flow's charge description holds the execution id: no id
	// may be taken for a card number.
	for range 20_000 {
		if id := "Order order-processing-" + uuid.NewString(); containsPAN(id) {
			t.Fatalf("containsPAN(%q) = true", id)
		}
	}
}

func TestUnknownOperationAndMissingKey(t *testing.T) {
	stripe, err := NewStripe(StripeConfig{SecretKey: "sk_test_123", APIBase: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for name, conn := range map[string]interface {
		Call(context.Context, string, map[string]any, string) (map[string]any, error)
	}{"stripe": stripe, "fake": NewFake()} {
		t.Run(name, func(t *testing.T) {
			_, err := conn.Call(context.Background(), "capture", nil, "wf/n")
			if msg := appError(t, err, interpreter.ErrConfiguration).Message(); !strings.Contains(msg, `"capture"`) {
				t.Fatalf("message %q", msg)
			}
			_, err = conn.Call(context.Background(), OpCharge, nil, " ")
			appError(t, err, interpreter.ErrConfiguration)
			// Every listed operation is served: with no params, the
			// parameter check answers, not the dispatcher.
			for _, op := range Operations() {
				_, err := conn.Call(context.Background(), op, nil, "wf/n")
				if f := failure(t, err, ErrInvalid); f.Code != CodeInvalidParams {
					t.Fatalf("%s: %+v", op, f)
				}
			}
		})
	}
}
