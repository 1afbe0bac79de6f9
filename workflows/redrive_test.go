package workflows_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestRedriveAndRerun runs on the embedded Temporal server, through the
// API: a definition charges a card with Stripe on one branch and calls a
// side service on another; the call after the charge fails once (a 400,
// not retried), which fails the execution. A redrive goes on in a new run
// of the same execution: the failed call runs again, while the charge and
// the side call, completed, do not (one charge in total, one side call).
// A rerun from the failed node then starts a new execution reusing both.
func TestRedriveAndRerun(t *testing.T) {
	t.Parallel()
	var side, notify atomic.Int32
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/side":
			side.Add(1)
			fmt.Fprint(w, `{"ok": true}`)
		case "/notify":
			if notify.Add(1) == 1 {
				// Long enough for the side branch to have completed.
				time.Sleep(300 * time.Millisecond)
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error": "not yet"}`)
				return
			}
			fmt.Fprint(w, `{"sent": true}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(svc.Close)
	stripe := testenv.NewStripeServer(t)
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), stripe.URL, map[string]string{
		"OUTBOUND_ALLOW":     "127.0.0.1",
		"PAYLOAD_ENCRYPTION": "off", // the corpus is replayed without keys
	})
	def := strings.ReplaceAll(`{"id": "redrive-charge", "version": "1.0.0", "startNode": "begin",
		"nodes": [
			{"id": "begin", "type": "transform", "config": {"mapping": {"cents": "input.amountCents"}}},
			{"id": "charge", "type": "external_service", "config": {"service": "stripe", "operation": "charge", "params": {
				"amount": "nodes.begin.cents", "currency": "'usd'", "paymentMethodId": "'pm_card_visa'", "description": "'Order ' + execution.id"}}},
			{"id": "notify", "type": "api_call", "config": {"method": "POST", "url": "'SVC/notify'", "body": "{'charged': nodes.begin.cents}"}},
			{"id": "side", "type": "api_call", "config": {"method": "GET", "url": "'SVC/side'"}}
		],
		"edges": [
			{"source": "begin", "target": "charge"}, {"source": "charge", "target": "notify"},
			{"source": "begin", "target": "side"}
		]}`, "SVC", svc.URL)
	if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	charges := func() int {
		n := 0
		for _, req := range stripe.Requests() {
			if strings.HasPrefix(req.Path, "/v1/payment_intents") && req.Status == http.StatusOK {
				n++
			}
		}
		return n
	}

	r := e.post(t, "/api/workflows/redrive-charge/execute?wait=20s", `{"input": {"amountCents": 4999}}`)
	if r.Status != http.StatusUnprocessableEntity || r.Error.Code != "execution_failed" {
		t.Fatalf("first run: %d %s", r.Status, r.Raw)
	}
	id := r.executionID()
	e.checkPath(t, id, "begin completed\ncharge completed\nnotify failed\nside completed\n")
	if charges() != 1 || side.Load() != 1 {
		t.Fatalf("before the redrive: %d charges, %d side calls", charges(), side.Load())
	}

	redrive := e.post(t, "/api/executions/"+id+"/redrive", "")
	if redrive.Status != http.StatusAccepted || redrive.Data.ExecutionID != id {
		t.Fatalf("redrive: %d %s", redrive.Status, redrive.Raw)
	}
	e.waitDone(t, id)
	final := e.do(t, http.MethodGet, "/api/executions/"+id, "")
	if final.Data.Status != "completed" {
		t.Fatalf("after the redrive: %s", final.Raw)
	}
	if !strings.Contains(redrive.Raw, `"previousRunId"`) || !strings.Contains(final.Raw, runIDOf(t, redrive.Raw)) {
		t.Errorf("GET does not show the redriven run: redrive %s, GET %s", redrive.Raw, final.Raw)
	}
	e.checkPath(t, id, "begin completed\ncharge completed\nnotify completed\nside completed\n")
	// The redriven run (the latest) is the corpus's redrive entry.
	e.record(t, "redrive", id, nil)
	if got := charges(); got != 1 {
		t.Errorf("%d charges after the redrive, want 1 (the charge completed before the failure)", got)
	}
	if side.Load() != 1 || notify.Load() != 2 {
		t.Errorf("side called %d times (want 1: its branch had completed), notify %d (want 2)", side.Load(), notify.Load())
	}
	for _, req := range stripe.Requests() {
		if req.IdempotencyKey != id+"/charge" {
			t.Errorf("Idempotency-Key %q, want %q", req.IdempotencyKey, id+"/charge")
		}
	}

	again := e.post(t, "/api/executions/"+id+"/redrive", "")
	if again.Status != http.StatusConflict || again.Error.Code != "execution_completed" {
		t.Errorf("redrive of a completed execution: %d %s", again.Status, again.Raw)
	}

	// A rerun from notify: a new execution, the charge and the side call
	// reused from this one.
	rerun := e.post(t, "/api/executions/"+id+"/rerun", `{"fromNode": "notify"}`)
	if rerun.Status != http.StatusAccepted || rerun.Data.ExecutionID == id || !strings.Contains(rerun.Raw, `"rerunOf":"`+id+`"`) {
		t.Fatalf("rerun: %d %s", rerun.Status, rerun.Raw)
	}
	e.waitDone(t, rerun.Data.ExecutionID)
	got := e.do(t, http.MethodGet, "/api/executions/"+rerun.Data.ExecutionID, "")
	if got.Data.Status != "completed" || !strings.Contains(got.Raw, `"rerunOf":"`+id+`"`) {
		t.Errorf("rerun execution: %s", got.Raw)
	}
	if charges() != 1 || side.Load() != 1 || notify.Load() != 3 {
		t.Errorf("after the rerun: %d charges, %d side calls, %d notify calls; want 1, 1, 3", charges(), side.Load(), notify.Load())
	}

	for body, code := range map[string]string{
		`{"fromNode": "nope"}`:                       "rerun_refused",
		`{"fromNode": "notify", "version": "9.9.9"}`: "definition_not_found",
		`{}`: "invalid_request",
	} {
		if r := e.post(t, "/api/executions/"+id+"/rerun", body); r.Error.Code != code {
			t.Errorf("rerun %s: %d %s, want %s", body, r.Status, r.Raw, code)
		}
	}
}

// runIDOf reads data.runId of a raw reply.
func runIDOf(t *testing.T, raw string) string {
	t.Helper()
	_, after, ok := strings.Cut(raw, `"runId":"`)
	run, _, _ := strings.Cut(after, `"`)
	if !ok || run == "" {
		t.Fatalf("no runId in %s", raw)
	}
	return run
}
