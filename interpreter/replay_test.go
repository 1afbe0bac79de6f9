package interpreter_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/replay"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// corpusDir holds histories recorded from a real Temporal server: the
// workflows package's TestCorpus and the api package's integration tests
// write theirs with UPDATE_HISTORIES=1; the flow-* ones were exported from
// dev mode with `temporal workflow show -o json`.
const corpusDir = "testdata/histories"

// workerRegistry is the node type registry of the workers: the histories
// include I/O nodes, which the interpreter dispatches by kind.
func workerRegistry() *interpreter.Registry {
	return interpreter.NewRegistry(activities.NodeTypes(activities.IOOptions{})...)
}

func newReplayer(t *testing.T, interp *interpreter.Interpreter) *replay.Replayer {
	t.Helper()
	r, err := replay.New(interp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func loadHistory(t *testing.T, name string) *replay.History {
	t.Helper()
	h, err := replay.LoadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestReplayRecordedHistories replays every recorded history against the
// current interpreter. A change that alters what the workflow schedules for
// an existing history fails here, naming the event: put it behind
// workflow.GetVersion (README, "Changing the interpreter safely").
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 14 {
		t.Fatalf("found %d recorded histories in %s, want at least 14", len(files), corpusDir)
	}
	r := newReplayer(t, interpreter.New(workerRegistry()))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if err := r.Replay(loadHistory(t, filepath.Base(file))); err != nil {
				t.Fatalf("replay of %s failed: %v", file, err)
			}
		})
	}
}

// TestReplayGate proves that the corpus catches a non-deterministic change:
// an interpreter that starts nodes that become ready together in reverse
// order (a scheduling change made without workflow.GetVersion) fails to
// replay the history whose parallel branches are activities, at the first
// activity it schedules in another order, while the unmodified interpreter
// replays it. Timers and local activities carry no node id in the commands
// the SDK compares, which is why the gate needs a history whose parallel
// branches are regular activities.
func TestReplayGate(t *testing.T) {
	const parallel = "io-parallel-branches.json"
	h := loadHistory(t, parallel)
	if err := newReplayer(t, interpreter.New(workerRegistry())).Replay(h); err != nil {
		t.Fatalf("the unmodified interpreter does not replay %s: %v", parallel, err)
	}

	changed := newReplayer(t, interpreter.NewReversingForTest(workerRegistry()))
	err := changed.Replay(h)
	var nd *replay.NonDeterminism
	if !errors.As(err, &nd) {
		t.Fatalf("the reordering interpreter replayed %s with error %v, want a non-determinism error", parallel, err)
	}
	// The SDK matches activities by id, so it notices the new order when a
	// scheduled event id it assigned by position maps to another node than
	// recorded: the error names an ActivityTaskScheduled event at or after
	// the parallel branches.
	first := scheduledEvent(t, h, "fetch")
	if nd.EventType != "ActivityTaskScheduled" || nd.EventID < first {
		t.Fatalf("non-determinism at event %d (%s), want an ActivityTaskScheduled event from %d on: %v", nd.EventID, nd.EventType, first, err)
	}
	t.Logf("the reordering interpreter: %v", err)

	// A history without parallel branches is unaffected by the change: the
	// gate fails for the reason above, not because the hook breaks replay.
	if err := changed.Replay(loadHistory(t, "sequence.json")); err != nil {
		t.Fatalf("the reordering interpreter fails a sequential history: %v", err)
	}
}

// scheduledEvent returns the id of the ActivityTaskScheduled event of node.
func scheduledEvent(t *testing.T, h *replay.History, node string) int64 {
	t.Helper()
	for _, e := range h.GetEvents() {
		if e.GetActivityTaskScheduledEventAttributes().GetActivityId() == node {
			return e.GetEventId()
		}
	}
	t.Fatalf("no ActivityTaskScheduled event for node %s", node)
	return 0
}
