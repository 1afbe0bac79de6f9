package payments

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestFakeCharge(t *testing.T) {
	f := NewFake()
	ctx := context.Background()

	first, err := f.Call(ctx, OpCharge, chargeParams(), "order-1/charge")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"paymentIntentId": fakeID("pi_fake_", "order-1/charge"), "status": "succeeded",
		"amount": int64(2000), "currency": "usd"}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("charge %v, want %v", first, want)
	}

	// Concurrent retries of the same node: one charge, the same answer.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			again, err := f.Call(ctx, OpCharge, chargeParams(), "order-1/charge")
			if err != nil || !reflect.DeepEqual(again, first) {
				t.Errorf("repeat: %v %v, want %v", again, err, first)
			}
		})
	}
	wg.Wait()

	other, err := f.Call(ctx, OpCharge, chargeParams(), "order-2/charge")
	if err != nil || other["paymentIntentId"] == first["paymentIntentId"] {
		t.Fatalf("another key: %v %v", other, err)
	}
	if charges := f.Charges(); len(charges) != 2 || charges[0].IdempotencyKey != "order-1/charge" || charges[1].Amount != 2000 {
		t.Fatalf("charges %+v, want one per key", charges)
	}

	// A key reused for a different request is refused, as by Stripe.
	changed := chargeParams()
	changed["amount"] = 2500.0
	_, err = f.Call(ctx, OpCharge, changed, "order-1/charge")
	if fl := failure(t, err, ErrInvalid); fl.Code != "idempotency_error" {
		t.Fatalf("failure %+v", fl)
	}
}

func TestFakeDecline(t *testing.T) {
	f := NewFake()
	params := chargeParams()
	params["paymentMethodId"] = FakeDeclineToken
	for range 2 { // the decline is replayed for the same key
		_, err := f.Call(context.Background(), OpCharge, params, "order-3/charge")
		fl := failure(t, err, ErrDeclined)
		if fl.Code != "card_declined" || fl.DeclineCode != "generic_decline" || !strings.HasPrefix(fl.PaymentIntentID, "pi_fake_") {
			t.Fatalf("failure %+v", fl)
		}
	}
	if charges := f.Charges(); len(charges) != 0 {
		t.Fatalf("declined charge recorded: %+v", charges)
	}
}

func TestFakeRefund(t *testing.T) {
	f := NewFake()
	ctx := context.Background()
	charge, err := f.Call(ctx, OpCharge, chargeParams(), "order-4/charge")
	if err != nil {
		t.Fatal(err)
	}
	pi := charge["paymentIntentId"]

	partial, err := f.Call(ctx, OpRefund, map[string]any{"paymentIntentId": pi, "amount": 500.0}, "order-4/refund-part")
	if err != nil || partial["amount"] != int64(500) || !strings.HasPrefix(partial["refundId"].(string), "re_fake_") {
		t.Fatalf("partial refund %v %v", partial, err)
	}
	for range 2 { // a retried refund refunds once
		rest, err := f.Call(ctx, OpRefund, map[string]any{"paymentIntentId": pi}, "order-4/refund")
		if err != nil || rest["amount"] != int64(1500) || rest["status"] != "succeeded" {
			t.Fatalf("refund of the rest %v %v", rest, err)
		}
	}
	if charges := f.Charges(); charges[0].Refunded != 2000 {
		t.Fatalf("refunded %d, want 2000", charges[0].Refunded)
	}

	tests := []struct {
		name, key string
		params    map[string]any
		code      string
	}{
		{"nothing left", "order-4/refund-again", map[string]any{"paymentIntentId": pi}, "charge_already_refunded"},
		{"unknown intent", "order-5/refund", map[string]any{"paymentIntentId": "pi_unknown"}, "resource_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Call(ctx, OpRefund, tt.params, tt.key)
			if fl := failure(t, err, ErrInvalid); fl.Code != tt.code {
				t.Fatalf("failure %+v, want code %s", fl, tt.code)
			}
		})
	}

	other, err := f.Call(ctx, OpCharge, chargeParams(), "order-6/charge")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Call(ctx, OpRefund, map[string]any{"paymentIntentId": other["paymentIntentId"], "amount": 2001.0}, "order-6/refund")
	if fl := failure(t, err, ErrInvalid); fl.Code != "amount_too_large" {
		t.Fatalf("failure %+v", fl)
	}
}
