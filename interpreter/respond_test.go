package interpreter_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

const respondDoc = `{"id": "resp", "version": "1", "startNode": "make",
	"nodes": [
		{"id": "make", "type": "transform", "config": {"mapping": {"v": "input.n * 2"}}},
		{"id": "answer", "type": "respond", "config": {"status": 201, "body": {"id": "nodes.make.v", "who": "execution.definitionId"}}},
		{"id": "slow", "type": "wait", "config": {"duration": "1h"}},
		{"id": "again", "type": "respond", "config": {"status": 200, "body": {"late": "true"}}},
		{"id": "after", "type": "transform", "config": {"mapping": {"done": "nodes.make.v + 1"}}}
	],
	"edges": [
		{"source": "make", "target": "answer"},
		{"source": "answer", "target": "slow"},
		{"source": "slow", "target": "again"},
		{"source": "again", "target": "after"}
	]}`

type updateResult struct {
	at     time.Time
	result interpreter.ResponseResult
	err    error
	done   bool
}

func (u *updateResult) callbacks(h *harness) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { u.err, u.done = err, true },
		OnComplete: func(v any, err error) {
			u.at, u.err, u.done = h.env.Now(), err, true
			if r, ok := v.(interpreter.ResponseResult); ok {
				u.result = r
			}
		},
	}
}

func TestRespondAnswersTheUpdateAndTheExecutionContinues(t *testing.T) {
	h := newHarness(t, respondDoc)
	var u updateResult
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(interpreter.ResponseUpdate, "u1", u.callbacks(h))
	}, 0)
	start := h.env.Now()
	h.run(map[string]any{"n": 21})
	if !u.done || u.err != nil {
		t.Fatalf("update: done %v, err %v", u.done, u.err)
	}
	if !u.result.Responded || u.result.Response == nil {
		t.Fatalf("update result %+v: want a response", u.result)
	}
	r := u.result.Response
	if r.Status != 201 || r.NodeID != "answer" || r.Body["id"] != float64(42) || r.Body["who"] != "resp" {
		t.Errorf("response %+v", r)
	}
	if u.at.Sub(start) >= time.Hour {
		t.Errorf("the update was answered %v after the start: after the wait, not when respond ran", u.at.Sub(start))
	}
	out := h.output()
	if after, _ := out["after"].(map[string]any); after["done"] != float64(43) {
		t.Errorf("output %v: the execution did not continue after respond", out)
	}
	h.wantStatus(map[string]string{"answer": interpreter.StatusCompleted, "again": interpreter.StatusCompleted, "after": interpreter.StatusCompleted})
	// The query shows the first response: a later respond node only records its output.
	v, err := h.env.QueryWorkflow(interpreter.ResponseQuery)
	if err != nil {
		t.Fatal(err)
	}
	var got *interpreter.Response
	if err := v.Get(&got); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.NodeID != "answer" || got.Status != 201 {
		t.Errorf("response query %+v, want the first respond node's", got)
	}
}

func TestResponseUpdateWithoutRespondAnswersWhenTheExecutionEnds(t *testing.T) {
	h := newHarness(t, `{"id": "plain", "version": "1", "startNode": "w",
		"nodes": [{"id": "w", "type": "wait", "config": {"duration": "1m"}}], "edges": []}`)
	var u updateResult
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(interpreter.ResponseUpdate, "u1", u.callbacks(h))
	}, 0)
	h.run(nil)
	if !u.done || u.err != nil {
		t.Fatalf("update: done %v, err %v", u.done, u.err)
	}
	if u.result.Responded {
		t.Errorf("update result %+v: want responded false", u.result)
	}
	h.output()
}

func TestRespondConfigIsChecked(t *testing.T) {
	reg, exprs := newRegistry(t)
	_, problems := interpreter.Parse([]byte(`{"id": "bad", "version": "1", "startNode": "r",
		"nodes": [{"id": "r", "type": "respond", "config": {"status": 404, "body": {"x": "input.("}}}], "edges": []}`), reg, exprs)
	if len(problems) != 2 {
		t.Fatalf("problems %+v: want the status and the body expression", problems)
	}
}
