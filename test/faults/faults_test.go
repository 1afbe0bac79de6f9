//go:build faults

package faults

import (
	"fmt"
	"os"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// TestFaults starts the system once and runs the scenarios on it, in
// order, each with its own definition id and product so that its counts
// are its own; then it prints the results table (docs/reliability.md).
// FAULTS_RESULTS=path also writes the table to a file.
func TestFaults(t *testing.T) {
	start := time.Now()
	s := newSystem(t)
	t.Logf("system up in %v: temporal, postgres on :%d, api, 2 workers; logs in %s",
		time.Since(start).Round(time.Second), s.pg.port, s.dir)

	var results []result
	scenarios := []struct {
		name string
		run  func(*testing.T, *system) result
	}{
		{"1_worker_killed_in_activity", workerKilledInActivity},
		{"2_all_workers_killed_in_wait", allWorkersKilledInWait},
		{"3_temporal_restarted", temporalRestarted},
		{"4_idempotent_retries", idempotentRetries},
		{"5_stripe_fails_after_charge", stripeFailsAfterCharge},
		{"6_database_stopped", databaseStopped},
		{"7_failing_node_compensates", failingNodeCompensates},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			began := time.Now()
			r := sc.run(t, s)
			r.note = fmt.Sprintf("%s (%v)", r.note, time.Since(began).Round(time.Second))
			results = append(results, r)
		})
	}
	out := table(results)
	t.Logf("results (whole run %v):\n%s", time.Since(start).Round(time.Second), out)
	if path := os.Getenv("FAULTS_RESULTS"); path != "" {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// workerKilledInActivity: kill -9 one worker while charges are inside a
// slow Stripe call; the other worker finishes every execution, and each
// charge, order and reservation happens once.
func workerKilledInActivity(t *testing.T, s *system) result {
	const defID, product, n = "faults-s1", 9001, 30
	r := result{scenario: "1. kill -9 a worker inside a slow activity",
		checks: "every execution completes on the other worker; one charge, order, payment, reservation each; email at least once"}
	s.register(t, orderDefinition(t, defID, nil))
	s.addProduct(t, product)
	s.stripe.SetChargeDelay(3 * time.Second)
	defer s.stripe.SetChargeDelay(0)
	mails := len(s.sendgrid.Messages())

	ids := s.startMany(t, defID, n, func(int) any { return orderInput(product) })
	s.waitCharges(t, ids, n/2)
	s.workers[0].kill9(t)
	ends := s.waitClosed(t, ids, 2*time.Minute)
	s.startWorker(t, s.workers[0])

	countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkOrders(t, &r, product, ids, mails)
	cut, retried := 0, 0
	for _, id := range ids {
		for _, req := range s.stripe.Requests() {
			if req.IdempotencyKey == id+"/charge" {
				if req.ClientGone {
					cut++
				}
				if req.Replayed {
					retried++
				}
			}
		}
	}
	if cut == 0 {
		t.Errorf("%s: no charge was cut off by the kill: the scenario did not test a crash inside the activity", r.scenario)
	}
	r.note = fmt.Sprintf("%d charges cut off by the kill, %d retried with the same key", cut, retried)
	return r
}
