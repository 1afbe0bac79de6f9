package interpreter_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestReplayRecordedHistories replays histories recorded from a real
// Temporal server (the api package's integration tests write them with
// UPDATE_HISTORIES=1; the flow-* ones were exported from dev mode with
// `temporal workflow show -o json`) against the current interpreter. A change that alters
// what the workflow schedules for an existing history fails here: put it
// behind workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("found %d recorded histories in testdata/histories, want at least 7", len(files))
	}
	// The workers' registry: the histories include I/O nodes, which the
	// interpreter dispatches by kind.
	reg := interpreter.NewRegistry(append(activities.PureNodeTypes(), activities.IONodeTypes(activities.IOOptions{})...)...)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			interpreter.New(reg).Register(replayer)
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay of %s failed: %v", file, err)
			}
		})
	}
}
