package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// temporalAddress is the embedded Temporal server every test of this
// package shares (one per test binary keeps the suite fast on 2 cores).
var temporalAddress string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: app.SearchAttributes, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, "workflows tests: start Temporal:", err)
		os.Exit(1)
	}
	temporalAddress = srv.FrontendAddress()
	code := m.Run()
	srv.Stop()
	cancel()
	os.Exit(code)
}

// onEachBackend runs f in a parallel subtest for each app database.
func onEachBackend(t *testing.T, f func(t *testing.T, b testenv.Backend)) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// sendGridKey is the key the fake SendGrid of every environment accepts.
const sendGridKey = "SG.test-key"

var queueSeq atomic.Int64

// flowEnv is the product wired as the api and worker commands wire it
// (internal/app), on its own task queue and database: the API with the
// flows registered, a worker serving both queues, the real Stripe and
// SendGrid clients pointed at local servers.
type flowEnv struct {
	api      string
	http     *http.Client
	db       *sqlx.DB
	sendgrid *testenv.SendGrid
	// cfg is the environment's configuration (its DATA_DIR holds the
	// generated payload key).
	cfg      config.Config
	temporal client.Client
}

// newFlowEnv starts an environment on the database at dsn whose Stripe API
// is stripeBase. extra adds or overrides environment variables.
func newFlowEnv(t *testing.T, dsn, stripeBase string, extra map[string]string) *flowEnv {
	t.Helper()
	return newFlowEnvLogging(t, dsn, stripeBase, extra, os.Stderr)
}

// newFlowEnvLogging is newFlowEnv with the process logger (the API's, the
// workers', the SDK's) writing to logs.
func newFlowEnvLogging(t *testing.T, dsn, stripeBase string, extra map[string]string, logs io.Writer) *flowEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sg := testenv.NewSendGrid(t, sendGridKey)
	environ := map[string]string{
		"TEMPORAL_ADDRESS":  temporalAddress,
		"TASK_QUEUE":        fmt.Sprintf("flows-%d", queueSeq.Add(1)),
		"DATABASE_URL":      dsn,
		"DATA_DIR":          t.TempDir(),
		"LOG_LEVEL":         "error",
		"STRIPE_SECRET_KEY": testenv.StripeTestKey,
		"STRIPE_API_BASE":   stripeBase,
		"SENDGRID_API_KEY":  sg.APIKey,
		"SENDGRID_API_BASE": sg.URL,
	}
	for k, v := range extra {
		environ[k] = v
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	logger := process.NewLogger(cfg, logs)
	core, err := app.NewCore(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := process.DialTemporal(ctx, cfg, environ, logger, core.Codec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	ioNodes, err := core.NewIO(st)
	if err != nil {
		t.Fatal(err)
	}
	// The API's own start-up path: a co-located worker serving both task
	// queues (API_WORKER defaults to true), the pre-configured flows
	// registered, then the server on ln until the test ends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- core.ServeAPI(serveCtx, tc, st, ln, ioNodes) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("ServeAPI: %v", err)
		}
	})
	e := &flowEnv{api: "http://" + ln.Addr().String(), http: &http.Client{}, db: st.DB(), sendgrid: sg, cfg: cfg, temporal: tc}
	e.waitReady(t, served)
	return e
}

// waitReady waits until the API answers /health with 200, or fails the test
// if ServeAPI returned (start-up failed).
func (e *flowEnv) waitReady(t *testing.T, served chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-served:
			served <- err // for the cleanup
			t.Fatalf("ServeAPI returned during start-up: %v", err)
		default:
		}
		resp, err := e.http.Get(e.api + "/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API is not ready after 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reply is a decoded API answer.
type reply struct {
	Status int
	Raw    string
	Data   struct {
		ExecutionID string         `json:"executionId"`
		Status      string         `json:"status"`
		Output      map[string]any `json:"output"`
		// Response is the answer of a respond node (registration).
		Response struct {
			NodeID string         `json:"nodeId"`
			Status int            `json:"status"`
			Body   map[string]any `json:"body"`
		} `json:"response"`
	}
	Error struct {
		Code        string `json:"code"`
		ExecutionID string `json:"executionId"`
		Details     []struct {
			Field string `json:"field"`
		} `json:"details"`
	}
}

func (e *flowEnv) post(t *testing.T, path, body string) reply {
	t.Helper()
	return e.do(t, http.MethodPost, path, body)
}

func (e *flowEnv) do(t *testing.T, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	// The shipped routes answer as the API's OpenAPI document says.
	apitest.CheckResponse(t, req, resp.StatusCode, resp.Header, raw)
	r := reply{Status: resp.StatusCode, Raw: string(raw)}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if len(env.Data) > 0 {
		_ = json.Unmarshal(env.Data, &r.Data)
	}
	if len(env.Error) > 0 {
		_ = json.Unmarshal(env.Error, &r.Error)
	}
	return r
}

// executionID is the execution a reply is about, success or failure.
func (r reply) executionID() string {
	if r.Data.ExecutionID != "" {
		return r.Data.ExecutionID
	}
	return r.Error.ExecutionID
}

// path returns the nodes of an execution that ran, in definition order, as
// "id status" lines: the path the flow took.
func (e *flowEnv) path(t *testing.T, executionID string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.api+"/api/executions/"+executionID, nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data struct {
			Nodes []struct{ ID, Status string } `json:"nodes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range got.Data.Nodes {
		if n.Status != "skipped" {
			fmt.Fprintf(&b, "%s %s\n", n.ID, n.Status)
		}
	}
	return b.String()
}

// checkGolden compares the path of an execution with
// testdata/paths/<name>.txt; UPDATE_GOLDEN=1 rewrites the file.
func (e *flowEnv) checkGolden(t *testing.T, name string, r reply) {
	t.Helper()
	if r.executionID() == "" {
		t.Fatalf("%s: the reply names no execution: %d %s", name, r.Status, r.Raw)
	}
	got := e.path(t, r.executionID())
	file := filepath.Join("testdata", "paths", name+".txt")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if got != string(want) {
		t.Errorf("path of %s:\n%s\nwant (%s):\n%s", name, got, file, want)
	}
}

func (e *flowEnv) scalar(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.db.Get(&n, e.db.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (e *flowEnv) stock(t *testing.T, productID int) int64 {
	t.Helper()
	return e.scalar(t, `SELECT stock FROM products WHERE id = ?`, productID)
}
