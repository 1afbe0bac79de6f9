package interpreter_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestCorpusCoverage keeps the replay corpus complete: every node type the
// workers register ran in at least one recorded history (as an activity, a
// local activity or, for wait, a timer or signal; for call, a completed
// child execution), and the definitions the
// histories ran use each wait mode, each edge outcome and parallel
// branches, with signals and a cancel among the events, and an execution
// continued as new (the run that drains, and one resumed from a snapshot). A new node type or
// outcome fails here until a history of it is recorded (README, "Changing
// the interpreter safely").
func TestCorpusCoverage(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		h := loadHistory(t, filepath.Base(f))
		var in interpreter.ExecutionInput
		started := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
		if err := converter.GetDefaultDataConverter().FromPayloads(started.GetInput(), &in); err != nil {
			t.Fatalf("%s: the workflow input: %v", f, err)
		}
		// Executions started before Reads give every node the whole scope;
		// both kinds must keep replaying.
		if in.Reads != nil {
			seen["scope by reads"] = true
		} else {
			seen["whole scope"] = true
		}
		// A run that continues a former one rebuilds its state from the
		// snapshot and resumes its parked nodes.
		if in.Resume != nil {
			seen["run resumed from a snapshot"] = true
			seen["signal carried across runs"] = seen["signal carried across runs"] || len(in.Resume.Signals) > 0
		}
		hasWait := slices.ContainsFunc(in.Definition.Nodes, func(n interpreter.Node) bool { return n.Type == "wait" })
		hasRespond := interpreter.HasRespond(&in.Definition)
		hasCall := slices.ContainsFunc(in.Definition.Nodes, func(n interpreter.Node) bool { return n.Type == interpreter.CallNodeType })
		markers := map[string]bool{}
		childCompleted, failed := false, false
		for _, e := range h.GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				seen["node "+e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()] = true
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				var marker struct{ ActivityType string }
				if data := e.GetMarkerRecordedEventAttributes().GetDetails()["data"]; data != nil {
					if err := converter.GetDefaultDataConverter().FromPayloads(data, &marker); err == nil && marker.ActivityType != "" {
						seen["node "+marker.ActivityType] = true
						markers[marker.ActivityType] = true
					}
				}
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				seen["node wait"] = seen["node wait"] || hasWait
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				seen["signal"] = true
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
				seen["cancel"] = true
			case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
				// A call node's child (map and loop bodies start children too).
				seen["node "+interpreter.CallNodeType] = seen["node "+interpreter.CallNodeType] || hasCall
				childCompleted = true
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
				failed = true
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
				// A respond node answered the ResponseUpdate (its body is a
				// call_input marker; the update is what only respond does).
				seen["node "+interpreter.RespondNodeType] = seen["node "+interpreter.RespondNodeType] || hasRespond
			case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
				seen["call with a failing child"] = true
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				seen["continue-as-new boundary"] = true
			}
		}
		for _, n := range in.Definition.Nodes {
			if n.Type != "wait" {
				continue
			}
			var cfg interpreter.WaitConfig
			if err := json.Unmarshal(n.Config, &cfg); err != nil {
				t.Fatalf("%s: wait %s: %v", f, n.ID, err)
			}
			switch {
			case cfg.Duration != "":
				seen["wait duration"] = true
			case cfg.Until != "":
				seen["wait until"] = true
			case cfg.Timeout != "":
				seen["wait signal with timeout"] = true
			default:
				seen["wait signal"] = true
			}
		}
		for _, n := range in.Definition.Nodes {
			coverLoopMap(t, seen, n, markers, childCompleted, failed)
		}
		fanOut := map[string]int{}
		for _, e := range in.Definition.Edges {
			seen["edge on "+e.EdgeOn()] = true
			if e.EdgeOn() == interpreter.OutcomeSuccess && e.Condition == "" {
				fanOut[e.Source]++
				seen["parallel branches"] = seen["parallel branches"] || fanOut[e.Source] > 1
			}
		}
	}

	var want []string
	for _, name := range workerRegistry().Names() {
		want = append(want, "node "+name)
	}
	want = append(want, "wait duration", "wait until", "wait signal", "wait signal with timeout",
		"edge on "+interpreter.OutcomeError, "edge on "+interpreter.OutcomeTrue, "edge on "+interpreter.OutcomeFalse,
		"edge on "+interpreter.OutcomeTimeout, "parallel branches", "signal", "cancel",
		"scope by reads", "whole scope", "call with a failing child",
		"continue-as-new boundary", "run resumed from a snapshot", "signal carried across runs",
		"loop with a delay", "map with a node body", "map with a definition body", "map collect", "map fail")
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no recorded history covers %s", w)
		}
	}
}

// coverLoopMap notes what a loop or map node n of a recorded history
// covers: its node type once its helper activity ran (loop_step,
// map_items), a loop's delay, a map's kind of body and its onItemError (a
// map with "fail" counts when the execution failed).
func coverLoopMap(t *testing.T, seen map[string]bool, n interpreter.Node, markers map[string]bool, childCompleted, failed bool) {
	t.Helper()
	switch n.Type {
	case interpreter.LoopNodeType:
		var cfg interpreter.LoopConfig
		if err := json.Unmarshal(n.Config, &cfg); err != nil {
			t.Fatalf("loop %s: %v", n.ID, err)
		}
		if markers[interpreter.LoopStepActivity] {
			seen["node loop"] = true
			seen["loop with a delay"] = seen["loop with a delay"] || cfg.Delay != ""
		}
	case interpreter.MapNodeType:
		var cfg interpreter.MapConfig
		if err := json.Unmarshal(n.Config, &cfg); err != nil {
			t.Fatalf("map %s: %v", n.ID, err)
		}
		if !markers[interpreter.MapItemsActivity] {
			return
		}
		seen["node map"] = true
		if cfg.Body.Node != nil {
			seen["map with a node body"] = true
		} else if childCompleted {
			seen["map with a definition body"] = true
		}
		switch cfg.OnItemError {
		case "collect":
			seen["map collect"] = true
		default:
			seen["map fail"] = seen["map fail"] || failed
		}
	}
}
