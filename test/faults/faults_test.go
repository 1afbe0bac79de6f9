//go:build faults

package faults

import (
	"fmt"
	"testing"
	"time"
)

// TestFaults starts the system once and runs the scenarios on it, in
// order, each with its own definition id and product so that its counts
// are its own; then it prints the results table (docs/reliability.md).
func TestFaults(t *testing.T) {
	start := time.Now()
	s := newSystem(t)
	t.Logf("system up in %v: temporal (its postgres on :%d), app postgres on :%d, api, 2 workers; logs in %s",
		time.Since(start).Round(time.Second), s.temporalPG.port, s.pg.port, s.dir)

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
		{"8_temporal_database_stopped", temporalDatabaseStopped},
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
}
