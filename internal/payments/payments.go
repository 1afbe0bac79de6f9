// Package payments holds the payment connectors of the external_service node
// type: Stripe (stripe-go against the real API, or stripe-mock in tests) and
// Fake, an in-memory stand-in for dev mode when no Stripe key is configured.
//
// Both take the same operations and parameters, validated by the same code:
//
//	charge  {amount, currency, paymentMethodId, customer?, description?, metadata?}
//	        → {paymentIntentId, status, amount, currency}
//	refund  {paymentIntentId, amount?}
//	        → {refundId, status, amount}
//
// amount is an integer in the currency's smallest unit (1999 is $19.99).
// paymentMethodId is a Stripe PaymentMethod id (pm_…) created by the client
// with Stripe.js or a test token such as pm_card_visa: card numbers are never
// accepted, and a parameter that looks like one is refused without echoing it.
//
// Every call carries the caller's idempotency key, so a retried activity
// repeats the same request and the provider answers it once.
//
// Failures are Temporal application errors, classified for the retry policy:
// ErrDeclined and ErrInvalid are non-retryable with a Failure as details, a
// rejected API key is a non-retryable interpreter.ErrConfiguration, and
// anything transient (network, timeout, 409, 429, 5xx) is a plain error the
// retry policy retries.
package payments

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// ServiceStripe is the service name definitions use for payments; the Stripe
// connector and the fake one both serve it, so a definition runs unchanged in
// dev mode and in production.
const ServiceStripe = "stripe"

// Operations.
const (
	OpCharge = "charge"
	OpRefund = "refund"
)

// Operations lists the operations every payment connector serves, for the
// registration-time check of external_service nodes.
func Operations() []string { return []string{OpCharge, OpRefund} }

// Error types of the application errors the connectors return. They cross
// process boundaries (the API maps them to HTTP statuses): append only.
const (
	// ErrDeclined: the card was declined (Stripe's card_error, HTTP 402). Never
	// retried: the same card would be declined again; the customer must pay
	// another way. Details: a Failure with the decline code.
	ErrDeclined = "PaymentDeclined"
	// ErrInvalid: the payment request itself is wrong, so repeating it cannot
	// help: refused by the parameter check before any call (a card number, a
	// fractional amount), or by Stripe with 400/404 (unknown payment method or
	// intent, amount too small, already refunded). Not a ConfigurationError,
	// because it usually comes from the execution's data (a customer's token,
	// a price), not from the definition. Details: a Failure.
	ErrInvalid = "PaymentInvalid"
)

// Failure is the detail of an ErrDeclined or ErrInvalid error.
type Failure struct {
	Status          int    `json:"status,omitempty"`          // Stripe's HTTP status; 0 if refused before any call
	Code            string `json:"code,omitempty"`            // Stripe's error code (card_declined, resource_missing) or invalid_params
	DeclineCode     string `json:"declineCode,omitempty"`     // the issuer's reason (generic_decline, insufficient_funds)
	Param           string `json:"param,omitempty"`           // the parameter Stripe objected to
	PaymentIntentID string `json:"paymentIntentId,omitempty"` // the declined PaymentIntent, when Stripe created one
	RequestID       string `json:"requestId,omitempty"`       // Stripe's request id, for its support
	Message         string `json:"message"`
}

// CodeInvalidParams is the Failure code of parameters refused before any call.
const CodeInvalidParams = "invalid_params"

func declined(f Failure) error {
	msg := "payment declined: " + f.Message
	if f.DeclineCode != "" {
		msg += " (" + f.DeclineCode + ")"
	}
	return temporal.NewNonRetryableApplicationError(msg, ErrDeclined, nil, f)
}

func invalid(f Failure) error {
	return temporal.NewNonRetryableApplicationError("payment request refused: "+f.Message, ErrInvalid, nil, f)
}

// provider is what a connector implements per operation; Call validates the
// parameters the same way for every connector and dispatches here.
type provider interface {
	charge(ctx context.Context, c chargeRequest, idempotencyKey string) (map[string]any, error)
	refund(ctx context.Context, r refundRequest, idempotencyKey string) (map[string]any, error)
}

func dispatch(ctx context.Context, p provider, operation string, params map[string]any, idempotencyKey string) (map[string]any, error) {
	if strings.TrimSpace(idempotencyKey) == "" {
		// A missing key would let a retry pay twice.
		return nil, temporal.NewNonRetryableApplicationError(
			"payments: an idempotency key is required", interpreter.ErrConfiguration, nil)
	}
	switch operation {
	case OpCharge:
		c, err := parseCharge(params)
		if err != nil {
			return nil, err
		}
		return p.charge(ctx, c, idempotencyKey)
	case OpRefund:
		r, err := parseRefund(params)
		if err != nil {
			return nil, err
		}
		return p.refund(ctx, r, idempotencyKey)
	}
	return nil, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("payments: unknown operation %q (known: %s)", operation, strings.Join(Operations(), ", ")),
		interpreter.ErrConfiguration, nil)
}

// chargeRequest is a validated charge.
type chargeRequest struct {
	Amount        int64
	Currency      string // lower case ISO 4217
	PaymentMethod string // pm_…
	Customer      string // Stripe customer id (cus_…), optional
	Description   string
	Metadata      map[string]string
}

// refundRequest is a validated refund. Amount 0 refunds what remains.
type refundRequest struct {
	PaymentIntent string
	Amount        int64
}

func chargeOutput(id, status string, amount int64, currency string) map[string]any {
	return map[string]any{"paymentIntentId": id, "status": status, "amount": amount, "currency": currency}
}

func refundOutput(id, status string, amount int64) map[string]any {
	return map[string]any{"refundId": id, "status": status, "amount": amount}
}

func parseCharge(params map[string]any) (chargeRequest, error) {
	r := newReader(OpCharge, params, "amount", "currency", "paymentMethodId", "customer", "description", "metadata")
	c := chargeRequest{
		Amount:        r.amount("amount", true),
		Currency:      strings.ToLower(r.str("currency", true)),
		PaymentMethod: r.str("paymentMethodId", true),
		Customer:      r.str("customer", false),
		Description:   r.str("description", false),
		Metadata:      r.metadata("metadata"),
	}
	if c.Currency != "" && !isLetters(c.Currency, 3) {
		r.fail("currency must be a three-letter ISO code such as usd")
	}
	if c.PaymentMethod != "" && !hasIDPrefix(c.PaymentMethod, "pm_") && !containsPAN(c.PaymentMethod) {
		// A card number was reported already; never echo the value.
		r.fail("paymentMethodId must be a Stripe PaymentMethod id (pm_…) created by Stripe.js or a test token such as pm_card_visa; card numbers are never accepted")
	}
	if c.Customer != "" && !hasIDPrefix(c.Customer, "cus_") {
		r.fail("customer must be a Stripe customer id (cus_…)")
	}
	return c, r.err()
}

func parseRefund(params map[string]any) (refundRequest, error) {
	r := newReader(OpRefund, params, "paymentIntentId", "amount")
	req := refundRequest{
		PaymentIntent: r.str("paymentIntentId", true),
		Amount:        r.amount("amount", false),
	}
	if req.PaymentIntent != "" && !hasIDPrefix(req.PaymentIntent, "pi_") {
		r.fail("paymentIntentId must be a Stripe PaymentIntent id (pi_…)")
	}
	return req, r.err()
}

// reader reads an operation's parameters (CEL results: JSON numbers arrive as
// float64, literals as int64; null means absent) and collects every problem.
// Messages never quote a string value: it might be card data.
type reader struct {
	op       string
	params   map[string]any
	problems []string
}

func newReader(op string, params map[string]any, known ...string) *reader {
	r := &reader{op: op, params: params}
	var unknown []string
	for name, v := range params {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
		if looksLikePAN(v) {
			// Refused outright, whatever the parameter: card data must not
			// reach a provider (or a log) through a field meant for text.
			r.fail(fmt.Sprintf("%s looks like a card number; card numbers are never accepted: pass a Stripe PaymentMethod id (pm_…)", name))
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		r.fail(fmt.Sprintf("unknown parameter %s (%s takes %s)", name, op, strings.Join(known, ", ")))
	}
	return r
}

func (r *reader) fail(msg string) { r.problems = append(r.problems, msg) }

func (r *reader) err() error {
	if len(r.problems) == 0 {
		return nil
	}
	slices.Sort(r.problems) // map order must not change the message
	return invalid(Failure{Code: CodeInvalidParams, Message: r.op + ": " + strings.Join(r.problems, "; ")})
}

func (r *reader) str(name string, required bool) string {
	switch v := r.params[name].(type) {
	case nil:
		if required {
			r.fail(name + " is required")
		}
		return ""
	case string:
		if required && strings.TrimSpace(v) == "" {
			r.fail(name + " must not be empty")
		}
		return strings.TrimSpace(v)
	}
	r.fail(fmt.Sprintf("%s must be a string, got %s", name, problem.ValueTypeName(r.params[name])))
	return ""
}

// maxExactAmount is the largest integer a JSON number (a float64) carries
// exactly; any real amount is far below it.
const maxExactAmount = 1 << 53

// amount reads a positive integer amount in the smallest currency unit.
func (r *reader) amount(name string, required bool) int64 {
	var f float64
	switch v := r.params[name].(type) {
	case nil:
		if required {
			r.fail(name + " is required")
		}
		return 0
	case float64:
		f = v
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	default:
		r.fail(fmt.Sprintf("%s must be a number, got %s", name, problem.ValueTypeName(v)))
		return 0
	}
	if f <= 0 || f != math.Trunc(f) || f > maxExactAmount {
		r.fail(fmt.Sprintf("%s must be a positive integer in the currency's smallest unit (1999 for 19.99), got %s",
			name, strconv.FormatFloat(f, 'f', -1, 64)))
		return 0
	}
	return int64(f)
}

// metadata reads Stripe metadata: an object of scalar values, sent as strings.
func (r *reader) metadata(name string) map[string]string {
	switch v := r.params[name].(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, x := range v {
			switch x := x.(type) {
			case string:
				out[k] = x
			case bool:
				out[k] = strconv.FormatBool(x)
			case float64:
				out[k] = strconv.FormatFloat(x, 'f', -1, 64)
			case int64:
				out[k] = strconv.FormatInt(x, 10)
			case uint64:
				out[k] = strconv.FormatUint(x, 10)
			default:
				r.fail(fmt.Sprintf("%s.%s must be a string, number or boolean, got %s", name, k, problem.ValueTypeName(x)))
			}
		}
		return out
	}
	r.fail(fmt.Sprintf("%s must be an object, got %s", name, problem.ValueTypeName(r.params[name])))
	return nil
}

// hasIDPrefix reports whether s is prefix followed by letters, digits and
// underscores, the shape of Stripe ids and test tokens (pm_card_visa).
func hasIDPrefix(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || rest == "" || len(s) > 255 {
		return false
	}
	for _, c := range rest {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func isLetters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// looksLikePAN reports whether v, or any value inside it, holds what could
// be a card number: 13 to 19 digits, written together or in groups separated
// by single spaces or dashes (as people type them), starting with 2 to 6 (the
// networks' ranges: this spares epoch-millisecond timestamps) and passing the
// Luhn check.
func looksLikePAN(v any) bool {
	switch v := v.(type) {
	case string:
		return containsPAN(v)
	case float64:
		return containsPAN(strconv.FormatFloat(v, 'f', -1, 64))
	case int64:
		return containsPAN(strconv.FormatInt(v, 10))
	case uint64:
		return containsPAN(strconv.FormatUint(v, 10))
	case map[string]any:
		for _, x := range v {
			if looksLikePAN(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if looksLikePAN(x) {
				return true
			}
		}
	}
	return false
}

// containsPAN tries every sequence of consecutive digit groups of s, so a
// card number is found even next to other digits ("order 12 4242 4242 4242
// 4242"). Several groups count only when they are grouped as cards are
// printed and typed: a first group of four, every group of three to six
// digits (4-4-4-4, Amex's 4-6-5). A UUID's groups (8-4-4-4-12) never are,
// however many of its hex digits happen to be decimal.
func containsPAN(s string) bool {
	for _, run := range digitRuns(s) {
		for i := range run {
			number := ""
			for j, group := range run[i:] {
				if j > 0 && (len(run[i]) != 4 || len(group) < 3 || len(group) > 6) {
					break
				}
				number += group
				if len(number) > 19 {
					break
				}
				if len(number) >= 13 && number[0] >= '2' && number[0] <= '6' && luhn(number) {
					return true
				}
			}
		}
	}
	return false
}

// digitRuns splits s into runs of digit groups: "4242 4242-4242" is one run of
// three groups; any other character ends a run. A group glued to a letter is
// part of a word or an identifier, not of a number someone typed, and ends
// the run without joining it: the UUID in "order-…-4735-4497-9710-16eab5…"
// holds the run 4735 4497 9710, not 4735 4497 9710 16 (which passes the
// Luhn check, as one random id in ten would).
func digitRuns(s string) [][]string {
	isDigit := func(i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	isLetter := func(i int) bool {
		return i >= 0 && i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z')
	}
	var runs [][]string
	var run []string
	start := -1 // start of the current group
	for i := 0; i <= len(s); i++ {
		if isDigit(i) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			glued := isLetter(start-1) || isLetter(i)
			if !glued {
				run = append(run, s[start:i])
			}
			start = -1
			if glued {
				if run != nil {
					runs = append(runs, run)
					run = nil
				}
				continue
			}
		}
		separator := i < len(s) && (s[i] == ' ' || s[i] == '-') && isDigit(i-1) && isDigit(i+1)
		if !separator && run != nil {
			runs = append(runs, run)
			run = nil
		}
	}
	return runs
}

func luhn(number string) bool {
	sum := 0
	for i := range len(number) {
		d := int(number[len(number)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
