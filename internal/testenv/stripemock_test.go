package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func post(t *testing.T, base, path, key, idempotencyKey string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Idempotency-Key", idempotencyKey)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("%s %s: %v: %s", path, resp.Status, err, data)
	}
	return resp.StatusCode, body
}

func TestStripeMock(t *testing.T) {
	base := StripeMock(t)
	status, body := post(t, base, "/v1/payment_intents", StripeTestKey, "k1",
		url.Values{"amount": {"2000"}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}})
	if status != http.StatusOK || body["object"] != "payment_intent" || body["amount"] != 2000.0 {
		t.Fatalf("create payment intent: %d %v", status, body)
	}
	// It validates requests against Stripe's spec.
	if status, body := post(t, base, "/v1/refunds", StripeTestKey, "k2", url.Values{"bogus": {"1"}}); status != http.StatusBadRequest {
		t.Fatalf("unknown parameter: %d %v", status, body)
	}
}

func TestStripeServer(t *testing.T) {
	s := NewStripeServer(t, StripeError(http.StatusInternalServerError, "api_error", "", "", "boom"),
		StripeDecline("insufficient_funds", "Your card has insufficient funds."), StripeOK)
	form := url.Values{"amount": {"1500"}, "currency": {"eur"}}
	var got []int
	for _, key := range []string{"a/n", "a/n", "b/n", "c/n"} {
		status, body := post(t, s.URL, "/v1/payment_intents", StripeTestKey, key, form)
		got = append(got, status)
		switch status {
		case http.StatusPaymentRequired:
			e := body["error"].(map[string]any)
			if e["type"] != "card_error" || e["code"] != "card_declined" || e["decline_code"] != "insufficient_funds" {
				t.Fatalf("decline body %v", body)
			}
		case http.StatusOK:
			if body["status"] != "succeeded" || body["amount"] != 1500.0 || body["currency"] != "eur" {
				t.Fatalf("created object %v", body)
			}
		}
	}
	if want := []int{500, 402, 200, 200}; !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v (the last reply repeats)", got, want)
	}
	if status, _ := post(t, s.URL, "/v1/refunds", "sk_test_wrong", "d/n", form); status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", status)
	}
	reqs := s.Requests()
	if len(reqs) != 5 || reqs[0].IdempotencyKey != "a/n" || reqs[1].IdempotencyKey != "a/n" ||
		reqs[4].Path != "/v1/refunds" || reqs[4].Status != http.StatusUnauthorized || reqs[2].Form.Get("amount") != "1500" {
		t.Fatalf("recorded %+v", reqs)
	}
}

// TestStripeServerIdempotent checks the idempotent mode the fault tests
// rely on: a key charges once, a fault after the charge still took it, and
// the retry with the same key gets the charge without taking another.
func TestStripeServerIdempotent(t *testing.T) {
	s := NewStripeServer(t)
	s.Idempotent()
	s.FailAfterCharge(ChargeFault500)
	form := url.Values{"amount": {"1500"}, "currency": {"usd"}}

	status, _ := post(t, s.URL, "/v1/payment_intents", StripeTestKey, "order-1/charge", form)
	if status != http.StatusInternalServerError {
		t.Fatalf("first attempt: %d, want the scripted 500", status)
	}
	status, body := post(t, s.URL, "/v1/payment_intents", StripeTestKey, "order-1/charge", form)
	if status != http.StatusOK || body["id"] != "pi_test_0" || body["status"] != "succeeded" {
		t.Fatalf("retry: %d %v, want the charge of the first attempt", status, body)
	}
	status, body = post(t, s.URL, "/v1/payment_intents", StripeTestKey, "order-2/charge", form)
	if status != http.StatusOK || body["id"] != "pi_test_2" {
		t.Fatalf("another key: %d %v, want a new charge", status, body)
	}
	charges := s.Created("/v1/payment_intents")
	if len(charges) != 2 || charges[0].IdempotencyKey != "order-1/charge" || charges[0].ObjectID != "pi_test_0" || charges[1].IdempotencyKey != "order-2/charge" {
		t.Fatalf("charges taken = %+v, want one per key", charges)
	}
	if reqs := s.Requests(); len(reqs) != 3 || !reqs[1].Replayed || reqs[0].Status != http.StatusInternalServerError {
		t.Fatalf("requests = %+v", reqs)
	}
}
