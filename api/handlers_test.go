package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
	"github.com/workflow-backend/workflow-backend/workflows"
)

// Options left zero take internal/config's defaults, the ones the
// processes read from the environment.
func TestOptionsDefaults(t *testing.T) {
	o, _ := testOptions(t)
	o.BodyLimit = 0
	s := newServer(t, o)
	d := config.Defaults()
	if s.opts.TaskQueue != d.TaskQueue || s.opts.Namespace != d.TemporalNamespace || *s.opts.DefaultWait != d.WaitDefault ||
		s.opts.MaxWait != d.WaitMax || s.opts.BodyLimit != d.MaxBodyBytes || s.opts.HistoryBudget != d.HistoryBudget ||
		s.opts.RateLimitMax != d.RateLimitMax || s.opts.RateLimitWindow != d.RateLimitWindow || s.opts.CacheSize != definitionCacheSize {
		t.Fatalf("options %+v, config defaults %+v", s.opts, d)
	}
}

// A signal is refused unless a wait node of the execution's definition
// (the version it runs) waits for it; the refusal lists the ones it does.
func TestUnknownSignalIsRefused(t *testing.T) {
	o, fake := testOptions(t)
	base := serve(t, o)
	register(t, base, apitest.Definition("approval", "1", "wait", []map[string]any{
		apitest.Node("wait", "wait", map[string]any{"signal": "approve"}),
		apitest.Node("again", "wait", map[string]any{"signal": "confirm"}),
	}, []map[string]any{apitest.Edge("wait", "again")}), http.StatusCreated)
	register(t, base, apitest.Definition("approval", "2", "wait", []map[string]any{
		apitest.Node("wait", "wait", map[string]any{"signal": "go"}),
	}, nil), http.StatusCreated)
	register(t, base, apitest.Definition("plain", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil), http.StatusCreated)
	fake.add("on-v1", "approval", "1", AnonymousCaller)
	fake.add("plain-run", "plain", "1", AnonymousCaller)
	fake.add("unrecorded", "", "", AnonymousCaller)

	r := callAt(t, base, http.MethodPost, "/api/executions/on-v1/signals/go", map[string]any{"by": "eve"})
	apitest.Expect(t, r, http.StatusUnprocessableEntity, "unknown_signal")
	apitest.JSONEqual(t, r.Body.Error.Details, []map[string]string{{"signal": "approve"}, {"signal": "confirm"}})
	if r.Body.Error.ExecutionID != "on-v1" || !strings.Contains(r.Body.Error.Message, "approval@1") {
		t.Errorf("refusal %s", r.Raw)
	}
	r = callAt(t, base, http.MethodPost, "/api/executions/plain-run/signals/approve", nil)
	apitest.Expect(t, r, http.StatusUnprocessableEntity, "unknown_signal")
	apitest.JSONEqual(t, r.Body.Error.Details, []map[string]string{})

	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/executions/on-v1/signals/confirm", nil), http.StatusAccepted, "")
	// Without a recorded definition there is nothing to judge by: sent.
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/executions/unrecorded/signals/anything", nil), http.StatusAccepted, "")
	if want := []string{"on-v1/confirm", "unrecorded/anything"}; !slices.Equal(fake.signals, want) {
		t.Errorf("signals sent %v, want %v", fake.signals, want)
	}
}

// error.details is a list for every code; execution_failed's entry is
// also its "failure", the object details used to be.
func TestErrorDetailsAreLists(t *testing.T) {
	o, _ := testOptions(t)
	s := newServer(t, o)
	render := func(err error) apitest.Response {
		t.Helper()
		rec := httptest.NewRecorder()
		s.handleError(err, s.echo.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec))
		r := apitest.Response{Status: rec.Code, Raw: rec.Body.Bytes()}
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			t.Fatal(err)
		}
		return r
	}
	failed := temporal.NewApplicationErrorWithOptions("node q failed", interpreter.ErrNodeFailed, temporal.ApplicationErrorOptions{
		Details: []any{interpreter.ExecutionError{Type: interpreter.ErrNodeFailed, NodeID: "q", NodeType: "database_query", Message: "node q failed"}},
	})
	r := render(causeError(failed).about(executionRef{ExecutionID: "e1"}))
	if r.Status != http.StatusUnprocessableEntity || r.ErrCode() != codeExecutionFailed {
		t.Fatalf("got %s", r.Raw)
	}
	want := map[string]any{"nodeId": "q", "nodeType": "database_query", "type": interpreter.ErrNodeFailed}
	apitest.JSONEqual(t, r.Body.Error.Details, []any{want})
	apitest.JSONEqual(t, r.Body.Error.Failure, want)

	// An SDK failure the interpreter did not write: no node, the same shapes.
	r = render(causeError(temporal.NewApplicationError("panic: boom", "PanicError")))
	apitest.JSONEqual(t, r.Body.Error.Details, []any{map[string]any{"type": "Error"}})

	for _, err := range []error{
		newError(http.StatusNotFound, codeExecutionNotFound, "no execution"),
		echo.ErrMethodNotAllowed,
		causeError(&temporal.CanceledError{}),
	} {
		if r := render(err); string(r.Body.Error.Details) != "[]" || r.Body.Error.Failure != nil {
			t.Errorf("%v: details %s, failure %s", err, r.Body.Error.Details, r.Body.Error.Failure)
		}
	}
}

// GET /api/products is wrapped like the other lists.
func TestProductsAreWrapped(t *testing.T) {
	o, _ := testOptions(t)
	if err := o.Store.(interface{ SeedDemo(context.Context) error }).SeedDemo(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := callAt(t, serve(t, o), http.MethodGet, "/api/products", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var wrapped map[string][]store.Product
	r.DecodeData(t, &wrapped)
	if products := wrapped["products"]; len(wrapped) != 1 || len(products) == 0 || products[0].ID == 0 {
		t.Fatalf("products %s", r.Body.Data)
	}
}

// Request bodies are decoded strictly: malformed JSON is invalid_json,
// JSON of the wrong shape invalid_request naming the field.
func TestDecodeErrors(t *testing.T) {
	o, _ := testOptions(t)
	base := serve(t, o)
	register(t, base, apitest.Definition("hello", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil), http.StatusCreated)
	for body, want := range map[string]struct{ code, field string }{
		`{"input": `:             {"invalid_json", ""},
		`{"input": 1} {}`:        {"invalid_json", ""},
		`{"input": {"a": 1,}}`:   {"invalid_json", ""},
		`{"inputs": 1}`:          {"invalid_request", "inputs"},
		`{"version": 5}`:         {"invalid_request", "version"},
		`[1]`:                    {"invalid_request", ""},
		`{"input": 1e999}`:       {"invalid_request", ""},
		`{"input": {"x": "ok"}}`: {"", ""},
	} {
		r := callAt(t, base, http.MethodPost, "/api/workflows/hello/execute", body)
		if want.code == "" {
			apitest.Expect(t, r, http.StatusOK, "")
			continue
		}
		apitest.Expect(t, r, http.StatusBadRequest, want.code)
		var fields []fieldError
		if err := json.Unmarshal(r.Body.Error.Details, &fields); err != nil {
			t.Fatalf("%s: details %s", body, r.Body.Error.Details)
		}
		if want.field != "" && (len(fields) != 1 || fields[0].Field != want.field) {
			t.Errorf("%s: details %s, want field %s", body, r.Body.Error.Details, want.field)
		}
		if strings.Contains(string(r.Raw), "json: ") || strings.Contains(string(r.Raw), "invalid character") {
			t.Errorf("%s: Go error text in %s", body, r.Raw)
		}
	}
}

// A shipped definition's route is the execute pipeline: its definition's
// inputSchema applies, then its own check, and a completed execution
// answers the route's status.
func TestShippedRouteIsTheExecutePipeline(t *testing.T) {
	o, fake := testOptions(t)
	s := newServer(t, o)
	// The path of a shipped route, whose handler it replaces, so that its
	// answers are checked against the shipped routes' description.
	route := workflows.Route{Method: http.MethodPost, Path: "/api/users/register", DefinitionID: "signup", Status: http.StatusCreated,
		Check: func(input map[string]any, _ workflows.CheckOptions) []interpreter.FieldError {
			if input["name"] == "root" {
				return []interpreter.FieldError{{Field: "name", Message: "root is reserved"}}
			}
			return nil
		}}
	s.echo.Add(route.Method, route.Path, s.shippedRoute(route))
	base := serveServer(t, s)
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, `{"name": "ann"}`), http.StatusServiceUnavailable, "service_unavailable")

	def := apitest.Definition("signup", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil)
	def["inputSchema"] = map[string]any{"type": "object", "required": []string{"name"}, "properties": map[string]any{"name": map[string]any{"type": "string"}}}
	register(t, base, def, http.StatusCreated)
	s.shippedVersions["signup"] = "1"
	// A newer version registered through the API does not change the route.
	def["version"] = "2"
	register(t, base, def, http.StatusCreated)

	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, `{"name": 5}`), http.StatusBadRequest, "invalid_input")
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, `{"name": "root"}`), http.StatusBadRequest, "validation_failed")
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, ``), http.StatusBadRequest, "invalid_json")
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, `null`), http.StatusBadRequest, "invalid_request")
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, `["ann"]`), http.StatusBadRequest, "invalid_request")
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path, `{"name": "ann"}`), http.StatusCreated, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, route.Path+"?wait=abc", `{"name": "ann"}`), http.StatusBadRequest, "invalid_wait")
	if len(fake.started) != 1 {
		t.Fatalf("%d executions started, want 1", len(fake.started))
	}
	if v, _ := fake.started[0].TypedSearchAttributes.GetKeyword(searchAttrDefinitionVersion); v != "1" {
		t.Errorf("ran version %q, want the shipped 1", v)
	}
}

// The statistics are shaped from one count (grouped by status) and one
// page of closed executions, for the definition asked about.
func TestStatisticsShape(t *testing.T) {
	o, fake := testOptions(t)
	base := serve(t, o)
	group := func(status string, n int64) *workflowservice.CountWorkflowExecutionsResponse_AggregationGroup {
		p, err := converter.GetDefaultDataConverter().ToPayload(status)
		if err != nil {
			t.Fatal(err)
		}
		return &workflowservice.CountWorkflowExecutionsResponse_AggregationGroup{GroupValues: []*commonpb.Payload{p}, Count: n}
	}
	fake.count = &workflowservice.CountWorkflowExecutionsResponse{Groups: []*workflowservice.CountWorkflowExecutionsResponse_AggregationGroup{
		group("Running", 2), group("Completed", 5), group("Failed", 1), group("TimedOut", 3),
	}}
	start := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	closed := func(ms int) *workflowpb.WorkflowExecutionInfo {
		return &workflowpb.WorkflowExecutionInfo{StartTime: timestamppb.New(start),
			CloseTime: timestamppb.New(start.Add(time.Duration(ms) * time.Millisecond)), Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED}
	}
	fake.list = &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{closed(100), closed(300)}}

	r := callAt(t, base, http.MethodGet, "/api/workflows/statistics?definitionId=orders", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var got struct {
		Active, Completed, Failed, Canceled, TimedOut int64
		Average                                       *float64
		Sample                                        int
		DefinitionID                                  string
		CacheStats                                    *struct{ MaxSize int }
	}
	var raw map[string]json.RawMessage
	r.DecodeData(t, &raw)
	for key, dst := range map[string]any{
		"activeWorkflows": &got.Active, "completedWorkflows": &got.Completed, "failedWorkflows": &got.Failed,
		"canceledWorkflows": &got.Canceled, "timedOutWorkflows": &got.TimedOut, "averageExecutionTime": &got.Average,
		"averageExecutionTimeSample": &got.Sample, "definitionId": &got.DefinitionID, "cacheStats": &got.CacheStats,
	} {
		if err := json.Unmarshal(raw[key], dst); err != nil {
			t.Fatalf("%s: %s (%v)", key, raw[key], err)
		}
	}
	if got.Active != 2 || got.Completed != 5 || got.Failed != 1 || got.Canceled != 0 || got.TimedOut != 3 ||
		got.Average == nil || *got.Average != 200 || got.Sample != 2 || got.DefinitionID != "orders" ||
		got.CacheStats == nil || got.CacheStats.MaxSize == 0 {
		t.Fatalf("statistics %s", r.Body.Data)
	}
	for _, q := range fake.queries {
		if !strings.Contains(q, interpreter.SearchAttrDefinitionID+" = 'orders'") {
			t.Errorf("query %q is not narrowed to the definition", q)
		}
	}
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/statistics?definitionId=Not'Valid", nil), http.StatusBadRequest, "invalid_query")
}

// A definition stored under older rules whose inputSchema this build
// refuses answers 422 definition_outdated with the schema's problem, not
// a 500: the caller can register a new version.
func TestOutdatedStoredDefinition(t *testing.T) {
	o, fake := testOptions(t)
	doc := `{"id":"old","version":"1","startNode":"a",
		"inputSchema":{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}},
		"nodes":[{"id":"a","type":"transform","config":{"mapping":{"v":"1"}}}],"edges":[]}`
	if _, err := o.Store.(*store.Store).Register(t.Context(), store.Definition{ID: "old", Version: "1", Document: []byte(doc)}); err != nil {
		t.Fatal(err)
	}
	r := callAt(t, serve(t, o), http.MethodPost, "/api/workflows/old/execute", map[string]any{"input": map[string]any{"a": 1}})
	apitest.Expect(t, r, http.StatusUnprocessableEntity, "definition_outdated")
	var details []map[string]string
	if err := json.Unmarshal(r.Body.Error.Details, &details); err != nil || len(details) != 1 ||
		details[0]["path"] != "inputSchema" || details[0]["code"] != "invalid_schema" {
		t.Fatalf("details %s", r.Raw)
	}
	if len(fake.started) != 0 {
		t.Errorf("an execution was started: %v", fake.started)
	}
}
