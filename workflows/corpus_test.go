package workflows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/replay"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// historiesDir is the replay corpus: the interpreter's replay test and the
// replay command's tests replay every file in it.
const historiesDir = "../interpreter/testdata/histories"

// TestCorpus runs the definitions that make the replay corpus cover what
// the flows' histories do not: api_call, notification and file_processing
// on parallel branches, waits until a time and on a signal with a timeout
// edge, a saga whose compensation refunds a charge, and a call node's child
// execution. They run on the
// embedded Temporal server with the real node implementations (stripe-mock,
// the SendGrid fake, a local HTTP service, a temporary storage root), each
// run's path is checked and its fresh history replayed; UPDATE_HISTORIES=1
// also writes the histories to the corpus.
func TestCorpus(t *testing.T) {
	t.Parallel()
	stripeMock := testenv.StripeMock(t)
	svc := newCorpusService(t)
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), stripeMock, map[string]string{
		"OUTBOUND_ALLOW":  "127.0.0.1",
		"NOTIFY_WEBHOOKS": "ops=" + svc.URL + corpusHookPath,
		// The corpus holds test data only and is replayed in CI without
		// keys: record it unencrypted.
		"PAYLOAD_ENCRYPTION": "off",
	})
	// What must never reach a history: the workers' secrets.
	secrets := []string{testenv.StripeTestKey, sendGridKey, corpusHookPath}

	t.Run("IOParallelBranches", func(t *testing.T) {
		id := e.corpusRun(t, corpusIOParallel(svc.URL), `{"input": {"name": "ada"}}`, http.StatusOK, "")
		e.checkPath(t, id, "check completed\nfetch completed\nnotify completed\nsave completed\nmail completed\nsum completed\nreport completed\n")
		if got := svc.hooks(); got != 1 {
			t.Errorf("webhook called %d times, want 1", got)
		}
		e.record(t, "io-parallel-branches", id, secrets)
	})

	t.Run("WaitsUntilTimeoutSignal", func(t *testing.T) {
		id := e.corpusRun(t, corpusWaits, `{"input": {}}`, http.StatusAccepted, "")
		time.Sleep(200 * time.Millisecond) // let the waits begin, so the signal is not buffered
		if r := e.post(t, "/api/executions/"+id+"/signals/confirm", `{"by": "ann"}`); r.Status != http.StatusAccepted {
			t.Fatalf("signal: %d %s", r.Status, r.Raw)
		}
		e.waitDone(t, id)
		e.checkPath(t, id, "start completed\nuntil completed\napproval completed\nexpired completed\nconfirm completed\ndone completed\n")
		e.record(t, "waits-until-timeout-signal", id, secrets)
	})

	t.Run("PrunedScope", func(t *testing.T) {
		// 20 KB the nodes never read: no node's request may carry it.
		unread := strings.Repeat("u", 20_000)
		id := e.corpusRun(t, corpusPrunedScope, `{"input": {"order": {"qty": 3, "unit": 2.5}, "unread": "`+unread+`"}}`, http.StatusOK, "")
		e.checkPath(t, id, "price completed\nlabel completed\n")
		it := e.temporal.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		scheduled := 0
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
				scheduled++
				raw, _ := proto.Marshal(a.GetInput())
				if bytes.Contains(raw, []byte(unread)) {
					t.Errorf("the request of %s carries the input no node reads", a.GetActivityId())
				}
			}
		}
		if scheduled != 2 {
			t.Errorf("%d activities scheduled, want 2", scheduled)
		}
		e.record(t, "pruned-scope", id, secrets)
	})

	t.Run("Call", func(t *testing.T) {
		if r := e.post(t, "/api/workflows", corpusCallee); r.Status != http.StatusCreated && r.Status != http.StatusOK {
			t.Fatalf("register the callee: %d %s", r.Status, r.Raw)
		}
		id := e.corpusRun(t, corpusCaller, `{"input": {"n": 20, "refuse": false}}`, http.StatusOK, "")
		e.checkPath(t, id, "call completed\n")
		e.record(t, "call", id, secrets)
		id = e.corpusRun(t, corpusCaller, `{"input": {"n": 1, "refuse": true}}`, http.StatusConflict, "callee_refused")
		e.checkPath(t, id, "call failed\n")
		e.record(t, "call-failing-child", id, secrets)
	})

	t.Run("CompensationRefund", func(t *testing.T) {
		id := e.corpusRun(t, corpusSaga(svc.URL), `{"input": {}}`, http.StatusBadGateway, "shipping_refused")
		e.checkPath(t, id, "charge completed\nship failed\nrefund completed\nshipping_refused failed\n")
		e.record(t, "compensation-refund", id, secrets)
	})
}

// corpusRun registers def and executes it with body; it expects status
// (and, for an error, code) and returns the execution id.
func (e *flowEnv) corpusRun(t *testing.T, def, body string, status int, code string) string {
	t.Helper()
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		t.Fatal(err)
	}
	if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("register %s: %d %s", d.ID, r.Status, r.Raw)
	}
	query := "?wait=20s"
	if status == http.StatusAccepted {
		query = "?wait=0"
	}
	r := e.post(t, "/api/workflows/"+d.ID+"/execute"+query, body)
	if r.Status != status || r.Error.Code != code || r.executionID() == "" {
		t.Fatalf("execute %s: %d %s, want %d %q", d.ID, r.Status, r.Raw, status, code)
	}
	return r.executionID()
}

// waitDone waits until the execution is no longer running.
func (e *flowEnv) waitDone(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.do(t, http.MethodGet, "/api/executions/"+id, "")
		if r.Data.Status != "" && r.Data.Status != "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running: %s", id, r.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkPath compares the nodes that ran with want ("id status" lines in
// definition order).
func (e *flowEnv) checkPath(t *testing.T, id, want string) {
	t.Helper()
	if got := e.path(t, id); got != want {
		t.Errorf("path of %s:\n%s\nwant:\n%s", id, got, want)
	}
}

// record reads the execution's history, checks that it holds none of
// secrets and that the current interpreter replays it, and writes it to the
// corpus as <name>.json when UPDATE_HISTORIES=1.
func (e *flowEnv) record(t *testing.T, name, id string, secrets []string) {
	t.Helper()
	it := e.temporal.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	// Payload bytes appear verbatim in the binary encoding.
	raw, err := proto.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the history of %s contains the secret %q", name, s)
		}
	}
	types := activities.NodeTypes(app.IONames())
	r, err := replay.New(interpreter.New(interpreter.NewRegistry(types...)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Replay(h); err != nil {
		t.Fatalf("the fresh history of %s does not replay: %v", name, err)
	}
	if os.Getenv("UPDATE_HISTORIES") != "1" {
		return
	}
	if err := replay.WriteFile(filepath.Join(historiesDir, name+".json"), h); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s.json (%d events)", name, len(h.Events))
}

// corpusHookPath is the local service's webhook path: the notification
// node names the webhook by connection, so the path must not reach history.
const corpusHookPath = "/hooks/secret-corpus-webhook"

// corpusService is the local HTTP service the api_call and notification
// nodes call.
type corpusService struct {
	*httptest.Server
	hookCalls chan struct{}
}

func newCorpusService(t *testing.T) *corpusService {
	s := &corpusService{hookCalls: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name": %q, "items": 3}`, r.URL.Query().Get("name"))
	})
	mux.HandleFunc("POST /shipping", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest) // refused: not retried
		fmt.Fprint(w, `{"error": "address_unknown"}`)
	})
	mux.HandleFunc("POST "+corpusHookPath, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.hookCalls <- struct{}{}
		fmt.Fprint(w, "ok")
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *corpusService) hooks() int { return len(s.hookCalls) }

// corpusIOParallel: a validation node fans out to four I/O nodes started in
// one workflow task (api_call, notification, file_processing write, email);
// a checksum of the written file follows the write; a transform joins them.
func corpusIOParallel(base string) string {
	return strings.ReplaceAll(`{
  "id": "corpus-io-parallel", "version": "1", "startNode": "check",
  "nodes": [
    {"id": "check", "type": "validation", "config": {"rules": [{"field": "name", "operator": "required"}]}},
    {"id": "fetch", "type": "api_call", "config": {"method": "GET", "url": "'BASE/items?name=' + input.name"}},
    {"id": "notify", "type": "notification", "config": {"connection": "ops", "message": "'corpus run ' + execution.id"}},
    {"id": "save", "type": "file_processing", "config": {"operation": "write", "path": "'corpus/' + execution.id + '.json'", "content": "input"}},
    {"id": "mail", "type": "email", "config": {"to": "'ops@example.com'", "subject": "'Corpus run'", "text": "'Hello ' + input.name"}},
    {"id": "sum", "type": "file_processing", "config": {"operation": "checksum", "path": "'corpus/' + execution.id + '.json'"}},
    {"id": "report", "type": "transform", "config": {"mapping": {
      "items": "nodes.fetch.body.items", "notified": "nodes.notify.status", "sameFile": "nodes.sum.sha256 == nodes.save.sha256"}}}
  ],
  "edges": [
    {"source": "check", "target": "fetch"}, {"source": "check", "target": "notify"},
    {"source": "check", "target": "save"}, {"source": "check", "target": "mail"},
    {"source": "save", "target": "sum"},
    {"source": "fetch", "target": "report"}, {"source": "notify", "target": "report"},
    {"source": "sum", "target": "report"}, {"source": "mail", "target": "report"}
  ]
}`, "BASE", base)
}

// corpusWaits: three waits in parallel: until a time computed from the
// execution's start, a signal that never comes (its timeout edge fires),
// and a signal that comes; a transform joins the first and the last.
const corpusWaits = `{
  "id": "corpus-waits", "version": "1", "startNode": "start",
  "nodes": [
    {"id": "start", "type": "transform", "config": {"mapping": {"ok": "true"}}},
    {"id": "until", "type": "wait", "config": {"until": "execution.startedAt + duration('1s')"}},
    {"id": "approval", "type": "wait", "config": {"signal": "approve", "timeout": "1s"}},
    {"id": "approved", "type": "transform", "config": {"mapping": {"by": "nodes.approval.by"}}},
    {"id": "expired", "type": "transform", "config": {"mapping": {"expired": "true"}}},
    {"id": "confirm", "type": "wait", "config": {"signal": "confirm"}},
    {"id": "done", "type": "transform", "config": {"mapping": {"until": "nodes.until.until", "by": "nodes.confirm.by"}}}
  ],
  "edges": [
    {"source": "start", "target": "until"}, {"source": "start", "target": "approval"}, {"source": "start", "target": "confirm"},
    {"source": "approval", "target": "approved"},
    {"source": "approval", "target": "expired", "on": "timeout"},
    {"source": "until", "target": "done"}, {"source": "confirm", "target": "done"}
  ]
}`

// corpusPrunedScope: two remote nodes, each given only what it reads (a
// field of the input, the other's output), never the whole input.
const corpusPrunedScope = `{
  "id": "corpus-pruned-scope", "version": "1", "startNode": "price",
  "output": {"label": "nodes.label.text"},
  "nodes": [
    {"id": "price", "type": "transform", "execution": "remote", "config": {"mapping": {"total": "input.order.qty * input.order.unit"}}},
    {"id": "label", "type": "transform", "execution": "remote", "config": {"mapping": {"text": "'total ' + string(nodes.price.total)"}}}
  ],
  "edges": [{"source": "price", "target": "label", "condition": "nodes.price.total > 0"}]
}`

// corpusSaga: a charge, then a shipping call the service refuses; the
// refusal's error edge compensates with a refund, then fails the execution
// with a business error.
func corpusSaga(base string) string {
	return strings.ReplaceAll(`{
  "id": "corpus-saga", "version": "1", "startNode": "charge",
  "nodes": [
    {"id": "charge", "type": "external_service", "config": {"service": "stripe", "operation": "charge", "params": {
      "amount": "2500", "currency": "'usd'", "paymentMethodId": "'pm_card_visa'", "description": "'Corpus ' + execution.id"}}},
    {"id": "ship", "type": "api_call", "config": {"method": "POST", "url": "'BASE/shipping'", "body": "{'order': execution.id}"}},
    {"id": "refund", "type": "external_service", "config": {"service": "stripe", "operation": "refund", "params": {
      "paymentIntentId": "nodes.charge.paymentIntentId"}}},
    {"id": "shipping_refused", "type": "fail", "config": {"status": 502, "code": "shipping_refused", "message": "Shipping refused the order; the charge was refunded"}}
  ],
  "edges": [
    {"source": "charge", "target": "ship"},
    {"source": "ship", "target": "refund", "on": "error"},
    {"source": "refund", "target": "shipping_refused"}
  ]
}`, "BASE", base)
}
