//go:build faults

package faults

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
)

// result is one row of the results table.
type result struct {
	scenario   string
	checks     string
	executions int
	// completed counts executions that ended as the scenario expects
	// (completed; for scenario 7, failed after compensating).
	completed int
	// lost counts executions that did not end as expected in time.
	lost int
	// duplicated counts side effects beyond one per execution: extra
	// charges, refunds, orders, Temporal executions.
	duplicated int
	// resends counts emails SendGrid received beyond one per execution
	// (at-least-once: only a crash inside the send window may cause one).
	resends int
	note    string
}

// countEnds tallies the executions that ended with want and reports the
// others as lost, with what the API says about each.
func (s *system) countEnds(t *testing.T, r *result, ends map[string]closed, want enumspb.WorkflowExecutionStatus) {
	t.Helper()
	r.executions = len(ends)
	for id, c := range ends {
		if c.status == want {
			r.completed++
			continue
		}
		r.lost++
		_, body, err := s.apiCall(http.MethodGet, "/api/executions/"+id, nil, nil)
		t.Errorf("%s: execution %s is %v, want %v; the API says: %.1500s %v", r.scenario, id, c.status, want, body, err)
	}
}

// checkTemporalCount checks that Temporal lists exactly want executions of
// defID: a retried start or a lost execution would change the count.
func (s *system) checkTemporalCount(t *testing.T, r *result, defID string, want int) {
	t.Helper()
	got := s.executionsInTemporal(t, defID, want)
	if got != want {
		t.Errorf("%s: Temporal lists %d executions of %s, want %d", r.scenario, got, defID, want)
	}
	if got > want {
		r.duplicated += got - want
	}
}

// checkOrders checks the rows and charges of order executions that
// completed: one charge taken each (retries replayed the same key), one
// confirmed order with its item, a payment recording that charge and
// linked to the order, the stock of product taken once per order, and the
// confirmation email sent at least once. SendGrid's messages beyond one per
// execution since mailsBefore are the resends.
func (s *system) checkOrders(t *testing.T, r *result, product int, ids []string, mailsBefore int) {
	t.Helper()
	for _, id := range ids {
		taken, _ := s.chargesOf(id)
		if len(taken) != 1 {
			t.Errorf("%s: %s: %d charges taken (%v), want 1", r.scenario, id, len(taken), taken)
		}
		if len(taken) > 1 {
			r.duplicated += len(taken) - 1
		}
		var rows []struct {
			OrderStatus   string `db:"order_status"`
			OrderIntent   string `db:"order_intent"`
			Items         int    `db:"items"`
			PaymentStatus string `db:"payment_status"`
			PaymentIntent string `db:"payment_intent"`
			Linked        bool   `db:"linked"`
		}
		err := s.db.Select(&rows, `
			SELECT o.status AS order_status, COALESCE(o.payment_intent_id, '') AS order_intent,
			       (SELECT count(*) FROM order_items i WHERE i.order_id = o.id AND i.product_id = $2) AS items,
			       COALESCE(p.status, '') AS payment_status, COALESCE(p.payment_intent_id, '') AS payment_intent,
			       COALESCE(p.order_id = o.id, false) AS linked
			FROM orders o LEFT JOIN payments p ON p.execution_id = o.execution_id
			WHERE o.execution_id = $1`, id, product)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Errorf("%s: %s: %d orders, want 1", r.scenario, id, len(rows))
			continue
		}
		o := rows[0]
		if o.OrderStatus != "confirmed" || o.Items != 1 || o.PaymentStatus != "charged" || !o.Linked ||
			len(taken) == 0 || o.PaymentIntent != taken[0] || o.OrderIntent != taken[0] {
			t.Errorf("%s: %s: half-written or wrong order %+v (charges taken %v)", r.scenario, id, o, taken)
		}
	}
	s.checkStock(t, r, product, len(ids))
	s.checkEmails(t, r, ids, mailsBefore)
}

// checkStock checks that product's stock went down by exactly want units,
// one reservation per order.
func (s *system) checkStock(t *testing.T, r *result, product, want int) {
	t.Helper()
	var got struct {
		Stock    int `db:"stock"`
		Reserved int `db:"reserved"`
		Rows     int `db:"rows"`
	}
	err := s.db.Get(&got, `SELECT p.stock,
		(SELECT COALESCE(sum(quantity), 0) FROM stock_reservations WHERE product_id = p.id) AS reserved,
		(SELECT count(*) FROM stock_reservations WHERE product_id = p.id) AS rows
		FROM products p WHERE p.id = $1`, product)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stock != initialStock-want || got.Reserved != want || got.Rows != want {
		t.Errorf("%s: product %d: stock %d, reserved %d in %d rows; want stock %d and %d reserved",
			r.scenario, product, got.Stock, got.Reserved, got.Rows, initialStock-want, want)
	}
}

// checkEmails checks that every execution's email was sent (its outbox row
// is "sent") and counts SendGrid's messages beyond one per execution.
func (s *system) checkEmails(t *testing.T, r *result, ids []string, mailsBefore int) {
	t.Helper()
	var sent int
	if err := s.db.Get(&sent, `SELECT count(*) FROM email_outbox WHERE status = 'sent' AND execution_id = ANY($1)`, ids); err != nil {
		t.Fatal(err)
	}
	if sent != len(ids) {
		t.Errorf("%s: %d of %d emails sent", r.scenario, sent, len(ids))
	}
	mails := len(s.sendgrid.Messages()) - mailsBefore
	if mails < sent {
		t.Errorf("%s: SendGrid received %d messages for %d sent emails", r.scenario, mails, sent)
	}
	r.resends = mails - sent
}

// table renders the results as a Markdown table.
func table(results []result) string {
	var b strings.Builder
	b.WriteString("| scenario | checks | executions | ended as expected | lost | duplicated side effects | email resends | note |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %s |\n",
			r.scenario, r.checks, r.executions, r.completed, r.lost, r.duplicated, r.resends, r.note)
	}
	return b.String()
}
