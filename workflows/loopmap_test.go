package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/replay"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// mapItem is the definition body of the maps below: it refuses the sku
// "bad" with a business error, else echoes its input.
const mapItem = `{
  "id": "map-item", "version": "1", "startNode": "check",
  "inputSchema": {"type": "object", "required": ["sku", "index"]},
  "output": {"sku": "nodes.echo.sku", "index": "nodes.echo.index"},
  "nodes": [
    {"id": "check", "type": "condition", "config": {"expression": "input.sku == 'bad'"}},
    {"id": "refuse", "type": "fail", "config": {"status": 409, "code": "item_refused", "message": "the item was refused"}},
    {"id": "echo", "type": "transform", "config": {"mapping": {"sku": "input.sku", "index": "input.index"}}}
  ],
  "edges": [
    {"source": "check", "target": "refuse", "on": "true"},
    {"source": "check", "target": "echo", "on": "false"}
  ]
}`

// mapDefinition is a one-map definition (id, map config) whose output is
// the map's.
func mapDefinition(id, config string) string {
	return `{"id": "` + id + `", "version": "1", "startNode": "each",
		"output": {"out": "nodes.each"},
		"nodes": [{"id": "each", "type": "map", "config": ` + config + `}], "edges": []}`
}

// paymentService answers GET /payments/<id> with {"status": "pending"}
// until the third call for that id, then {"status": <id's prefix>}
// ("succeeded-1" settles as succeeded).
type paymentService struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

func newPaymentService(t *testing.T) *paymentService {
	s := &paymentService{calls: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/payments/")
		s.mu.Lock()
		s.calls[id]++
		n := s.calls[id]
		s.mu.Unlock()
		status := "pending"
		if n >= 3 {
			status, _, _ = strings.Cut(id, "-")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "status": status})
	}))
	t.Cleanup(s.Close)
	return s
}

// TestLoopAndMap runs loop and map nodes through the API on the embedded
// Temporal server: a poll with a delay, maps with node and definition
// bodies (collect and fail), the examples, and the history budget of a
// long map. Their histories are the corpus's loop and map entries.
func TestLoopAndMap(t *testing.T) {
	t.Parallel()
	psp := newPaymentService(t)
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.NewStripeServer(t).URL, map[string]string{
		"OUTBOUND_ALLOW":     "127.0.0.1",
		"PAYLOAD_ENCRYPTION": "off", // the corpus is replayed without keys
	})
	for _, def := range []string{mapItem} {
		if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
	}

	t.Run("LoopPollsWithADelay", func(t *testing.T) {
		// The example polls every 10 s; 1 s keeps the test short.
		doc := strings.Replace(readExample(t, "poll-payment.json"), `"delay": "10s"`, `"delay": "1s"`, 1)
		began := time.Now()
		id := e.corpusRun(t, doc, `{"input": {"statusUrl": "`+psp.URL+`/payments/succeeded-1"}}`, http.StatusOK, "")
		if took := time.Since(began); took < 2*time.Second {
			t.Errorf("three polls took %v: the two delays did not wait", took)
		}
		r := e.do(t, http.MethodGet, "/api/executions/"+id, "")
		if r.Data.Output["status"] != "succeeded" || r.Data.Output["checks"] != 3.0 {
			t.Errorf("output %s", r.Raw)
		}
		e.checkPath(t, id, "poll completed\nsettled completed\ndone completed\n")
		e.record(t, "loop-delay", id, nil)

		r = e.post(t, "/api/workflows/poll-payment/execute?wait=20s", `{"input": {"statusUrl": "`+psp.URL+`/payments/declined-1"}}`)
		if r.Status != http.StatusPaymentRequired || r.Error.Code != "payment_declined" {
			t.Errorf("declined: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("MapNodeBodyCollect", func(t *testing.T) {
		def := mapDefinition("map-node-collect", `{"items": "input.xs", "maxItems": 10, "concurrency": 2, "onItemError": "collect",
			"body": {"node": {"type": "transform", "config": {"mapping": {"v": "12 / item", "at": "index"}}}}}`)
		id := e.corpusRun(t, def, `{"input": {"xs": [1, 0, 3, 4]}}`, http.StatusOK, "")
		r := e.do(t, http.MethodGet, "/api/executions/"+id, "")
		out, _ := json.Marshal(r.Data.Output["out"])
		want := `{"errors":[{"error":{"message":"node \"each[1]\": mapping.v \"12 / item\": division by zero","type":"ExpressionError"},"index":1}],` +
			`"results":[{"at":0,"v":12},null,{"at":2,"v":4},{"at":3,"v":3}]}`
		if string(out) != want {
			t.Errorf("output\n%s\nwant\n%s", out, want)
		}
		e.record(t, "map-node-collect", id, nil)
	})

	t.Run("MapDefinitionBody", func(t *testing.T) {
		def := mapDefinition("map-child", `{"items": "input.skus", "as": "sku", "maxItems": 10, "concurrency": 2,
			"body": {"definition": "map-item"}}`)
		id := e.corpusRun(t, def, `{"input": {"skus": ["a", "b", "c"]}}`, http.StatusOK, "")
		r := e.do(t, http.MethodGet, "/api/executions/"+id, "")
		out, _ := json.Marshal(r.Data.Output["out"])
		if want := `{"results":[{"index":0,"sku":"a"},{"index":1,"sku":"b"},{"index":2,"sku":"c"}]}`; string(out) != want {
			t.Errorf("output %s, want %s", out, want)
		}
		// Each item is a child execution, readable through the API.
		child := e.do(t, http.MethodGet, "/api/executions/"+interpreter.CallChildID(id, "each")+".2", "")
		if child.Status != http.StatusOK || !strings.Contains(child.Raw, `"parentExecutionId":"`+id+`"`) {
			t.Errorf("child 2: %d %s", child.Status, child.Raw)
		}
		e.record(t, "map-child", id, nil)
	})

	t.Run("MapDefinitionBodyFails", func(t *testing.T) {
		def := mapDefinition("map-child-fail", `{"items": "input.skus", "as": "sku", "maxItems": 10, "concurrency": 1,
			"body": {"definition": "map-item"}}`)
		id := e.corpusRun(t, def, `{"input": {"skus": ["a", "bad", "c"]}}`, http.StatusConflict, "item_refused")
		// With concurrency 1 and fail, the item after the failed one never starts.
		r := e.do(t, http.MethodGet, "/api/executions/"+interpreter.CallChildID(id, "each")+".2", "")
		if r.Status != http.StatusNotFound {
			t.Errorf("item 2 ran after item 1 failed: %d %s", r.Status, r.Raw)
		}
		e.record(t, "map-child-fail", id, nil)
	})

	t.Run("ReserveItemsExample", func(t *testing.T) {
		keyboards, mice := e.stock(t, 456), e.stock(t, 458)
		id := e.corpusRun(t, readExample(t, "reserve-items.json"),
			`{"input": {"items": [{"productId": 456, "quantity": 2}, {"productId": 458, "quantity": 5}]}}`, http.StatusOK, "")
		r := e.do(t, http.MethodGet, "/api/executions/"+id, "")
		if r.Data.Output["reserved"] != 1.0 || fmt.Sprint(r.Data.Output["unavailable"]) != "[458]" {
			t.Errorf("output %s", r.Raw)
		}
		if got := e.stock(t, 456); got != keyboards-2 {
			t.Errorf("keyboard stock %d, want %d", got, keyboards-2)
		}
		if got := e.stock(t, 458); got != mice {
			t.Errorf("mouse stock %d, want %d (not enough to reserve 5)", got, mice)
		}
	})

	t.Run("HistoryBudget", func(t *testing.T) {
		if r := e.post(t, "/api/workflows", mapDouble); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		// MAP_BUDGET_ITEMS=10000 (make bench) runs the 10,000
		// items with each kind of body.
		items := map[string]int{"local": 3000, "remote": 600, "definition": 400} // each over its inline budget: batched
		if s := os.Getenv("MAP_BUDGET_ITEMS"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			items = map[string]int{"local": n, "remote": n, "definition": n}
		}
		for _, body := range []struct{ kind, json string }{
			{"local", `{"node": {"type": "transform", "config": {"mapping": {"v": "item * 2"}}}}`},
			{"remote", `{"node": {"type": "transform", "execution": "remote", "config": {"mapping": {"v": "item * 2"}}}}`},
			{"definition", `{"definition": "map-double"}`},
		} {
			t.Run(body.kind, func(t *testing.T) {
				e.mapBudget(t, body.kind, body.json, items[body.kind])
			})
		}
	})
}

// mapDouble is the definition body of the history budget's maps.
const mapDouble = `{"id": "map-double", "version": "1", "startNode": "d", "output": {"v": "nodes.d.v"},
	"nodes": [{"id": "d", "type": "transform", "config": {"mapping": {"v": "input.item * 2"}}}], "edges": []}`

// mapBudget runs a map of n items with body, checks its results and that
// no run of it (the parent, each batch) has more than 10,240 events, and
// logs the events per item.
func (e *flowEnv) mapBudget(t *testing.T, kind, body string, n int) {
	def := mapDefinition("map-budget-"+kind, `{"items": "lists.range(int(input.n))", "maxItems": 10000, "concurrency": 8, "body": `+body+`}`)
	began := time.Now()
	id := e.corpusRun(t, def, fmt.Sprintf(`{"input": {"n": %d}}`, n), http.StatusAccepted, "")
	e.waitLong(t, id, 30*time.Minute)
	took := time.Since(began)
	r := e.do(t, http.MethodGet, "/api/executions/"+id, "")
	out, _ := r.Data.Output["out"].(map[string]any)
	results, _ := out["results"].([]any)
	if r.Data.Status != "completed" || len(results) != n {
		t.Fatalf("status %s, %d results: %.300s", r.Data.Status, len(results), r.Raw)
	}
	for i, v := range results {
		if m, _ := v.(map[string]any); m["v"] != float64(2*i) {
			t.Fatalf("results[%d] = %v", i, v)
		}
	}
	runs := []int{e.events(t, id)}
	for k := 0; ; k++ {
		batch := fmt.Sprintf("%s.batch%d", interpreter.CallChildID(id, "each"), k)
		if _, err := e.temporal.DescribeWorkflowExecution(t.Context(), batch, ""); err != nil {
			break
		}
		runs = append(runs, e.events(t, batch))
	}
	total := 0
	for i, events := range runs {
		total += events
		if events > 10_240 {
			t.Errorf("run %d (0 is the parent, then the batches) has %d events, over 10,240", i, events)
		}
	}
	if len(runs) > 1 {
		e.replays(t, interpreter.CallChildID(id, "each")+".batch0")
		// A batch reads through the API as any execution, linked to its
		// parent (its node states are an empty list; the query replays
		// its whole history, which a loaded machine may not do in the
		// API's 5 s, so they are not checked here).
		batch := e.do(t, http.MethodGet, "/api/executions/"+interpreter.CallChildID(id, "each")+".batch0", "")
		if batch.Status != http.StatusOK || batch.Data.Status != "completed" || !strings.Contains(batch.Raw, `"parentExecutionId":"`+id+`"`) {
			t.Errorf("batch 0 through the API: %d %.300s … %s", batch.Status, batch.Raw, batch.Raw[max(0, len(batch.Raw)-400):])
		}
	}
	if kind == "local" && n < 5000 {
		// The parent's side of a batched map (the batches' own histories
		// are runs of the same code path as an inline map).
		e.record(t, "map-batches", id, nil)
	}
	t.Logf("map of %d %s bodies: %v; events per run (parent, batches…) %v; %.2f per item", n, kind, took.Round(time.Millisecond), runs, float64(total)/float64(n))
}

// replays checks that the current interpreter replays the execution's
// history.
func (e *flowEnv) replays(t *testing.T, id string) {
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
	r, err := replay.New(interpreter.New(interpreter.NewRegistry(activities.NodeTypes(app.IONames())...)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Replay(h); err != nil {
		t.Errorf("%s does not replay: %v", id, err)
	}
}

// readExample reads a file of examples/.
func readExample(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile("../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// waitLong waits until the execution is no longer running, up to limit.
func (e *flowEnv) waitLong(t *testing.T, id string, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(250 * time.Millisecond) {
		if r := e.do(t, http.MethodGet, "/api/executions/"+id, ""); r.Data.Status != "" && r.Data.Status != "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running after %v", id, limit)
		}
	}
}

// events counts the events of an execution's (latest run's) history.
func (e *flowEnv) events(t *testing.T, id string) int {
	t.Helper()
	it := e.temporal.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
