package interpreter_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func mapDoc(mapConfig string) string {
	return `{"id": "mapping", "version": "1", "startNode": "each",
		"nodes": [
			{"id": "each", "type": "map", "config": ` + mapConfig + `},
			{"id": "after", "type": "transform", "config": {"mapping": {"out": "nodes.each"}}},
			{"id": "caught", "type": "transform", "config": {"mapping": {"type": "errors.each.type", "message": "errors.each.message"}}}
		],
		"edges": [
			{"source": "each", "target": "after"},
			{"source": "each", "target": "caught", "on": "error", "condition": "input.catch"}
		]}`
}

// mapOutput is the map node's output as the after node saw it.
func mapOutput(t *testing.T, h *harness) map[string]any {
	t.Helper()
	after, _ := h.output()["after"].(map[string]any)
	out, _ := after["out"].(map[string]any)
	return out
}

// A division by item fails for the element 0.
const divideBody = `"body": {"node": {"type": "transform", "config": {"mapping": {"v": "12 / item", "i": "index", "base": "input.base"}}}}`

func TestMapRunsANodeBodyPerItemInOrder(t *testing.T) {
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 20, "concurrency": 3, `+divideBody+`}`))
	h.run(map[string]any{"xs": []int{1, 2, 3, 4, 6, 12}, "base": 7, "catch": false})
	out := mapOutput(t, h)
	results, _ := out["results"].([]any)
	want := []float64{12, 6, 4, 3, 2, 1}
	if len(results) != len(want) {
		t.Fatalf("results %v", results)
	}
	for i, r := range results {
		m, _ := r.(map[string]any)
		if m["v"] != want[i] || m["i"] != float64(i) || m["base"] != 7.0 {
			t.Errorf("results[%d] = %v, want v %v, i %d, base 7", i, m, want[i], i)
		}
	}
	if _, has := out["errors"]; has {
		t.Errorf("errors without collect: %v", out)
	}
}

func TestMapCollectListsFailedItems(t *testing.T) {
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 20, "onItemError": "collect", `+divideBody+`}`))
	h.run(map[string]any{"xs": []int{4, 0, 3, 0}, "base": 1, "catch": false})
	out := mapOutput(t, h)
	results, _ := out["results"].([]any)
	errs, _ := out["errors"].([]any)
	if len(results) != 4 || results[1] != nil || results[3] != nil || results[0] == nil || len(errs) != 2 {
		t.Fatalf("output %v", out)
	}
	for k, index := range []float64{1, 3} {
		e, _ := errs[k].(map[string]any)
		detail, _ := e["error"].(map[string]any)
		if e["index"] != index || detail["type"] != interpreter.ErrExpression {
			t.Errorf("errors[%d] = %v, want index %v, an ExpressionError", k, e, index)
		}
	}
}

func TestMapFailStopsAtTheFirstFailedItem(t *testing.T) {
	cfg := `{"items": "input.xs", "maxItems": 20, "concurrency": 1, ` + divideBody + `}`
	h := newHarness(t, mapDoc(cfg))
	var ran int
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		if info.ActivityType.Name == "transform" {
			ran++
		}
	})
	h.run(map[string]any{"xs": []int{4, 0, 3, 2}, "base": 1, "catch": false})
	if f := h.failure(); f.NodeID != "each" || f.Type != interpreter.ErrNodeFailed {
		t.Errorf("failure = %+v", f)
	}
	if ran != 2 {
		t.Errorf("%d bodies ran with concurrency 1, want 2 (none after the failed one)", ran)
	}
	h = newHarness(t, mapDoc(cfg))
	h.run(map[string]any{"xs": []int{4, 0, 3, 2}, "base": 1, "catch": true})
	if caught, _ := h.output()["caught"].(map[string]any); caught["type"] != interpreter.ErrExpression {
		t.Errorf("caught = %v", caught)
	}
}

func TestMapRefusesMoreItemsThanMaxItems(t *testing.T) {
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 2, `+divideBody+`}`))
	h.run(map[string]any{"xs": []int{1, 2, 3}, "base": 1, "catch": true})
	caught, _ := h.output()["caught"].(map[string]any)
	if caught["type"] != interpreter.ErrTooManyItems || caught["message"] != "map: items has 3 elements; the node's maxItems is 2" {
		t.Errorf("caught = %v", caught)
	}
}

// slowItem is a definition body that waits a minute and returns its input.
const slowItem = `{"id": "slow_item", "version": "1.0.0", "startNode": "w",
	"output": {"sku": "input.sku", "index": "input.index"},
	"nodes": [{"id": "w", "type": "wait", "config": {"duration": "1m"}}], "edges": []}`

// With a definition body, children start at most concurrency at a time:
// five one-minute items two at a time take three minutes.
func TestMapWindowKeepsConcurrencyItemsRunning(t *testing.T) {
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 20, "concurrency": 2, "as": "sku",
		"body": {"definition": "slow_item", "version": "1.0.0"}}`))
	began := h.env.Now()
	startedAt := map[time.Duration][]string{}
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		at := h.env.Now().Sub(began).Round(time.Minute)
		startedAt[at] = append(startedAt[at], info.WorkflowExecution.ID)
	})
	h.runCalling(map[string]any{"xs": []string{"a", "b", "c", "d", "e"}, "catch": false}, parseDef(t, slowItem))
	results, _ := mapOutput(t, h)["results"].([]any)
	for i, r := range results {
		m, _ := r.(map[string]any)
		if m["sku"] != string(rune('a'+i)) || m["index"] != float64(i) {
			t.Errorf("results[%d] = %v", i, m)
		}
	}
	for at, ids := range startedAt {
		if len(ids) > 2 {
			t.Errorf("%d children started at %v: %v", len(ids), at, ids)
		}
	}
	if took := h.env.Now().Sub(began); took < 3*time.Minute || took >= 4*time.Minute {
		t.Errorf("took %v of workflow time, want 3 minutes", took)
	}
	if ids := startedAt[0]; len(ids) != 2 || ids[0] != "default-test-workflow-id.each.0" {
		t.Errorf("first children %v", ids)
	}
}

// Canceling the execution cancels the running children and the map waits
// for them.
func TestCancelingTheExecutionCancelsMapChildren(t *testing.T) {
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 20, "concurrency": 8, "as": "sku",
		"body": {"definition": "slow", "version": "1.0.0"}}`))
	var canceled []string
	h.env.SetOnChildWorkflowCanceledListener(func(info *workflow.Info) {
		canceled = append(canceled, info.WorkflowExecution.ID)
	})
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 10*time.Second)
	h.runCalling(map[string]any{"xs": []string{"a", "b", "c"}, "catch": false}, parseDef(t, calledWaits))
	var canceledErr *temporal.CanceledError
	if err := h.env.GetWorkflowError(); !errors.As(err, &canceledErr) {
		t.Fatalf("want a canceled execution, got %v", err)
	}
	if len(canceled) != 3 {
		t.Errorf("canceled children %v, want 3", canceled)
	}
	if s := h.states()["each"]; s.Status != interpreter.StatusFailed {
		t.Errorf("map node = %+v", s)
	}
}

// A list longer than one run's budget runs as batch children, whose
// results come back in item order, with the indexes of the whole list.
func TestMapRunsLongListsInBatches(t *testing.T) {
	const n = 2600 // over the inline budget of a local body (1,250 items)
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 10000, "concurrency": 8, "onItemError": "collect",
		"body": {"node": {"type": "transform", "config": {"mapping": {"i": "index", "x": "item"}}}}}`))
	var batches []string
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		batches = append(batches, info.WorkflowExecution.ID)
	})
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i * 2
	}
	h.run(map[string]any{"xs": xs, "catch": false})
	out := mapOutput(t, h)
	results, _ := out["results"].([]any)
	if len(results) != n {
		t.Fatalf("%d results", len(results))
	}
	for i, r := range results {
		m, _ := r.(map[string]any)
		if m["i"] != float64(i) || m["x"] != float64(2*i) {
			t.Fatalf("results[%d] = %v", i, m)
		}
	}
	if want := fmt.Sprint([]string{"default-test-workflow-id.each.batch0"}); fmt.Sprint(batches) != want {
		t.Errorf("batches %v, want %s", batches, want)
	}
}

func TestMapConfigIsChecked(t *testing.T) {
	body := `"body": {"node": {"type": "transform", "config": {"mapping": {"a": "item"}}}}`
	for _, tc := range []struct{ config, path, code string }{
		{`{"items": "input.xs", ` + body + `}`, "nodes[0].config.maxItems", interpreter.CodeRequired},
		{`{"items": "input.xs", "maxItems": 10001, ` + body + `}`, "nodes[0].config.maxItems", interpreter.CodeInvalidConfig},
		{`{"maxItems": 3, ` + body + `}`, "nodes[0].config.items", interpreter.CodeRequired},
		{`{"items": "input.xs(", "maxItems": 3, ` + body + `}`, "nodes[0].config.items", interpreter.CodeInvalidExpression},
		{`{"items": "input.xs", "maxItems": 3, "concurrency": 101, ` + body + `}`, "nodes[0].config.concurrency", interpreter.CodeInvalidConfig},
		{`{"items": "input.xs", "maxItems": 3, "onItemError": "ignore", ` + body + `}`, "nodes[0].config.onItemError", interpreter.CodeInvalidConfig},
		{`{"items": "input.xs", "maxItems": 3, "as": "sku", ` + body + `}`, "nodes[0].config.as", interpreter.CodeInvalidConfig},
		{`{"items": "input.xs", "maxItems": 3, "as": "9x", "body": {"definition": "d"}}`, "nodes[0].config.as", interpreter.CodeInvalidConfig},
		{`{"items": "input.xs", "maxItems": 3, "body": {"node": {"type": "map"}}}`, "nodes[0].config.body.node.type", interpreter.CodeInvalidConfig},
		{`{"items": "input.xs", "maxItems": 3, "body": {"node": {"type": "transform", "config": {"mapping": {"a": "itemz"}}}}}`, "nodes[0].config.body.node.config.mapping.a", interpreter.CodeInvalidExpression},
	} {
		wantProblem(t, `{"id": "l", "type": "map", "config": `+tc.config+`}`, tc.path, tc.code)
	}
}

// With fail, the first failed child fails the node with its business
// error, and the children still running are cancelled and waited for.
func TestMapFailCancelsTheRunningChildren(t *testing.T) {
	h := newHarness(t, mapDoc(`{"items": "input.xs", "maxItems": 20, "concurrency": 3,
		"body": {"definition": "pick", "version": "1.0.0"}}`))
	pick := parseDef(t, `{"id": "pick", "version": "1.0.0", "startNode": "check",
		"nodes": [
			{"id": "check", "type": "condition", "config": {"expression": "input.item == 'bad'"}},
			{"id": "no", "type": "fail", "config": {"status": 409, "code": "bad_item", "message": "a bad item"}},
			{"id": "w", "type": "wait", "config": {"duration": "1h"}}
		],
		"edges": [{"source": "check", "target": "no", "on": "true"}, {"source": "check", "target": "w", "on": "false"}]}`)
	var canceled []string
	h.env.SetOnChildWorkflowCanceledListener(func(info *workflow.Info) {
		canceled = append(canceled, info.WorkflowExecution.ID)
	})
	h.runCalling(map[string]any{"xs": []string{"a", "bad", "c", "d"}, "catch": false}, pick)
	if f := h.failure(); f.Type != interpreter.ErrBusiness || f.Code != "bad_item" || f.Status != 409 {
		t.Errorf("failure = %+v, want the item's business error", f)
	}
	// Items 0 and 2 were running; item 3 never started.
	if fmt.Sprint(canceled) != "[default-test-workflow-id.each.0 default-test-workflow-id.each.2]" {
		t.Errorf("canceled %v", canceled)
	}
}
