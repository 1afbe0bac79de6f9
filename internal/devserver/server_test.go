package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"

	"github.com/workflow-backend/workflow-backend/deploy"
)

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, greetActivity, name).Get(ctx, &out)
	return out, err
}

func greetActivity(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func startServer(t *testing.T, o Options) *Server {
	t.Helper()
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelError // shutdown warnings are expected noise
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("server up at %s in %v", s.FrontendAddress(), time.Since(begin).Round(time.Millisecond))
	t.Cleanup(s.Stop)
	return s
}

func dial(t *testing.T, s *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendAddress(),
		Namespace: s.namespace,
		Logger:    sdklog.NewStructuredLogger(quietLogger()),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddress(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// runGreeting runs greetWorkflow on a fresh worker and returns its result.
func runGreeting(t *testing.T, c client.Client, workflowID string, opts client.StartWorkflowOptions) string {
	t.Helper()
	taskQueue := "devserver-test-" + workflowID
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterActivity(greetActivity)
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts.ID, opts.TaskQueue = workflowID, taskQueue
	run, err := c.ExecuteWorkflow(ctx, opts, greetWorkflow, "temporal")
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	return out
}

func TestStartInMemoryRunsWorkflow(t *testing.T) {
	t.Parallel() // the servers of these tests are independent; their start-ups overlap
	s := startServer(t, Options{Logger: quietLogger()})
	if s.UIAddress() != "" {
		t.Errorf("UIAddress() = %q without UI, want empty", s.UIAddress())
	}
	if s.namespace != DefaultNamespace {
		t.Errorf("namespace %q, want %q", s.namespace, DefaultNamespace)
	}
	c := dial(t, s)
	begin := time.Now()
	if got := runGreeting(t, c, "greet-memory", client.StartWorkflowOptions{}); got != "hello temporal" {
		t.Errorf("result = %q, want %q", got, "hello temporal")
	}
	t.Logf("workflow with one activity (incl. worker start) took %v", time.Since(begin).Round(time.Millisecond))

	// The retention of a new namespace is Options.Retention, not the
	// server's one-day default.
	assertRetention(t, c, DefaultNamespace, DefaultRetention)
}

func TestPrepareDatabaseVisibilityFile(t *testing.T) {
	if got, want := VisibilityFile("/data/temporal.db"), "/data/temporal-visibility.db"; got != want {
		t.Errorf("VisibilityFile = %q, want %q", got, want)
	}
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}

	// A new database: visibility gets its own file and connection.
	o.DatabaseFile = filepath.Join(t.TempDir(), "temporal.db")
	def, vis, err := prepareDatabase(o)
	if err != nil {
		t.Fatal(err)
	}
	if def.DatabaseName != o.DatabaseFile || vis.DatabaseName != VisibilityFile(o.DatabaseFile) {
		t.Errorf("stores in %s and %s, want %s and its visibility file", def.DatabaseName, vis.DatabaseName, o.DatabaseFile)
	}
	if _, err := os.Stat(vis.DatabaseName); err != nil {
		t.Errorf("visibility database not created: %v", err)
	}

	// A database file from before the split (simulated by removing the
	// visibility file) keeps its visibility inside.
	o.DatabaseFile = filepath.Join(t.TempDir(), "temporal.db")
	legacy, _, err := prepareDatabase(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(VisibilityFile(o.DatabaseFile)); err != nil {
		t.Fatal(err)
	}
	def, vis, err = prepareDatabase(o)
	if err != nil {
		t.Fatal(err)
	}
	if def.DatabaseName != legacy.DatabaseName || vis.DatabaseName != legacy.DatabaseName {
		t.Errorf("stores in %s and %s, want both in %s", def.DatabaseName, vis.DatabaseName, legacy.DatabaseName)
	}
	if _, err := os.Stat(VisibilityFile(o.DatabaseFile)); err == nil {
		t.Error("a visibility file was created next to a database that holds its visibility")
	}

	// In memory: two databases too.
	o.DatabaseFile = ""
	def, vis, err = prepareDatabase(o)
	if err != nil {
		t.Fatal(err)
	}
	if def.DatabaseName == vis.DatabaseName {
		t.Errorf("in-memory stores share database %s", def.DatabaseName)
	}
}

func TestStartFileWithUIKeepsStateAcrossRestarts(t *testing.T) {
	t.Parallel()
	dbFile := filepath.Join(t.TempDir(), "data", "temporal.db") // data/ does not exist yet
	attrs := map[string]enumspb.IndexedValueType{
		"DefinitionId":      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"DefinitionVersion": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
	opts := func() Options {
		uiPort, err := GetFreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return Options{
			DatabaseFile:     dbFile,
			UIPort:           uiPort,
			Namespace:        "devserver-test",
			Retention:        72 * time.Hour,
			SearchAttributes: attrs,
			Logger:           quietLogger(),
		}
	}

	// First start: new file, schema, namespace, attributes and retention.
	first := startServer(t, opts())
	if _, err := os.Stat(dbFile); err != nil {
		t.Fatalf("database file: %v", err)
	}
	assertUIServes(t, first)
	c := dial(t, first)
	assertSearchAttributes(t, c, "devserver-test", attrs)
	assertRetention(t, c, "devserver-test", 72*time.Hour)
	definitionID := temporal.NewSearchAttributeKeyKeyword("DefinitionId")
	definitionVersion := temporal.NewSearchAttributeKeyKeyword("DefinitionVersion")
	got := runGreeting(t, c, "greet-file", client.StartWorkflowOptions{
		TypedSearchAttributes: temporal.NewSearchAttributes(
			definitionID.ValueSet("greeting"),
			definitionVersion.ValueSet("1.0.0"),
		),
	})
	if got != "hello temporal" {
		t.Fatalf("result = %q", got)
	}
	// journal_mode=wal took effect (it is what makes a file as fast as memory),
	// on the visibility store's own file too.
	for _, f := range []string{dbFile, VisibilityFile(dbFile)} {
		if _, err := os.Stat(f + "-wal"); err != nil {
			t.Errorf("no write-ahead log next to %s: %v", filepath.Base(f), err)
		}
	}
	c.Close()
	first.Stop()

	// Second start on the same file: everything is still there.
	second := startServer(t, opts())
	assertUIServes(t, second)
	c = dial(t, second)
	assertSearchAttributes(t, c, "devserver-test", attrs)
	assertRetention(t, c, "devserver-test", 72*time.Hour)
	desc, err := c.DescribeWorkflowExecution(context.Background(), "greet-file", "")
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution after restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("status after restart = %v, want COMPLETED", st)
	}
	// Visibility answers queries on the custom attributes.
	waitFor(t, 10*time.Second, func() error {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "devserver-test",
			Query:     `DefinitionId = "greeting" AND DefinitionVersion = "1.0.0"`,
		})
		if err != nil {
			return err
		}
		if n := len(resp.GetExecutions()); n != 1 {
			return fmt.Errorf("%d executions match, want 1", n)
		}
		return nil
	})
	c.Close()
	second.Stop()

	// Third start with one more attribute and another retention: both are
	// applied to the existing namespace through the API.
	o := opts()
	o.UIPort = 0
	o.Retention = 96 * time.Hour
	o.SearchAttributes = map[string]enumspb.IndexedValueType{
		"DefinitionId":      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"DefinitionVersion": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"Attempts":          enumspb.INDEXED_VALUE_TYPE_INT,
	}
	third := startServer(t, o)
	c = dial(t, third)
	assertSearchAttributes(t, c, "devserver-test", o.SearchAttributes)
	assertRetention(t, c, "devserver-test", 96*time.Hour)
	// A workflow started right away can use the new attribute.
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:        "uses-new-attribute",
		TaskQueue: "nobody-polls",
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyInt64("Attempts").ValueSet(3),
		),
	}, greetWorkflow, "x")
	if err != nil {
		t.Fatalf("start with new attribute: %v", err)
	}
	_ = c.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test done")

	// A conflicting type is an error.
	o = opts()
	o.UIPort = 0
	o.SearchAttributes = map[string]enumspb.IndexedValueType{"DefinitionId": enumspb.INDEXED_VALUE_TYPE_INT}
	c.Close()
	third.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s, err := Start(ctx, withQuietLevel(o)); err == nil {
		s.Stop()
		t.Error("Start with a search attribute of another type succeeded, want error")
	}
}

func withQuietLevel(o Options) Options {
	o.LogLevel = slog.LevelError
	return o
}

func assertUIServes(t *testing.T, s *Server) {
	t.Helper()
	if s.UIAddress() == "" {
		t.Fatal("UIAddress() is empty with a UI port")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(s.UIAddress() + "/")
	if err != nil {
		t.Fatalf("GET UI: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/ = %s, want 200", s.UIAddress(), resp.Status)
	}
}

func assertSearchAttributes(t *testing.T, c client.Client, ns string, want map[string]enumspb.IndexedValueType) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(context.Background(),
		&operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	for name, typ := range want {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("search attribute %s = %v (present %v), want %v", name, got, ok, typ)
		}
	}
}

func assertRetention(t *testing.T, c client.Client, ns string, want time.Duration) {
	t.Helper()
	resp, err := c.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	if got := resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != want {
		t.Errorf("retention of %s = %v, want %v", ns, got, want)
	}
}

func waitFor(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDynamicConfig(t *testing.T) {
	// Every key of deploy/temporal/dynamicconfig.yaml exists in this server
	// version's registry and has a value of the right type.
	loaded := dynamicconfig.LoadYamlFile(deploy.DynamicConfigYAML())
	if err := loaded.Err(); err != nil {
		t.Errorf("deploy dynamic config: %v", err)
	}
	for _, w := range loaded.Warnings {
		t.Errorf("deploy dynamic config: %v", w)
	}

	c, err := dynamicConfigClient(map[string]any{
		"History.TransferProcessorMaxPollRPS": 500, // keys are case-insensitive
		"system.namespaceMinRetentionLocal":   "1m",
	}, false)
	if err != nil {
		t.Fatalf("dynamicConfigClient: %v", err)
	}
	for key, want := range map[string]any{
		"history.transferProcessorMaxPollRPS": 500,
		"matching.numTaskqueueReadPartitions": 1,
		"system.namespaceMinRetentionLocal":   "1m",
		// The embedded server's own tuning applies over deploy's file.
		"history.visibilityProcessorSchedulerWorkerCount": 4,
		"history.visibilityProcessorUpdateAckInterval":    "1s",
	} {
		cvs := c.GetValue(dynamicconfig.MakeKey(key))
		if len(cvs) != 1 || cvs[0].Value != want {
			t.Errorf("%s = %+v, want one value %v", key, cvs, want)
		}
	}

	for name, bad := range map[string]map[string]any{
		"unknown key": {"history.noSuchSetting": 1},
		"wrong type":  {"history.transferProcessorMaxPollRPS": "fast"},
	} {
		if _, err := dynamicConfigClient(bad, false); err == nil {
			t.Errorf("%s: dynamicConfigClient succeeded, want error", name)
		}
	}
	if _, err := Start(context.Background(), Options{DynamicConfig: map[string]any{"no.such.key": true}}); err == nil {
		t.Error("Start with an unknown dynamic config key succeeded, want error")
	}
}

func TestGetFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 5 {
		port, err := GetFreePort("")
		if err != nil {
			t.Fatalf("GetFreePort: %v", err)
		}
		if seen[port] {
			t.Errorf("port %d handed out twice", port)
		}
		seen[port] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("listen on free port %d: %v", port, err)
		}
		_ = l.Close()
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"host name": {FrontendIP: "example.com"},
		"port":      {FrontendPort: 70000},
		"retention": {Retention: -time.Hour},
		"ui port":   {UIPort: -1},
	} {
		if _, err := Start(context.Background(), o); err == nil {
			t.Errorf("%s: Start succeeded, want error", name)
		}
	}

	// A UI port in use is refused before anything starts (the UI server
	// would otherwise exit the process).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	taken := l.Addr().(*net.TCPAddr).Port
	if _, err := Start(context.Background(), Options{UIPort: taken}); err == nil {
		t.Error("Start with a UI port in use succeeded, want error")
	}
}
