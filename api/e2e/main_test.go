// Package e2e tests the API end to end: over one embedded Temporal server,
// the workers and the API on httptest, which TestMain boots once. What can
// be tested without Temporal (request parsing, error shapes, access,
// limits) is tested in package api itself, over fakes.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/api"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/metrics"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
	"github.com/workflow-backend/workflow-backend/worker"
)

// testEnv is what TestMain boots once for the whole package: one embedded
// Temporal server, one client, the workers and the API on httptest.
type testEnv struct {
	client client.Client
	// codec encrypts client's payloads; frontend is the Temporal server's
	// address, for a second client without the codec.
	codec     *codec.Codec
	frontend  string
	store     *store.Store
	registry  *interpreter.Registry
	exprs     *expr.Env
	logger    *slog.Logger
	baseURL   string
	http      *http.Client
	bodyLimit int64
	// seq numbers definition ids, so that tests can run again in the same
	// process (go test -count=N) against the same store.
	seq *atomic.Int64
}

// uniqueID returns base with a number unique in this process.
func uniqueID(base string) string {
	return fmt.Sprintf("%s-%d", base, env.seq.Add(1))
}

// env is set by TestMain before any test runs and only read afterwards.
var env testEnv

const (
	testNamespace = "default"
	testTaskQueue = "api-test"
	testBodyLimit = 64 << 10
	testUIBase    = "http://ui.test"
)

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel()}))

	srv, err := devserver.Start(ctx, devserver.Options{
		Namespace: testNamespace,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			interpreter.SearchAttrDefinitionID:      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			interpreter.SearchAttrDefinitionVersion: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			interpreter.SearchAttrCaller:            enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
		Logger:   logger,
		LogLevel: max(testLogLevel(), slog.LevelError),
	})
	if err != nil {
		return 0, fmt.Errorf("start dev server: %w", err)
	}
	defer srv.Stop()

	dir, err := os.MkdirTemp("", "api-test-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	// Payloads and failure messages are encrypted as in production, with a
	// key generated for this run (as dev mode does without PAYLOAD_KEYS).
	ring, _, err := codec.LoadOrCreateKeyFile(filepath.Join(dir, codec.KeyFileName))
	if err != nil {
		return 0, err
	}
	pc, err := codec.New(ring)
	if err != nil {
		return 0, err
	}
	dc, fc := pc.Converters()
	// The SDK's metrics reach the API's GET /metrics, as in production.
	meters, err := metrics.New(logger)
	if err != nil {
		return 0, err
	}
	c, err := client.Dial(client.Options{
		MetricsHandler:   meters.Temporal(),
		HostPort:         srv.FrontendAddress(),
		Namespace:        testNamespace,
		Logger:           sdklog.NewStructuredLogger(logger),
		DataConverter:    dc,
		FailureConverter: fc,
	})
	if err != nil {
		return 0, fmt.Errorf("dial temporal: %w", err)
	}
	defer c.Close()
	st, err := store.Open(ctx, filepath.Join(dir, "definitions.db"))
	if err != nil {
		return 0, fmt.Errorf("open store: %w", err)
	}
	defer func() { _ = st.Close() }()

	exprs, err := expr.New(expr.DefaultLimits())
	if err != nil {
		return 0, err
	}
	reg := interpreter.NewRegistry(activities.PureNodeTypes()...)
	ws, err := worker.New(c, worker.Options{TaskQueue: testTaskQueue, StopTimeout: time.Second},
		interpreter.New(reg), &activities.Activities{Expr: exprs, MaxOutputBytes: 256 << 10}, nil, logger)
	if err != nil {
		return 0, err
	}
	if err := ws.Start(); err != nil {
		return 0, fmt.Errorf("start workers: %w", err)
	}
	defer ws.Stop()

	server, err := api.New(api.Options{
		Client:       c,
		PayloadCodec: pc,
		Store:        st,
		Registry:     reg,
		Exprs:        exprs,
		ExprCache:    exprs,
		Evaluator:    exprs,
		Metrics:      meters,
		TaskQueue:    testTaskQueue,
		Namespace:    testNamespace,
		UIBaseURL:    testUIBase,
		EagerStart:   true,
		BodyLimit:    testBodyLimit,
		Logger:       logger,
	})
	if err != nil {
		return 0, err
	}
	ts := httptest.NewServer(server.Handler())
	defer ts.Close()

	env = testEnv{client: c, codec: pc, frontend: srv.FrontendAddress(), store: st, registry: reg, exprs: exprs, logger: logger,
		baseURL: ts.URL, http: ts.Client(), bodyLimit: testBodyLimit, seq: new(atomic.Int64)}
	return m.Run(), nil
}

// testLogLevel is Warn unless TEST_LOG_LEVEL says otherwise (debug, info).
func testLogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("TEST_LOG_LEVEL"))); err != nil {
		return slog.LevelWarn
	}
	return l
}

// response is a decoded API answer (api/apitest holds the helpers the
// API's tests share).
type response = apitest.Response

// fieldError is an entry of the details of validation errors.
type fieldError = interpreter.FieldError

// call sends a request to the API of the package's environment.
func call(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	return callAt(t, env.baseURL, method, path, body, headers...)
}

// callAt is call against the API at baseURL.
func callAt(t *testing.T, baseURL, method, path string, body any, headers ...string) response {
	t.Helper()
	return apitest.Call(t, env.http, baseURL, method, path, body, headers...)
}

// register registers a definition and expects want (201 or 200).
func register(t *testing.T, def map[string]any, want int) {
	t.Helper()
	apitest.Expect(t, call(t, http.MethodPost, "/api/workflows", def), want, "")
}

// executeResponse is the data of an execute.
type executeResponse struct {
	ExecutionID string          `json:"executionId"`
	RunID       string          `json:"runId"`
	Status      string          `json:"status"`
	Output      json.RawMessage `json:"output"`
	StatusURL   string          `json:"statusUrl"`
	UIURL       string          `json:"uiUrl"`
}

func execute(t *testing.T, defID, query string, body any, headers ...string) response {
	t.Helper()
	return call(t, http.MethodPost, "/api/workflows/"+defID+"/execute"+query, body, headers...)
}

// executionView is GET /api/executions/{id}.
type executionView struct {
	ExecutionID  string          `json:"executionId"`
	RunID        string          `json:"runId"`
	DefinitionID string          `json:"definitionId"`
	Version      string          `json:"version"`
	Status       string          `json:"status"`
	StartedAt    time.Time       `json:"startedAt"`
	ClosedAt     *time.Time      `json:"closedAt"`
	Output       json.RawMessage `json:"output"`
	Error        *struct {
		HTTPStatus int             `json:"httpStatus"`
		Code       string          `json:"code"`
		Message    string          `json:"message"`
		Details    json.RawMessage `json:"details"`
	} `json:"error"`
	Nodes      []interpreter.NodeState `json:"nodes"`
	NodesError string                  `json:"nodesError"`
	UIURL      string                  `json:"uiUrl"`
}

func getExecution(t *testing.T, id string) executionView {
	t.Helper()
	r := call(t, http.MethodGet, "/api/executions/"+id, nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var v executionView
	r.DecodeData(t, &v)
	return v
}

// pollTimeout bounds poll: executions, visibility and statistics catch up
// well within it.
const pollTimeout = 20 * time.Second

// poll calls get every 100ms until done accepts its result, and returns
// that result; after pollTimeout it fails the test with what and the last
// result.
func poll[T any](t *testing.T, what string, get func() T, done func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		v := get()
		if done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not reached in %s; last: %+v", what, pollTimeout, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFor polls GET /api/executions/{id} until done says so.
func waitFor(t *testing.T, id string, done func(executionView) bool) executionView {
	t.Helper()
	return poll(t, "execution "+id, func() executionView { return getExecution(t, id) }, done)
}

func statusIs(status string) func(executionView) bool {
	return func(v executionView) bool { return v.Status == status }
}

func nodeByID(t *testing.T, v executionView, id string) interpreter.NodeState {
	t.Helper()
	for _, n := range v.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("node %q not in %+v (nodesError %q)", id, v.Nodes, v.NodesError)
	return interpreter.NodeState{}
}

// history reads an execution's full history through the SDK.
func history(t *testing.T, id, runID string) *historypb.History {
	t.Helper()
	iter := env.client.GetWorkflowHistory(t.Context(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// recordHistory writes the execution's history, as `temporal workflow show
// -o json` prints it, to ../interpreter/testdata/histories/<name>.json when
// UPDATE_HISTORIES=1: the interpreter's replay tests read them.
func recordHistory(t *testing.T, name, id, runID string) {
	t.Helper()
	if os.Getenv("UPDATE_HISTORIES") != "1" {
		return
	}
	// The corpus stays plain text so that it replays without this run's
	// random key: decrypt the payloads and failure messages first.
	h := history(t, id, runID)
	if err := env.codec.DecodeMessage(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	compact, err := protojson.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	// protojson varies its whitespace on purpose; re-indent for stable diffs.
	var indented bytes.Buffer
	if err := json.Indent(&indented, compact, "", "  "); err != nil {
		t.Fatal(err)
	}
	raw := indented.Bytes()
	dir := filepath.Join("..", "..", "interpreter", "testdata", "histories")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded history %s.json", name)
}
