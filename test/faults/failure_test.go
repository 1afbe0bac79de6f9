//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// Scenarios 5-7: a dependency fails, or a node fails for good.

// stripeFailsAfterCharge: Stripe takes the charge and then answers 500,
// drops the connection or never answers (the node's timeout ends the
// attempt); the retry carries the same idempotency key, so each order is
// charged once.
func stripeFailsAfterCharge(t *testing.T, s *system) result {
	const defID, product, n = "faults-s5", 9005, 15
	r := result{scenario: "5. Stripe 5xx, dropped connection or timeout after the charge was taken",
		checks: "the retried charge carries the same idempotency key: one charge per order; every execution completes"}
	s.register(t, orderDefinition(t, defID, nil))
	s.addProduct(t, product)
	var faults []testenv.ChargeFault
	for i := range n {
		faults = append(faults, []testenv.ChargeFault{testenv.ChargeFault500, testenv.ChargeFaultDrop, testenv.ChargeFaultHang}[i%3])
	}
	s.stripe.FailAfterCharge(faults...)
	mails := len(s.sendgrid.Messages())

	ids := s.startMany(t, defID, n, func(int) any { return orderInput(product) })
	ends := s.waitClosed(t, ids, 2*time.Minute)

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkOrders(t, &r, product, ids, mails)
	retried := 0
	for _, id := range ids {
		if _, requests := s.chargesOf(id); requests >= 2 {
			retried++
		}
	}
	if retried != n {
		t.Errorf("%s: %d of %d charges were retried, want all (each first attempt failed after the charge)", r.scenario, retried, n)
	}
	r.note = fmt.Sprintf("%d charges failed after being taken (500, drop, hang by turns), %d retried with the same key", n, retried)
	return r
}

// databaseStopped: the app database (the test's Postgres cluster) stops
// while orders run and starts again; the nodes retry, every order
// completes, and none is half-written.
func databaseStopped(t *testing.T, s *system) result {
	const defID, product, n = "faults-s6", 9006, 30
	const outage = 6 * time.Second
	r := result{scenario: "6. the app database stopped during executions",
		checks: fmt.Sprintf("pg_ctl stop -m fast, %v down, start; every execution completes; each order has its item, payment and one reservation", outage)}
	s.register(t, orderDefinition(t, defID, nil))
	s.addProduct(t, product)
	s.stripe.SetChargeDelay(time.Second)
	defer s.stripe.SetChargeDelay(0)
	mails := len(s.sendgrid.Messages())

	ids := s.startMany(t, defID, n, func(int) any { return orderInput(product) })
	s.waitCharges(t, ids, n/4)
	down := stopFor(t, s.pg, outage, func() {
		// The API reports the outage.
		status, body, err := s.apiCall(http.MethodGet, "/health", nil, nil)
		if err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("%s: /health with the database down: %d %s %v, want 503", r.scenario, status, body, err)
		}
	})
	ends := s.waitClosed(t, ids, 3*time.Minute)

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkOrders(t, &r, product, ids, mails)
	var orphans int
	if err := s.db.Get(&orphans, `SELECT
		(SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)) +
		(SELECT count(*) FROM payments WHERE order_id IS NULL AND status = 'charged') +
		(SELECT count(*) FROM stock_reservations r WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.execution_id = r.execution_id))`); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%s: %d half-written rows in the database (orders without items, unlinked payments, reservations without an order)", r.scenario, orphans)
	}
	// The outage must have hit the executions: some database node needed
	// more than one attempt.
	retried := 0
	for _, id := range ids {
		runs := s.activityRuns(t, id)
		for _, node := range []string{"record_payment", "create_order", "add_items", "link_payment", "confirmation_email"} {
			if runs[node].attempts > 1 {
				retried++
				break
			}
		}
	}
	if retried == 0 {
		t.Errorf("%s: no node was retried: the outage did not hit the executions", r.scenario)
	}
	r.note = fmt.Sprintf("database down %v; %d executions retried a node through it; 0 half-written rows in the whole database",
		down.Round(time.Second), retried)
	return r
}

// stopFor stops pg, runs during (when set) while it is down, starts it
// again after outage and returns how long it was down.
func stopFor(t *testing.T, pg *postgres, outage time.Duration, during func()) time.Duration {
	t.Helper()
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	if during != nil {
		during()
	}
	time.Sleep(outage)
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	return time.Since(stoppedAt)
}

// temporalDatabaseStopped: the Temporal server's Postgres stops while
// orders run and starts again. The server cannot record anything while it
// is down (workers' polls and completions fail and are retried by the
// SDK); afterwards every execution completes, each order charged once.
func temporalDatabaseStopped(t *testing.T, s *system) result {
	const defID, product, n = "faults-s8", 9008, 30
	const outage = 6 * time.Second
	r := result{scenario: "8. Temporal's database stopped during executions",
		checks: fmt.Sprintf("pg_ctl stop -m fast of the Temporal server's Postgres, %v down, start; every execution completes; one charge, order, payment, reservation each", outage)}
	s.register(t, orderDefinition(t, defID, nil))
	s.addProduct(t, product)
	s.stripe.SetChargeDelay(time.Second)
	defer s.stripe.SetChargeDelay(0)
	mails := len(s.sendgrid.Messages())

	ids := s.startMany(t, defID, n, func(int) any { return orderInput(product) })
	s.waitCharges(t, ids, n/4)
	down := stopFor(t, s.temporalPG, outage, nil)
	ends := s.waitClosed(t, ids, 3*time.Minute)

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkOrders(t, &r, product, ids, mails)
	r.note = fmt.Sprintf("Temporal's database down %v", down.Round(time.Second))
	return r
}

// failingNodeCompensates: a node after the charge fails on every attempt
// (a trigger refuses the order's item with a serialization failure, an
// error the node retries); after its bounded attempts the
// saga's error edges refund the charge, cancel the order and release the
// stock, and the execution fails with a structured error.
func failingNodeCompensates(t *testing.T, s *system) result {
	const defID, product, n = "faults-s7", 9007, 8
	const attempts = 3
	r := result{scenario: "7. a node fails permanently",
		checks: fmt.Sprintf("a node fails on each of its %d attempts, then stops: after the charge (add_items), the saga refunds, cancels the order, releases the stock and fails with order_failed; without an error edge, the execution fails with 422 execution_failed naming the node", attempts)}
	def := orderDefinition(t, defID, func(node map[string]any) {
		if node["id"] == "add_items" {
			node["retry"] = map[string]any{"maximumAttempts": attempts, "initialInterval": "200ms", "backoffCoefficient": 2}
		}
	})
	s.register(t, def)
	s.addProduct(t, product)
	if _, err := s.db.Exec(fmt.Sprintf(`
		CREATE FUNCTION faults_refuse_item() RETURNS trigger AS $$
		BEGIN RAISE EXCEPTION 'the warehouse refuses product %%', NEW.product_id USING ERRCODE = 'serialization_failure'; END;
		$$ LANGUAGE plpgsql;
		CREATE TRIGGER faults_refuse_item BEFORE INSERT ON order_items
			FOR EACH ROW WHEN (NEW.product_id = %d) EXECUTE FUNCTION faults_refuse_item();`, product)); err != nil {
		t.Fatal(err)
	}
	mails := len(s.sendgrid.Messages())

	began := time.Now()
	ids := s.startMany(t, defID, n, func(int) any { return orderInput(product) })
	ends := s.waitClosed(t, ids, 2*time.Minute)
	took := time.Since(began)

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED)
	s.checkTemporalCount(t, &r, defID, n)
	for _, id := range ids {
		s.checkCompensated(t, &r, id, attempts)
	}
	s.checkStock(t, &r, product, 0)
	unhandled := s.unhandledFailure(t, &r, product, attempts)
	if mails := len(s.sendgrid.Messages()) - mails; mails != 0 {
		t.Errorf("%s: %d confirmation emails sent for failed orders", r.scenario, mails)
	}
	r.note = fmt.Sprintf("%d order sagas compensated (all failed within %v), %d executions without an error edge",
		n, took.Round(time.Second), unhandled)
	return r
}

// checkCompensated checks one failed order: the API's view names the
// failing node and the error, add_items ran exactly attempts times, the
// charge was refunded once, the payment is marked refunded and the order
// canceled without items.
func (s *system) checkCompensated(t *testing.T, r *result, id string, attempts int) {
	t.Helper()
	status, body, err := s.apiCall(http.MethodGet, "/api/executions/"+id, nil, nil)
	var view struct {
		Data struct {
			Status string `json:"status"`
			Error  struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
			Nodes []struct {
				ID       string          `json:"id"`
				Status   string          `json:"status"`
				Attempts int             `json:"attempts"`
				Error    json.RawMessage `json:"error"`
			} `json:"nodes"`
		} `json:"data"`
	}
	if err != nil || status != http.StatusOK || json.Unmarshal(body, &view) != nil {
		t.Errorf("%s: GET execution %s: %d %s %v", r.scenario, id, status, body, err)
		return
	}
	if view.Data.Status != "failed" || view.Data.Error.Code != "order_failed" {
		t.Errorf("%s: %s: status %q error %+v, want failed with order_failed", r.scenario, id, view.Data.Status, view.Data.Error)
	}
	nodes := map[string]string{}
	for _, nd := range view.Data.Nodes {
		nodes[nd.ID] = nd.Status
		if nd.ID == "add_items" && (nd.Status != "failed" || !strings.Contains(string(nd.Error), "add_items") || nd.Attempts != attempts) {
			t.Errorf("%s: %s: add_items is %s after %d attempts with error %s; want failed after %d with an error naming it",
				r.scenario, id, nd.Status, nd.Attempts, nd.Error, attempts)
		}
	}
	// The attempts, from Temporal's history too.
	if run := s.activityRuns(t, id)["add_items"]; int(run.attempts) != attempts || run.state != enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
		t.Errorf("%s: %s: add_items ran %d attempts and ended with retry state %v; want %d and MaximumAttemptsReached",
			r.scenario, id, run.attempts, run.state, attempts)
	}
	for _, comp := range []string{"refund", "mark_refunded", "cancel_order", "release_paid_stock", "order_failed"} {
		if nodes[comp] != "completed" && !(comp == "order_failed" && nodes[comp] == "failed") {
			t.Errorf("%s: %s: compensation node %s is %q", r.scenario, id, comp, nodes[comp])
		}
	}
	if refunds := s.refundsOf(id); refunds != 1 {
		t.Errorf("%s: %s: %d refunds, want 1", r.scenario, id, refunds)
		if refunds > 1 {
			r.duplicated += refunds - 1
		}
	}
	if taken, _ := s.chargesOf(id); len(taken) != 1 {
		t.Errorf("%s: %s: %d charges, want 1", r.scenario, id, len(taken))
	}
	var row struct {
		Order   string `db:"order_status"`
		Payment string `db:"payment_status"`
		Items   int    `db:"items"`
	}
	if err := s.db.Get(&row, `SELECT o.status AS order_status, p.status AS payment_status,
		(SELECT count(*) FROM order_items i WHERE i.order_id = o.id) AS items
		FROM orders o JOIN payments p ON p.execution_id = o.execution_id WHERE o.execution_id = $1`, id); err != nil {
		t.Errorf("%s: %s: rows: %v", r.scenario, id, err)
		return
	}
	if row.Order != "canceled" || row.Payment != "refunded" || row.Items != 0 {
		t.Errorf("%s: %s: order %s, payment %s, %d items; want canceled, refunded, none", r.scenario, id, row.Order, row.Payment, row.Items)
	}
}

// activityRun is what execution history says of one activity id: how many
// attempts it ran (the attempt of its last start) and the retry state its
// failure ended with.
type activityRun struct {
	attempts int32
	state    enumspb.RetryState
}

// activityRuns reads execution id's history once and returns the run of
// each activity id in it (for an id scheduled more than once, its last
// scheduling).
func (s *system) activityRuns(t *testing.T, id string) map[string]activityRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	activityOf := map[int64]string{} // scheduled event id -> activity id
	runs := map[string]activityRun{}
	it := s.tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activityOf[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityId()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			if act, ok := activityOf[a.GetScheduledEventId()]; ok {
				r := runs[act]
				r.attempts = a.GetAttempt()
				runs[act] = r
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			a := ev.GetActivityTaskFailedEventAttributes()
			if act, ok := activityOf[a.GetScheduledEventId()]; ok {
				r := runs[act]
				r.state = a.GetRetryState()
				runs[act] = r
			}
		}
	}
	return runs
}

// unhandledFailure runs executions of a node that fails on every attempt
// and has no error edge: each fails after its attempts with the API's
// structured error execution_failed, whose details name the node. It
// returns how many it ran.
func (s *system) unhandledFailure(t *testing.T, r *result, product, attempts int) int {
	t.Helper()
	const defID, n = "faults-s7-unhandled", 4
	s.register(t, map[string]any{
		"id": defID, "version": "1.0.0", "name": "a node that always fails", "startNode": "add_item",
		"nodes": []any{map[string]any{
			"id": "add_item", "type": "database_query", "timeout": ioTimeout,
			"retry": map[string]any{"maximumAttempts": attempts, "initialInterval": "200ms"},
			"config": map[string]any{"connection": "app", "mode": "exec",
				"query":  "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES (0, :product, 1, 1)",
				"params": map[string]any{"product": "input.product"}},
		}},
		"edges": []any{},
	})
	ids := s.startMany(t, defID, n, func(int) any { return map[string]any{"product": product} })
	ends := s.waitClosed(t, ids, time.Minute)
	r.executions += n
	for _, id := range ids {
		if ends[id].status != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
			r.lost++
			t.Errorf("%s: %s is %v, want failed", r.scenario, id, ends[id].status)
			continue
		}
		status, body, err := s.apiCall(http.MethodGet, "/api/executions/"+id, nil, nil)
		var view struct {
			Data struct {
				Error struct {
					HTTPStatus int    `json:"httpStatus"`
					Code       string `json:"code"`
					// execution_failed's "failure" (its details' one entry).
					Failure struct {
						NodeID   string `json:"nodeId"`
						NodeType string `json:"nodeType"`
					} `json:"failure"`
				} `json:"error"`
			} `json:"data"`
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &view) != nil {
			t.Errorf("%s: GET %s: %d %s %v", r.scenario, id, status, body, err)
			continue
		}
		e := view.Data.Error
		run := s.activityRuns(t, id)["add_item"]
		if e.HTTPStatus != http.StatusUnprocessableEntity || e.Code != "execution_failed" || e.Failure.NodeID != "add_item" ||
			e.Failure.NodeType != "database_query" || int(run.attempts) != attempts || run.state != enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
			t.Errorf("%s: %s: error %+v after %d attempts (%v); want 422 execution_failed naming add_item after %d",
				r.scenario, id, e, run.attempts, run.state, attempts)
			continue
		}
		r.completed++
	}
	if s.executionsInTemporal(t, defID, n) != n {
		t.Errorf("%s: Temporal does not list %d executions of %s", r.scenario, n, defID)
	}
	return n
}
