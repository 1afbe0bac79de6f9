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
)

// Scenarios 1-4: processes crash or restart while executions run.

// napDefinition waits wait, then sends an email: a wait node then a side
// effect.
func napDefinition(id string, wait time.Duration) map[string]any {
	return map[string]any{
		"id": id, "version": "1.0.0", "name": "wait then email", "startNode": "nap",
		"nodes": []any{
			map[string]any{"id": "nap", "type": "wait", "config": map[string]any{"duration": wait.String()}},
			map[string]any{"id": "wake_mail", "type": "email", "retry": ioRetry, "timeout": ioTimeout,
				"config": map[string]any{"to": "input.email", "subject": "'The wait is over'", "text": "'Execution ' + execution.id + ' woke up.'"}},
		},
		"edges": []any{map[string]any{"source": "nap", "target": "wake_mail"}},
	}
}

// timerStarted says whether execution id's history has started a timer
// (it sits in its wait node).
func (s *system) timerStarted(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	it := s.tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return false
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			return true
		}
	}
	return false
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

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
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

// allWorkersKilledInWait: kill -9 both workers while every execution sits
// in a wait node, start them again before the wait is over; every
// execution finishes, not before its wait ends, and emails once.
func allWorkersKilledInWait(t *testing.T, s *system) result {
	const defID, n = "faults-s2", 30
	const wait = 15 * time.Second
	r := result{scenario: "2. kill -9 every worker during a wait node",
		checks: "every execution resumes when the workers return and finishes after its wait, not before; one email each"}
	s.register(t, napDefinition(defID, wait))
	mails := len(s.sendgrid.Messages())

	ids := s.startMany(t, defID, n, func(int) any { return map[string]any{"email": "sleeper@example.com"} })
	waitFor(t, 30*time.Second, "every execution in its wait node", func() error {
		for _, id := range ids {
			if !s.timerStarted(id) {
				return fmt.Errorf("%s has no timer yet", id)
			}
		}
		return nil
	})
	for _, w := range s.workers {
		w.kill9(t)
	}
	killedAt := time.Now()
	time.Sleep(wait / 2)
	for _, w := range s.workers {
		s.startWorker(t, w)
	}
	t.Logf("workers down for %v", time.Since(killedAt).Round(time.Second))
	ends := s.waitClosed(t, ids, 2*time.Minute)

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkEmails(t, &r, ids, mails)
	var latest time.Duration
	for _, id := range ids {
		c := ends[id]
		if c.status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			continue
		}
		took := c.end.Sub(c.start)
		if took < wait {
			t.Errorf("%s: %s finished %v after its start, before its %v wait ended", r.scenario, id, took, wait)
		}
		var sentAt time.Time
		if err := s.db.Get(&sentAt, `SELECT created_at FROM email_outbox WHERE execution_id = $1`, id); err != nil {
			t.Errorf("%s: %s: email row: %v", r.scenario, id, err)
		} else if sentAt.Before(c.start.Add(wait)) {
			t.Errorf("%s: %s: email written at %v, before the wait ended at %v", r.scenario, id, sentAt, c.start.Add(wait))
		}
		latest = max(latest, took-wait)
	}
	r.note = fmt.Sprintf("%v wait; workers down %v of it; finished at most %v after the wait ended",
		wait, (wait / 2).Round(time.Second), latest.Round(100*time.Millisecond))
	return r
}

// temporalRestarted: kill -9 the Temporal server process while orders
// run, start it again on the same port and file; every order completes
// once.
func temporalRestarted(t *testing.T, s *system) result {
	const defID, product, n = "faults-s3", 9003, 30
	r := result{scenario: "3. restart the Temporal server mid-execution",
		checks: "kill -9 of the server process, restart on the same port and Postgres databases; every execution completes; one charge, order, payment, reservation each"}
	s.register(t, orderDefinition(t, defID, nil))
	s.addProduct(t, product)
	s.stripe.SetChargeDelay(time.Second)
	defer s.stripe.SetChargeDelay(0)
	mails := len(s.sendgrid.Messages())

	ids := s.startMany(t, defID, n, func(int) any { return orderInput(product) })
	s.waitCharges(t, ids, n/4)
	s.temporal.kill9(t)
	downAt := time.Now()
	time.Sleep(3 * time.Second)
	s.startTemporal(t)
	down := time.Since(downAt)
	ends := s.waitClosed(t, ids, 3*time.Minute)

	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkOrders(t, &r, product, ids, mails)
	for _, p := range append([]*process{s.api}, s.workers...) {
		if !p.running() {
			t.Errorf("%s: %s exited while Temporal was down", r.scenario, p.name)
		}
	}
	r.note = fmt.Sprintf("Temporal down %v", down.Round(time.Second))
	return r
}

// idempotentRetries: the same Idempotency-Key sent several times while the
// first execution runs, again after a worker was killed, and once more
// after it finished: one execution per key.
func idempotentRetries(t *testing.T, s *system) result {
	const defID, product, n = "faults-s4", 9004, 15
	const copies = 3
	r := result{scenario: "4. the same Idempotency-Key again, while running and after a worker crash",
		checks: fmt.Sprintf("%d concurrent requests per key, one more after kill -9 of a worker, one after the end; one execution per key in Temporal and in the rows", copies)}
	s.register(t, orderDefinition(t, defID, nil))
	s.addProduct(t, product)
	s.stripe.SetChargeDelay(2 * time.Second)
	defer s.stripe.SetChargeDelay(0)
	mails := len(s.sendgrid.Messages())

	key := func(i int) string { return fmt.Sprintf("%s-key-%d", defID, i) }
	seen := make([]map[string]int, n) // per key: execution id -> requests answered with it
	var mu sync.Mutex
	send := func(i int) {
		id, err := s.startAsync(defID, orderInput(product), key(i))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("%s: key %d: %v", r.scenario, i, err)
			return
		}
		if seen[i] == nil {
			seen[i] = map[string]int{}
		}
		seen[i][id]++
	}
	var wg sync.WaitGroup
	for i := range n {
		for range copies {
			wg.Go(func() { send(i) })
		}
	}
	wg.Wait()
	ids := make([]string, 0, n)
	for i := range n {
		for id := range seen[i] {
			ids = append(ids, id)
		}
	}
	s.waitCharges(t, ids, n/2)
	s.workers[0].kill9(t)
	for i := range n {
		wg.Go(func() { send(i) })
	}
	wg.Wait()
	ends := s.waitClosed(t, ids, 2*time.Minute)
	s.startWorker(t, s.workers[0])
	// After the end: the same key answers with the finished execution.
	for i := range n {
		status, body, err := s.apiCall(http.MethodPost, "/api/workflows/"+defID+"/execute?wait=10s",
			map[string]any{"input": orderInput(product)}, http.Header{"Idempotency-Key": {key(i)}})
		var env struct {
			Data struct{ ExecutionID, Status string } `json:"data"`
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &env) != nil || env.Data.Status != "completed" {
			t.Errorf("%s: key %d after the end: %d %s %v", r.scenario, i, status, body, err)
			continue
		}
		mu.Lock()
		seen[i][env.Data.ExecutionID]++
		mu.Unlock()
	}

	requests := 0
	for i := range n {
		if len(seen[i]) != 1 {
			t.Errorf("%s: key %d started %d executions: %v", r.scenario, i, len(seen[i]), seen[i])
			r.duplicated += len(seen[i]) - 1
		}
		for _, c := range seen[i] {
			requests += c
		}
	}
	s.countEnds(t, &r, ends, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.checkTemporalCount(t, &r, defID, n)
	s.checkOrders(t, &r, product, ids, mails)
	r.note = fmt.Sprintf("%d requests for %d keys", requests, n)
	return r
}
