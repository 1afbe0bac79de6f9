package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// The handler tests of this package run without Temporal: Options.Client
// is a fakeExecutions, Options.Store a real SQLite store in the test's
// temporary directory. The end-to-end paths are tested over a real
// Temporal server in api/e2e.

// fakeExecutions is Executions in memory. An execution it starts completes
// at once with a null output; describe finds the executions it started or
// a test put in described; lists and counts answer what the test set.
type fakeExecutions struct {
	mu        sync.Mutex
	described map[string]*client.WorkflowExecutionDescription
	started   []client.StartWorkflowOptions
	inputs    []any    // the workflow arguments of each start
	signals   []string // "executionId/name"
	canceled  []string
	list      *workflowservice.ListWorkflowExecutionsResponse
	count     *workflowservice.CountWorkflowExecutionsResponse
	// queries records the visibility queries of ListWorkflow and
	// CountWorkflow.
	queries []string
}

func newFakeExecutions() *fakeExecutions {
	return &fakeExecutions{described: map[string]*client.WorkflowExecutionDescription{}}
}

// add makes an execution of the interpreter describable: running, with the
// search attributes the API sets.
func (f *fakeExecutions) add(id, defID, version, caller string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := &client.WorkflowExecutionDescription{}
	d.WorkflowExecution.ID, d.WorkflowExecution.RunID = id, id+"-run"
	d.WorkflowType.Name = interpreter.WorkflowName
	d.Status = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	d.WorkflowStartTime = time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	d.TypedSearchAttributes = executionSearchAttributes(defID, version, caller)
	f.described[id] = d
}

func (f *fakeExecutions) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, o)
	f.inputs = append(f.inputs, args...)
	d := &client.WorkflowExecutionDescription{}
	d.WorkflowExecution.ID, d.WorkflowExecution.RunID = o.ID, o.ID+"-run"
	d.WorkflowType.Name = interpreter.WorkflowName
	d.Status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	d.TypedSearchAttributes = o.TypedSearchAttributes
	if len(o.Memo) > 0 {
		d.Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{}}
		for k, v := range o.Memo {
			p, err := converter.GetDefaultDataConverter().ToPayload(v)
			if err != nil {
				return nil, err
			}
			d.Memo.Fields[k] = p
		}
	}
	f.described[o.ID] = d
	return fakeRun{id: o.ID}, nil
}

func (f *fakeExecutions) GetWorkflow(_ context.Context, workflowID, _ string) client.WorkflowRun {
	return fakeRun{id: workflowID}
}

func (f *fakeExecutions) DescribeWorkflow(_ context.Context, workflowID, _ string) (*client.WorkflowExecutionDescription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.described[workflowID]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return d, nil
}

func (f *fakeExecutions) ListWorkflow(_ context.Context, r *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.GetQuery())
	if f.list == nil {
		return &workflowservice.ListWorkflowExecutionsResponse{}, nil
	}
	return f.list, nil
}

func (f *fakeExecutions) CountWorkflow(_ context.Context, r *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.GetQuery())
	if f.count == nil {
		return &workflowservice.CountWorkflowExecutionsResponse{}, nil
	}
	return f.count, nil
}

func (f *fakeExecutions) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, errors.New("fake: no worker answers queries")
}

func (f *fakeExecutions) SignalWorkflow(_ context.Context, workflowID, _, signalName string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, workflowID+"/"+signalName)
	return nil
}

func (f *fakeExecutions) CancelWorkflow(_ context.Context, workflowID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canceled = append(f.canceled, workflowID)
	return nil
}

func (f *fakeExecutions) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return nil // only read for terminated executions, which the fake has none of
}

func (f *fakeExecutions) NewWithStartWorkflowOperation(client.StartWorkflowOptions, any, ...any) client.WithStartWorkflowOperation {
	panic("fake: Update-with-Start is tested against the real server (api/e2e)")
}

func (f *fakeExecutions) UpdateWithStartWorkflow(context.Context, client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, errors.New("fake: Update-with-Start is tested against the real server (api/e2e)")
}

func (f *fakeExecutions) UpdateWorkflow(context.Context, client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, errors.New("fake: updates are tested against the real server (api/e2e)")
}

func (f *fakeExecutions) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, nil
}

// fakeRun is an execution that completed with a null output.
type fakeRun struct{ id string }

func (r fakeRun) GetID() string                  { return r.id }
func (r fakeRun) GetRunID() string               { return r.id + "-run" }
func (r fakeRun) GetFirstExecutionRunID() string { return r.GetRunID() }
func (r fakeRun) Get(_ context.Context, valuePtr any) error {
	return json.Unmarshal([]byte("null"), valuePtr)
}
func (r fakeRun) GetWithOptions(ctx context.Context, valuePtr any, _ client.WorkflowRunGetOptions) error {
	return r.Get(ctx, valuePtr)
}

// The registry and expression environment every test API shares (both are
// read-only once built).
var (
	testRegistry = interpreter.NewRegistry(activities.PureNodeTypes()...)
	testExprs    = sync.OnceValue(func() *expr.Env {
		env, err := expr.New(expr.DefaultLimits())
		if err != nil {
			panic(err)
		}
		return env
	})
)

const (
	testBodyLimit = 64 << 10
	testUIBase    = "http://ui.test"
)

// testOptions are the options of a test API: a fake Temporal (returned
// too), a fresh store, the pure node types, quiet logs.
func testOptions(t *testing.T) (Options, *fakeExecutions) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	fake := newFakeExecutions()
	return Options{
		Client: fake, Schedules: newFakeSchedules(), Store: st, Registry: testRegistry, Exprs: testExprs(), ExprCache: testExprs(),
		UIBaseURL: testUIBase, BodyLimit: testBodyLimit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, fake
}

// serve serves an API built from o on an httptest server and returns its
// base URL.
func serve(t *testing.T, o Options) string {
	t.Helper()
	return serveServer(t, newServer(t, o))
}

func newServer(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveServer serves s on an httptest server and returns its base URL.
func serveServer(t *testing.T, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// callAt sends a request to the API at baseURL.
func callAt(t *testing.T, baseURL, method, path string, body any, headers ...string) apitest.Response {
	t.Helper()
	return apitest.Call(t, http.DefaultClient, baseURL, method, path, body, headers...)
}

// register registers def on the API at baseURL and expects want.
func register(t *testing.T, baseURL string, def map[string]any, want int) {
	t.Helper()
	apitest.Expect(t, callAt(t, baseURL, http.MethodPost, "/api/workflows", def), want, "")
}
