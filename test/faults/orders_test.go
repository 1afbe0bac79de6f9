//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/workflow-backend/workflow-backend/interpreter"
	"github.com/workflow-backend/workflow-backend/workflows"
)

// Every scenario orders from this customer, one unit of a product of its
// own priced priceCents, so its stock and rows are its own.
const (
	customerID   = 500
	priceCents   = 1000
	initialStock = 1000
)

// ioRetry is the retry policy the scenarios' definitions give every I/O
// node instead of the default (10 attempts from 1 s up to 1 min): short
// enough for the suite, long enough (~18 s) to ride out the outages the
// scenarios cause.
var ioRetry = map[string]any{"maximumAttempts": 12, "initialInterval": "200ms", "backoffCoefficient": 2, "maximumInterval": "2s"}

// ioTimeout is the I/O nodes' start-to-close timeout in the scenarios'
// definitions (default 30 s): an attempt lost with a killed worker is
// retried after it.
const ioTimeout = "5s"

// orderDefinition is the shipped order flow (workflows.OrderProcessing,
// the same graph, saga included) under another id, with ioRetry and
// ioTimeout on its I/O nodes; tweak may change nodes further.
func orderDefinition(t *testing.T, id string, tweak func(node map[string]any)) map[string]any {
	t.Helper()
	flows, err := workflows.All()
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, f := range flows {
		if f.ID == workflows.OrderProcessing {
			raw = f.Document
		}
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	def["id"], def["version"], def["name"] = id, "1.0.0", "order flow for the fault scenario "+id
	for _, n := range def["nodes"].([]any) {
		node := n.(map[string]any)
		switch node["type"] {
		case "database_query", "external_service", "email":
			node["retry"], node["timeout"] = ioRetry, ioTimeout
		}
		if tweak != nil {
			tweak(node)
		}
	}
	return def
}

// register registers a definition through the API.
func (s *system) register(t *testing.T, def map[string]any) {
	t.Helper()
	status, body, err := s.apiCall(http.MethodPost, "/api/workflows", def, nil)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("register %v: %d %s %v", def["id"], status, body, err)
	}
}

// addCustomerAndProduct inserts the customer (once) and product id with
// initialStock units.
func (s *system) addProduct(t *testing.T, id int) {
	t.Helper()
	_, err := s.db.Exec(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, 'buyer@example.com', 'Buyer', 'not-a-hash')
		ON CONFLICT (id) DO NOTHING`, customerID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.db.Exec(`INSERT INTO products (id, name, price_cents, currency, stock) VALUES ($1, $2, $3, 'usd', $4)`,
		id, fmt.Sprintf("product %d", id), priceCents, initialStock)
	if err != nil {
		t.Fatal(err)
	}
}

// orderInput is one unit of product.
func orderInput(product int) map[string]any {
	return map[string]any{
		"customerId":      fmt.Sprint(customerID),
		"items":           []any{map[string]any{"productId": fmt.Sprint(product), "quantity": 1}},
		"totalAmount":     float64(priceCents) / 100,
		"paymentMethodId": "pm_card_visa",
	}
}

// startAsync starts an execution of defID through the API without waiting
// for it (Prefer: respond-async) and returns its id; key, when not empty,
// is sent as Idempotency-Key.
func (s *system) startAsync(defID string, input any, key string) (string, error) {
	h := http.Header{"Prefer": {"respond-async"}}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	status, body, err := s.apiCall(http.MethodPost, "/api/workflows/"+defID+"/execute", map[string]any{"input": input}, h)
	if err != nil {
		return "", err
	}
	var env struct {
		Data struct {
			ExecutionID string `json:"executionId"`
		} `json:"data"`
	}
	if status != http.StatusAccepted || json.Unmarshal(body, &env) != nil || env.Data.ExecutionID == "" {
		return "", fmt.Errorf("execute %s: %d %s", defID, status, body)
	}
	return env.Data.ExecutionID, nil
}

// startMany starts n executions of defID concurrently, input(i) each.
func (s *system) startMany(t *testing.T, defID string, n int, input func(i int) any) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = s.startAsync(defID, input(i), "") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// closed is how an execution ended, from Temporal.
type closed struct {
	status     enumspb.WorkflowExecutionStatus
	start, end time.Time
}

// waitClosed waits until every execution is closed in Temporal or timeout
// passes; the ones still open keep status RUNNING.
func (s *system) waitClosed(t *testing.T, ids []string, timeout time.Duration) map[string]closed {
	t.Helper()
	out := make(map[string]closed, len(ids))
	deadline := time.Now().Add(timeout)
	for {
		open := 0
		for _, id := range ids {
			if c, ok := out[id]; ok && c.status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			desc, err := s.tc.DescribeWorkflowExecution(ctx, id, "")
			cancel()
			if err != nil {
				open++
				out[id] = closed{status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}
				continue
			}
			info := desc.GetWorkflowExecutionInfo()
			out[id] = closed{status: info.GetStatus(), start: info.GetStartTime().AsTime(), end: info.GetCloseTime().AsTime()}
			if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// executionsInTemporal counts the executions of defID that Temporal's
// visibility lists, waiting up to 15 s for it to list at least want.
func (s *system) executionsInTemporal(t *testing.T, defID string, want int) int {
	t.Helper()
	var n int
	deadline := time.Now().Add(15 * time.Second)
	for {
		n = 0
		var token []byte
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: "default", Query: fmt.Sprintf("%s = '%s'", interpreter.SearchAttrDefinitionID, defID), NextPageToken: token, PageSize: 100,
			})
			cancel()
			if err != nil {
				t.Fatalf("list executions of %s: %v", defID, err)
			}
			n += len(resp.GetExecutions())
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// chargesOf returns the charges the Stripe server took for execution id
// (its idempotency key is "<id>/charge"), and the requests it received
// for it.
func (s *system) chargesOf(id string) (taken []string, requests int) {
	for _, r := range s.stripe.Requests() {
		if r.Path != "/v1/payment_intents" || r.IdempotencyKey != id+"/charge" {
			continue
		}
		requests++
		if r.Created {
			taken = append(taken, r.ObjectID)
		}
	}
	return taken, requests
}

// refundsOf counts the refunds the Stripe server made for execution id.
func (s *system) refundsOf(id string) int {
	n := 0
	for _, r := range s.stripe.Created("/v1/refunds") {
		if r.IdempotencyKey == id+"/refund" {
			n++
		}
	}
	return n
}

// waitCharges waits until the Stripe server has received n charge
// requests for the executions ids (the moment to inject a fault).
func (s *system) waitCharges(t *testing.T, ids []string, n int) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id+"/charge"] = true
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("%d charges in flight", n), func() error {
		got := 0
		for _, r := range s.stripe.Requests() {
			if want[r.IdempotencyKey] {
				got++
			}
		}
		if got < n {
			return fmt.Errorf("%d charge requests so far", got)
		}
		return nil
	})
}
