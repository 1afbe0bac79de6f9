package replay_test

import (
	"errors"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/replay"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

const corpus = "../../interpreter/testdata/histories"

func newReplayer(t *testing.T) *replay.Replayer {
	t.Helper()
	types := activities.NodeTypes(activities.IOOptions{})
	r, err := replay.New(interpreter.New(interpreter.NewRegistry(types...)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Histories edited the ways the SDK reports differently: each replay fails
// with a *NonDeterminism naming the edited event.
func TestReplayNamesTheEditedEvent(t *testing.T) {
	activity := func(node string) func(*historypb.HistoryEvent) bool {
		return func(e *historypb.HistoryEvent) bool {
			return e.GetActivityTaskScheduledEventAttributes().GetActivityId() == node
		}
	}
	cases := []struct {
		name, file string
		pick       func(*historypb.HistoryEvent) bool
		edit       func(*historypb.HistoryEvent)
	}{
		{"another activity type", "flow-order-success.json", activity("charge"), func(e *historypb.HistoryEvent) {
			e.GetActivityTaskScheduledEventAttributes().ActivityType.Name = "api_call"
		}},
		{"another activity id", "flow-order-success.json", activity("reserve_stock"), func(e *historypb.HistoryEvent) {
			e.GetActivityTaskScheduledEventAttributes().ActivityId = "reserve"
		}},
		{"another timer id", "parallel-waits.json", func(e *historypb.HistoryEvent) bool {
			return e.GetTimerStartedEventAttributes() != nil && e.GetTimerStartedEventAttributes().GetStartToFireTimeout() != nil
		}, func(e *historypb.HistoryEvent) {
			e.GetTimerStartedEventAttributes().TimerId = "999"
		}},
		{"another ending", "fail-node.json", func(e *historypb.HistoryEvent) bool {
			return e.GetWorkflowExecutionFailedEventAttributes() != nil
		}, func(e *historypb.HistoryEvent) {
			failed := e.GetWorkflowExecutionFailedEventAttributes()
			e.EventType = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{
				WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{
					WorkflowTaskCompletedEventId: failed.GetWorkflowTaskCompletedEventId(),
				},
			}
		}},
	}
	r := newReplayer(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := replay.LoadFile(filepath.Join(corpus, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Replay(h); err != nil {
				t.Fatalf("the unedited history does not replay: %v", err)
			}
			var edited *historypb.HistoryEvent
			for _, e := range h.GetEvents() {
				if c.pick(e) {
					edited = e
					break
				}
			}
			if edited == nil {
				t.Fatal("no event to edit")
			}
			c.edit(edited)
			err = r.Replay(h)
			var nd *replay.NonDeterminism
			if !errors.As(err, &nd) {
				t.Fatalf("replay error %v, want a *NonDeterminism", err)
			}
			if nd.EventID != edited.GetEventId() || nd.EventType != edited.GetEventType().String() {
				t.Fatalf("non-determinism at event %d (%s), want %d (%s): %v",
					nd.EventID, nd.EventType, edited.GetEventId(), edited.GetEventType(), err)
			}
		})
	}
}

// A file that is not a history is an error, not a non-determinism.
func TestLoadFileRejectsOtherJSON(t *testing.T) {
	if _, err := replay.LoadFile("../../workflows/user-registration.json"); err == nil {
		t.Fatal("a definition loaded as a history")
	}
}
