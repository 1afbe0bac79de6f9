package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/paymentintent"
	"github.com/stripe/stripe-go/v76/refund"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// DefaultStripeTimeout bounds one Stripe request: stripe-go's own default.
// The activity's deadline usually ends a slow request sooner.
const DefaultStripeTimeout = 80 * time.Second

// StripeConfig configures the Stripe connector.
type StripeConfig struct {
	// SecretKey is a secret (sk_…) or restricted (rk_…) API key. Required.
	SecretKey string
	// APIBase is the API's base URL. Optional: default https://api.stripe.com;
	// tests point it at stripe-mock.
	APIBase string

	// timeout replaces DefaultStripeTimeout when set (by tests).
	timeout time.Duration
}

// Stripe is the Stripe connector: PaymentIntents confirmed server-side with a
// payment method token, and refunds. Safe for concurrent use.
type Stripe struct {
	intents paymentintent.Client
	refunds refund.Client
}

// NewStripe builds a Stripe connector on its own backend and HTTP client:
// nothing global of stripe-go (stripe.Key, the shared backends) is used.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if !strings.HasPrefix(cfg.SecretKey, "sk_") && !strings.HasPrefix(cfg.SecretKey, "rk_") {
		// Never quote the value: it is a secret, or a publishable key in the
		// wrong place.
		return nil, errors.New("stripe: the API key must be a secret (sk_…) or restricted (rk_…) key")
	}
	base := cfg.APIBase
	if base == "" {
		base = stripe.APIURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("stripe: API base %q is not an http(s) URL", base)
	}
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout = DefaultStripeTimeout
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		HTTPClient: newHTTPClient(timeout),
		URL:        stripe.String(base),
		// Temporal retries the activity, with the same idempotency key and
		// a visible attempt count; retries inside the SDK would hide behind
		// one attempt and stretch it past its timeout.
		MaxNetworkRetries: stripe.Int64(0),
		// The activity returns a classified error that the worker logs with
		// the workflow and node ids; stripe-go's own log lines would repeat
		// it without them.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return &Stripe{
		intents: paymentintent.Client{B: backend, Key: cfg.SecretKey},
		refunds: refund.Client{B: backend, Key: cfg.SecretKey},
	}, nil
}

func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
			MaxIdleConnsPerHost: 16,
			ForceAttemptHTTP2:   true,
		},
	}
}

// Call runs operation (charge or refund) with params; see the package
// documentation for their shapes and errors.
func (s *Stripe) Call(ctx context.Context, operation string, params map[string]any, idempotencyKey string) (map[string]any, error) {
	return dispatch(ctx, s, operation, params, idempotencyKey)
}

func (s *Stripe) charge(ctx context.Context, c chargeRequest, idempotencyKey string) (map[string]any, error) {
	p := &stripe.PaymentIntentParams{
		Params:        callParams(ctx, idempotencyKey),
		Amount:        stripe.Int64(c.Amount),
		Currency:      stripe.String(c.Currency),
		PaymentMethod: stripe.String(c.PaymentMethod),
		Confirm:       stripe.Bool(true),
		// Confirmed server-side, with no customer at hand to follow a
		// redirect: only payment methods that complete without one.
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{
			Enabled:        stripe.Bool(true),
			AllowRedirects: stripe.String("never"),
		},
		Metadata: c.Metadata,
	}
	if c.Customer != "" {
		p.Customer = stripe.String(c.Customer)
	}
	if c.Description != "" {
		p.Description = stripe.String(c.Description)
	}
	pi, err := s.intents.New(p)
	if err != nil {
		return nil, classify(OpCharge, err)
	}
	if pi.Status == stripe.PaymentIntentStatusRequiresAction {
		// The card asks for authentication (3-D Secure) that only the
		// customer can give, in the browser: no money moved. A decline, so
		// the flow compensates and the client is told to pay another way.
		return nil, declined(Failure{
			Status: http.StatusPaymentRequired, Code: string(stripe.ErrorCodeAuthenticationRequired),
			PaymentIntentID: pi.ID, Message: "the card requires authentication by the customer",
		})
	}
	return chargeOutput(pi.ID, string(pi.Status), pi.Amount, string(pi.Currency)), nil
}

func (s *Stripe) refund(ctx context.Context, r refundRequest, idempotencyKey string) (map[string]any, error) {
	p := &stripe.RefundParams{Params: callParams(ctx, idempotencyKey), PaymentIntent: stripe.String(r.PaymentIntent)}
	if r.Amount > 0 {
		p.Amount = stripe.Int64(r.Amount)
	}
	re, err := s.refunds.New(p)
	if err != nil {
		return nil, classify(OpRefund, err)
	}
	return refundOutput(re.ID, string(re.Status), re.Amount), nil
}

// callParams are what every call to Stripe carries: the caller's context
// and the idempotency key, fitted to Stripe's limit.
func callParams(ctx context.Context, idempotencyKey string) stripe.Params {
	return stripe.Params{Context: ctx, IdempotencyKey: stripe.String(stripeIdempotencyKey(idempotencyKey))}
}

// maxStripeKeyLength is Stripe's limit on an idempotency key.
const maxStripeKeyLength = 255

// stripeIdempotencyKey fits a key into Stripe's limit. A longer key (workflow
// ids may be long) keeps a readable prefix and ends with a hash of the whole
// key, so it stays deterministic and distinct.
func stripeIdempotencyKey(key string) string {
	if len(key) <= maxStripeKeyLength {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	digest := hex.EncodeToString(sum[:])
	return key[:maxStripeKeyLength-len(digest)-1] + "~" + digest
}

// classify turns a stripe-go error into an error the retry policy can judge.
// Messages are built from Stripe's fields, never from err.Error(): that is
// the whole error as JSON, with the PaymentIntent and its client secret.
func classify(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		// Network failure, timeout, cancelled context: the request may not
		// have reached Stripe, and the same key makes repeating it safe.
		return fmt.Errorf("stripe %s: %w", op, err)
	}
	f := Failure{
		Status: se.HTTPStatusCode, Code: string(se.Code), DeclineCode: string(se.DeclineCode),
		Param: se.Param, RequestID: se.RequestID, Message: se.Msg,
	}
	if f.Code == "" {
		f.Code = string(se.Type) // idempotency_error, for one, comes with no code
	}
	if se.PaymentIntent != nil {
		f.PaymentIntentID = se.PaymentIntent.ID
	}
	switch {
	case se.Type == stripe.ErrorTypeCard || se.HTTPStatusCode == http.StatusPaymentRequired:
		return declined(f)
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		// Stripe's message quotes part of the key: leave it out. An operator
		// must fix the key; retrying cannot.
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("stripe %s: the API key was refused (HTTP %d): check STRIPE_SECRET_KEY", op, se.HTTPStatusCode),
			interpreter.ErrConfiguration, nil)
	case se.HTTPStatusCode == http.StatusConflict, // another request with this key is in flight
		se.HTTPStatusCode == http.StatusTooManyRequests,
		se.HTTPStatusCode >= 500:
		msg := fmt.Sprintf("stripe %s: HTTP %d", op, f.Status)
		if f.Code != "" {
			msg += " " + f.Code
		}
		if f.Message != "" {
			msg += ": " + f.Message
		}
		if f.RequestID != "" {
			msg += " (request " + f.RequestID + ")"
		}
		return errors.New(msg)
	}
	// 400, 404 and the rest of 4xx: the request is wrong as it stands.
	return invalid(f)
}
