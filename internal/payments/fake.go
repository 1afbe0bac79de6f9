package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"sync"
)

// FakeDeclineToken is the payment method the fake connector declines (with
// decline code generic_decline): the token Stripe's test mode declines too,
// so a flow tried in dev mode behaves the same against Stripe test keys.
const FakeDeclineToken = "pm_card_chargeDeclined"

// FakeNotice is what a process using the fake connector should print at
// start-up.
const FakeNotice = "payments use the built-in fake connector (no STRIPE_SECRET_KEY set, or PAYMENTS_PROVIDER=fake): " +
	"it approves every charge except payment method " + FakeDeclineToken + " and moves no money"

// Fake is an in-memory payment connector for dev mode. It validates
// parameters exactly as Stripe does here, approves every charge except
// FakeDeclineToken, and answers a repeated idempotency key with the first
// answer (Stripe's rule), so a retried activity never pays twice. Ids are
// derived from the key (pi_fake_…, re_fake_…). State lives as long as the
// process. Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	answers map[string]fakeAnswer // by idempotency key
	charges map[string]*FakeCharge
	order   []string // charge ids in creation order
}

// FakeCharge is a charge the fake connector approved.
type FakeCharge struct {
	PaymentIntentID string
	IdempotencyKey  string
	Amount          int64
	Currency        string
	Refunded        int64
}

// fakeAnswer is the recorded result of a key, with the request it answered:
// Stripe refuses a key reused for a different request.
type fakeAnswer struct {
	request string
	out     map[string]any
	err     error
}

// NewFake returns an empty fake connector.
func NewFake() *Fake {
	return &Fake{answers: map[string]fakeAnswer{}, charges: map[string]*FakeCharge{}}
}

// Call runs operation (charge or refund) with params, as Stripe.Call does.
func (f *Fake) Call(ctx context.Context, operation string, params map[string]any, idempotencyKey string) (map[string]any, error) {
	return dispatch(ctx, f, operation, params, idempotencyKey)
}

// Charges returns the approved charges in creation order.
func (f *Fake) Charges() []FakeCharge {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FakeCharge, len(f.order))
	for i, id := range f.order {
		out[i] = *f.charges[id]
	}
	return out
}

func (f *Fake) charge(_ context.Context, c chargeRequest, key string) (map[string]any, error) {
	return f.once(key, fmt.Sprintf("%s %+v", OpCharge, c), func() (map[string]any, error) {
		id := fakeID("pi_fake_", key)
		if c.PaymentMethod == FakeDeclineToken {
			return nil, declined(Failure{
				Status: http.StatusPaymentRequired, Code: "card_declined", DeclineCode: "generic_decline",
				PaymentIntentID: id, Message: "Your card was declined.",
			})
		}
		f.charges[id] = &FakeCharge{PaymentIntentID: id, IdempotencyKey: key, Amount: c.Amount, Currency: c.Currency}
		f.order = append(f.order, id)
		return chargeOutput(id, "succeeded", c.Amount, c.Currency), nil
	})
}

func (f *Fake) refund(_ context.Context, r refundRequest, key string) (map[string]any, error) {
	return f.once(key, fmt.Sprintf("%s %+v", OpRefund, r), func() (map[string]any, error) {
		ch, ok := f.charges[r.PaymentIntent]
		if !ok {
			return nil, invalid(Failure{Status: http.StatusNotFound, Code: "resource_missing", Param: "payment_intent",
				Message: "no such payment intent (the fake connector forgets its charges when the process stops)"})
		}
		remaining := ch.Amount - ch.Refunded
		amount := r.Amount
		if amount == 0 {
			amount = remaining
		}
		switch {
		case remaining == 0:
			return nil, invalid(Failure{Status: http.StatusBadRequest, Code: "charge_already_refunded",
				Message: "the charge has already been refunded"})
		case amount > remaining:
			return nil, invalid(Failure{Status: http.StatusBadRequest, Code: "amount_too_large", Param: "amount",
				Message: fmt.Sprintf("refund amount %d is greater than the unrefunded amount %d", amount, remaining)})
		}
		ch.Refunded += amount
		return refundOutput(fakeID("re_fake_", key), "succeeded", amount), nil
	})
}

// once runs do for the first request under key and replays its answer,
// success or error, for every repeat.
func (f *Fake) once(key, request string, do func() (map[string]any, error)) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.answers[key]; ok {
		if a.request != request {
			return nil, invalid(Failure{Status: http.StatusBadRequest, Code: "idempotency_error",
				Message: "keys for idempotent requests can only be used with the same parameters they were first used with"})
		}
		return maps.Clone(a.out), a.err
	}
	out, err := do()
	f.answers[key] = fakeAnswer{request: request, out: out, err: err}
	return maps.Clone(out), err
}

// fakeID derives an id from an idempotency key, so the same key always names
// the same object.
func fakeID(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:12])
}
