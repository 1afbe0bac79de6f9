package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

const corpus = "../../interpreter/testdata/histories"

// runReplay runs the command and returns its exit code and output. A nil
// environ runs it on an empty DATA_DIR (the default, ./.data, would be this
// package's directory).
func runReplay(t *testing.T, environ map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if environ == nil {
		environ = map[string]string{"DATA_DIR": t.TempDir()}
	}
	var out, errb bytes.Buffer
	code = run(t.Context(), args, environ, &out, &errb)
	t.Logf("replay %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// The recorded corpus replays: exit 0 and one OK line per history.
func TestReplayCorpusDirectory(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpus, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no histories in %s: %v", corpus, err)
	}
	code, stdout, _ := runReplay(t, nil, corpus)
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, f := range files {
		if !strings.Contains(stdout, "OK "+f+" (") {
			t.Errorf("no OK line for %s", f)
		}
	}
}

// A history edited so that the interpreter would have scheduled another
// activity than the one recorded: exit 1, naming the file and the event.
func TestReplayEditedHistoryFails(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpus, "flow-order-success.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	// The charge node ran external_service; pretend it ran api_call.
	eventID := ""
	for _, e := range h["events"].([]any) {
		ev := e.(map[string]any)
		attrs, ok := ev["activityTaskScheduledEventAttributes"].(map[string]any)
		if ok && attrs["activityId"] == "charge" {
			attrs["activityType"].(map[string]any)["name"] = "api_call"
			eventID = fmt.Sprint(ev["eventId"])
		}
	}
	if eventID == "" {
		t.Fatal("no ActivityTaskScheduled event for the charge node")
	}
	edited, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "edited.json")
	if err := os.WriteFile(file, edited, 0o600); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runReplay(t, nil, filepath.Join(corpus, "sequence.json"), file)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	want := "NON-DETERMINISTIC " + file + ": event " + eventID + " (ActivityTaskScheduled): "
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q", want)
	}
	if !strings.Contains(stdout, "OK "+filepath.Join(corpus, "sequence.json")) || !strings.Contains(stdout, "1 OK, 1 failed") {
		t.Errorf("stdout does not report the good history and the count")
	}
}

func TestReplayUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--query", "x", corpus}, {"--nope"}} {
		if code, _, _ := runReplay(t, nil, args...); code != exitUsage {
			t.Errorf("replay %q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, stderr := runReplay(t, nil, filepath.Join(t.TempDir(), "missing.json")); code != exitUsage || !strings.Contains(stderr, "missing.json") {
		t.Errorf("a missing file: exit %d, stderr %q", code, stderr)
	}
}

// --query replays executions listed from a real Temporal server (the
// embedded one), run by the workers as the worker command registers them.
func TestReplayQuery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: app.SearchAttributes, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	environ := map[string]string{
		"TEMPORAL_ADDRESS": srv.FrontendAddress(),
		"TASK_QUEUE":       "replay-test",
		"LOG_LEVEL":        "error",
		"DATA_DIR":         t.TempDir(),
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	core, err := app.NewCore(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := process.DialTemporal(ctx, cfg, environ, quiet, core.Codec)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	workers, err := core.NewWorkers(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := workers.Start(); err != nil {
		t.Fatal(err)
	}
	defer workers.Stop()

	const defID = "replay-query"
	var def interpreter.Definition
	if err := json.Unmarshal([]byte(`{"id": "replay-query", "version": "1", "startNode": "a",
		"nodes": [
			{"id": "a", "type": "transform", "config": {"mapping": {"n": "1"}}},
			{"id": "b", "type": "transform", "config": {"mapping": {"n": "nodes.a.n + 1"}}},
			{"id": "c", "type": "wait", "config": {"duration": "10ms"}}
		],
		"edges": [{"source": "a", "target": "b"}, {"source": "a", "target": "c"}]}`), &def); err != nil {
		t.Fatal(err)
	}
	var runs []string
	for i := range 2 {
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        fmt.Sprintf("%s-%d", defID, i),
			TaskQueue: cfg.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrDefinitionID).ValueSet(defID),
			),
		}, interpreter.WorkflowName, interpreter.ExecutionInput{Definition: def, Input: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			t.Fatalf("execution %s: %v", run.GetID(), err)
		}
		runs = append(runs, run.GetID()+"/"+run.GetRunID())
	}
	// Another definition's execution, which the query must leave out.
	other, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "other",
		TaskQueue: cfg.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrDefinitionID).ValueSet("other"),
		),
	}, interpreter.WorkflowName, interpreter.ExecutionInput{Definition: def, Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}

	query := fmt.Sprintf("%s = '%s'", interpreter.SearchAttrDefinitionID, defID)
	waitVisible(t, tc, query, len(runs))
	code, stdout, _ := runReplay(t, environ, "--query", query)
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, r := range runs {
		if !strings.Contains(stdout, "OK "+r+" (") {
			t.Errorf("no OK line for %s", r)
		}
	}
	if strings.Contains(stdout, "other/") || !strings.Contains(stdout, "replayed 2 histories: 2 OK, 0 failed") {
		t.Errorf("the query replayed other executions")
	}

	// The executions' payloads are encrypted with DATA_DIR's key: without
	// it they cannot be decoded, and replay says which key is missing. It
	// does not generate a key in the empty DATA_DIR, nor with another key.
	keyIDs := keyIDs(t, environ["DATA_DIR"])
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	for name, env := range map[string]map[string]string{
		"no key":    {"DATA_DIR": t.TempDir()},
		"other key": {"DATA_DIR": t.TempDir(), "PAYLOAD_KEYS": "other-1=" + base64.StdEncoding.EncodeToString(secret)},
	} {
		keyless := maps.Clone(environ)
		maps.Copy(keyless, env)
		code, _, stderr := runReplay(t, keyless, "--query", query)
		if want := fmt.Sprintf("key id %q", keyIDs[0]); code != exitFailed || !strings.Contains(stderr, want) {
			t.Errorf("replay with %s: exit %d, stderr lacks %s", name, code, want)
		}
		if _, err := os.Stat(filepath.Join(env["DATA_DIR"], codec.KeyFileName)); err == nil {
			t.Errorf("replay with %s generated a key file", name)
		}
	}

	// An execution whose history the current interpreter does not
	// reproduce: it was run by an older "interpreter" that waited on a
	// timer before anything else.
	drift := runDrifted(t, tc, def)
	code, _, stderr := runReplay(t, environ, "--query", interpreter.SearchAttrDefinitionID+" = 'replay-drift'")
	if code != exitFailed {
		t.Fatalf("drifted execution: exit %d, want %d", code, exitFailed)
	}
	if want := "NON-DETERMINISTIC " + drift + ": event 5 (TimerStarted): "; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q", want)
	}

	// A query Temporal rejects is a usage error, not a pass.
	if code, _, _ := runReplay(t, environ, "--query", "NoSuchAttribute = 'x'"); code != exitUsage {
		t.Errorf("bad query: exit %d, want %d", code, exitUsage)
	}
}

// keyIDs returns the ids of the keys in dir's key file.
func keyIDs(t *testing.T, dir string) []string {
	t.Helper()
	ring, err := codec.LoadKeyFile(filepath.Join(dir, codec.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	return ring.IDs()
}

// waitVisible waits until visibility lists n executions for query (it is
// updated asynchronously).
func waitVisible(t *testing.T, tc client.Client, query string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err == nil && len(resp.GetExecutions()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility lists %d executions for %q (err %v), want %d", len(resp.GetExecutions()), query, err, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runDrifted runs def under the interpreter's workflow name with another
// implementation (a timer, then nothing), as an incompatible older build
// would have, and returns its workflowID/runID.
func runDrifted(t *testing.T, tc client.Client, def interpreter.Definition) string {
	t.Helper()
	const queue = "replay-test-drift"
	w := worker.New(tc, queue, worker.Options{DisableRegistrationAliasing: true})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, _ interpreter.ExecutionInput) (any, error) {
		return nil, workflow.Sleep(ctx, time.Millisecond)
	}, workflow.RegisterOptions{Name: interpreter.WorkflowName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := tc.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID:        "drift-0",
		TaskQueue: queue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrDefinitionID).ValueSet("replay-drift"),
		),
	}, interpreter.WorkflowName, interpreter.ExecutionInput{Definition: def, Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, tc, interpreter.SearchAttrDefinitionID+" = 'replay-drift'", 1)
	return run.GetID() + "/" + run.GetRunID()
}
