// Package workflows holds the shipped definitions: the graph definitions
// this product ships with REST routes of their own (POST
// /api/users/register, POST /api/orders/process). They are ordinary
// definitions: registered at start-up like any other, shown in GET
// /api/workflows, run by the same interpreter, and their routes go through
// the same execute pipeline as POST /api/workflows/{id}/execute.
//
// A definition's (id, version) is immutable once registered: change a file,
// change its version, or start-up fails with a conflict.
package workflows

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Ids of the shipped definitions.
const (
	UserRegistration = "user-registration"
	OrderProcessing  = "order-processing"
)

//go:embed user-registration.json order-processing.json
var files embed.FS

// Shipped is one shipped definition.
type Shipped struct {
	ID       string
	Version  string
	Document []byte // the JSON file as written
}

// All returns the shipped definitions in a fixed order.
func All() ([]Shipped, error) {
	var all []Shipped
	for _, id := range []string{UserRegistration, OrderProcessing} {
		doc, err := files.ReadFile(id + ".json")
		if err != nil {
			return nil, err
		}
		var head struct{ ID, Version string }
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("workflows/%s.json: %w", id, err)
		}
		if head.ID != id || head.Version == "" {
			return nil, fmt.Errorf("workflows/%s.json: id %q, version %q", id, head.ID, head.Version)
		}
		all = append(all, Shipped{ID: head.ID, Version: head.Version, Document: doc})
	}
	return all, nil
}

// Route is a REST route that executes a shipped definition. Its request
// body is the execution's input (a JSON object), it runs the version
// shipped with this binary (registering a definition with the same id
// through the API cannot change what the route runs), and otherwise it is
// POST /api/workflows/{id}/execute: the definition's inputSchema, the wait
// budget, Prefer: respond-async and Idempotency-Key work the same, and a
// failed execution answers the same status. Only a completed execution
// answers differently: Status instead of 200.
type Route struct {
	Method       string
	Path         string
	DefinitionID string
	// Status answers a completed execution.
	Status int
	// Check, when set, refuses an input with field errors (400
	// validation_failed) before anything is started or recorded.
	Check func(input map[string]any, opts CheckOptions) []interpreter.FieldError
}

// CheckOptions is what a route's Check may depend on besides the input.
type CheckOptions struct {
	// PaymentMethodRequired says a real payment provider is configured.
	PaymentMethodRequired bool
}

// Routes are the REST routes of the shipped definitions.
func Routes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/api/users/register", DefinitionID: UserRegistration, Status: http.StatusCreated},
		{Method: http.MethodPost, Path: "/api/orders/process", DefinitionID: OrderProcessing, Status: http.StatusCreated, Check: checkPaymentMethod},
	}
}

// checkPaymentMethod is the order route's own check: a paymentMethodId
// must be a token (pm_…), so that a card number sent by mistake never
// reaches the execution's history; and with a real payment provider
// configured it is required (the definition falls back to a test token
// only for dev mode's fake provider).
func checkPaymentMethod(input map[string]any, opts CheckOptions) []interpreter.FieldError {
	v, present := input["paymentMethodId"]
	if !present || v == nil {
		if opts.PaymentMethodRequired {
			return []interpreter.FieldError{{Field: "paymentMethodId", Message: "paymentMethodId (a payment method token such as pm_card_visa) is required"}}
		}
		return nil
	}
	if token, ok := v.(string); !ok || !strings.HasPrefix(token, "pm_") {
		return []interpreter.FieldError{{Field: "paymentMethodId", Message: "paymentMethodId must be a payment method token (pm_…) created with Stripe.js, or a test token such as pm_card_visa; card numbers are never accepted"}}
	}
	return nil
}
