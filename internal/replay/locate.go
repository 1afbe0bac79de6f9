package replay

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// NonDeterminism says where a history and the current code part ways.
type NonDeterminism struct {
	// EventID and EventType name the first history event the code did not
	// reproduce (for a command the code added, the WorkflowTaskCompleted
	// event of the task whose commands it changed).
	EventID   int64
	EventType string
	// Cause is the SDK's message.
	Cause string
}

func (e *NonDeterminism) Error() string {
	return fmt.Sprintf("non-determinism at event %d (%s): %s", e.EventID, e.EventType, e.Cause)
}

// The SDK names the mismatching history event in its message, but not its
// id: either as "<EventType>: (<attributes>)" after one of eventPhrases, or,
// when the code no longer schedules a command the history has, by the
// command's kind and id ("a matching Activity command was expected in
// history event position <activity id>").
var (
	eventInMessage = regexp.MustCompile(`(?:history event is|missing replay command for) ([A-Za-z]+): `)
	missingCommand = regexp.MustCompile(`a matching (Activity|Timer) command was expected in history event position (\S+)\. `)
	// An activity's commands in another order than recorded: the SDK finds
	// out when a scheduled event id maps to another activity than recorded.
	scheduledID  = regexp.MustCompile(`scheduled?EventID: (\d+)`)
	extraCommand = "extra replay command for"
)

// locate turns the SDK's non-determinism error for h into a
// *NonDeterminism. It finds where the code and h part ways by replaying
// prefixes of h that end at a WorkflowTaskStarted event. The SDK checks a
// task's commands against history only while it processes a later task, so
// the first failing prefix, ending at the k-th WorkflowTaskStarted, puts
// the difference in task k-2 or k-1; the event is picked among theirs by
// the SDK's message.
func locate(h *historypb.History, cause error, replay func(*historypb.History) error) error {
	events := h.GetEvents()
	msg := cause.Error()
	if e := eventByCommandID(events, msg); e != nil {
		return nonDeterminism(e, msg)
	}
	var started []int // indexes of WorkflowTaskStarted events
	for i, e := range events {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
			started = append(started, i)
		}
	}
	if len(started) == 0 {
		return cause
	}
	n := len(started)
	// fails(k): replaying up to the k-th WorkflowTaskStarted (k = n: the
	// whole history, known to fail) fails.
	fails := func(k int) bool {
		if k == n {
			return true
		}
		return replay(&historypb.History{Events: events[:started[k]+1]}) != nil
	}
	k := sort.Search(n, func(i int) bool { return fails(i + 1) }) + 1
	end := len(events)
	if k < n {
		end = started[k]
	}
	window := events[started[max(k-2, 0)]+1 : end]
	e := pickEvent(window, msg)
	if e == nil {
		return cause
	}
	return nonDeterminism(e, msg)
}

func nonDeterminism(e *historypb.HistoryEvent, msg string) *NonDeterminism {
	return &NonDeterminism{EventID: e.GetEventId(), EventType: e.GetEventType().String(), Cause: msg}
}

// eventByCommandID finds the event the SDK's message names by id: a command
// the code no longer schedules, by kind and id, or the scheduled event whose
// activity the code changed.
func eventByCommandID(events []*historypb.HistoryEvent, msg string) *historypb.HistoryEvent {
	if m := scheduledID.FindStringSubmatch(msg); m != nil {
		for _, e := range events {
			if strconv.FormatInt(e.GetEventId(), 10) == m[1] {
				return e
			}
		}
	}
	m := missingCommand.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	for _, e := range events {
		switch {
		case m[1] == "Activity" && e.GetActivityTaskScheduledEventAttributes().GetActivityId() == m[2],
			m[1] == "Timer" && e.GetTimerStartedEventAttributes().GetTimerId() == m[2]:
			return e
		}
	}
	return nil
}

// pickEvent returns the event of window that msg describes. When the code
// added a command, or msg names no event, it is the first
// WorkflowTaskCompleted event of window (or, failing that, its last event).
func pickEvent(window []*historypb.HistoryEvent, msg string) *historypb.HistoryEvent {
	if len(window) == 0 {
		return nil
	}
	fallback := window[len(window)-1]
	for _, e := range window {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			fallback = e
			break
		}
	}
	m := eventInMessage.FindStringSubmatch(msg)
	if m == nil || strings.Contains(msg, extraCommand) {
		return fallback
	}
	var candidates []*historypb.HistoryEvent
	for _, e := range window {
		if e.GetEventType().String() == m[1] {
			candidates = append(candidates, e)
		}
	}
	if len(candidates) == 0 {
		return fallback
	}
	// Several events of that type (parallel branches): the message carries
	// the event's identifying attribute before the replayed command's.
	described := msg[strings.Index(msg, m[0]):]
	described, _, _ = strings.Cut(described, ", replay command is")
	for _, e := range candidates {
		if key := identity(e); key != "" && strings.Contains(described, key) {
			return e
		}
	}
	return candidates[0]
}

// identity is how the SDK's message renders the attribute that tells
// events of one type apart, or "".
func identity(e *historypb.HistoryEvent) string {
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		return "ActivityId:" + e.GetActivityTaskScheduledEventAttributes().GetActivityId() + ","
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		return "TimerId:" + e.GetTimerStartedEventAttributes().GetTimerId() + ","
	}
	return ""
}
