package interpreter_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// readsDoc has a node of each kind of read: fields of the input, another
// node's output, an error, an edge condition, a validation without a
// target (the whole input), a node reading nothing, and the output mapping.
const readsDoc = `{
	"id": "reads", "version": "1", "startNode": "check",
	"output": {"total": "nodes.price.total", "who": "input.customer.name"},
	"nodes": [
		{"id": "check", "type": "validation", "config": {"rules": [{"field": "amount", "operator": "min", "value": 0}]}},
		{"id": "price", "type": "transform", "config": {"mapping": {"total": "input.amount * input.rate"}}},
		{"id": "label", "type": "transform", "config": {"mapping": {"text": "'total ' + string(nodes.price.total)"}}},
		{"id": "risky", "type": "transform", "config": {"mapping": {"x": "input.missing.field"}}},
		{"id": "after", "type": "transform", "config": {"mapping": {"why": "errors.risky.message", "n": "1"}}},
		{"id": "plain", "type": "transform", "config": {"mapping": {"one": "1"}}}
	],
	"edges": [
		{"source": "check", "target": "price"},
		{"source": "price", "target": "label", "condition": "nodes.price.total > input.threshold"},
		{"source": "label", "target": "risky"},
		{"source": "risky", "target": "after", "on": "error"},
		{"source": "after", "target": "plain"}
	]}`

func TestPlanReads(t *testing.T) {
	reg, exprs := newRegistry(t)
	def, problems := interpreter.Parse([]byte(readsDoc), reg, exprs)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	reads, err := interpreter.PlanReads(&def, reg, exprs)
	if err != nil {
		t.Fatal(err)
	}
	p := func(parts ...string) []string { return parts }
	want := []interpreter.ScopePaths{
		{p("input")}, // a validation without a target checks the whole input
		{p("input", "amount"), p("input", "rate"), p("nodes", "price", "total"), p("input", "threshold")},
		{p("nodes", "price", "total")},
		{p("input", "missing", "field")},
		{p("errors", "risky", "message")},
		nil,
	}
	for i, n := range def.Nodes {
		if !reflect.DeepEqual(reads.Nodes[i], want[i]) {
			t.Errorf("node %s reads %q, want %q", n.ID, reads.Nodes[i], want[i])
		}
	}
	if w := (interpreter.ScopePaths{p("nodes", "price", "total"), p("input", "customer", "name")}); !reflect.DeepEqual(reads.Output, w) {
		t.Errorf("output reads %q, want %q", reads.Output, w)
	}
}

// TestNodesGetOnlyWhatTheyRead runs readsDoc and looks at the scope each
// node's activity was given: only the paths it reads, and the same results
// as with the whole scope.
func TestNodesGetOnlyWhatTheyRead(t *testing.T) {
	input := map[string]any{
		"amount": 100, "rate": 1.5, "threshold": 10,
		"customer": map[string]any{"name": "Ada", "address": "…"},
		"bulk":     strings.Repeat("x", 10_000),
	}
	asJSON := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	h := newHarness(t, readsDoc)
	// Encoded when the activity starts, as Temporal would record it (the
	// workflow adds the node's own error to its scope afterwards).
	type given struct{ Input, Nodes, Errors string }
	scopes := map[string]given{}
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, args []any) {
		if req, ok := args[0].(interpreter.NodeRequest); ok {
			scopes[req.Node.ID] = given{asJSON(req.Scope.Input), asJSON(req.Scope.Nodes), asJSON(req.Scope.Errors)}
		}
	})
	h.run(input)
	out := h.output()
	if out["total"] != 150.0 || out["who"] != "Ada" {
		t.Errorf("output %v", out)
	}
	for id, want := range map[string]struct{ input, nodes, errors string }{
		"check": {asJSON(input), `{}`, `{}`},
		"price": {`{"amount":100,"rate":1.5,"threshold":10}`, `{}`, `{}`},
		"label": {`null`, `{"price":{"total":150}}`, `{}`},
		"risky": {`{}`, `{}`, `{}`},
		"after": {`null`, `{}`, `{"risky":{"message":"node \"risky\": mapping.x \"input.missing.field\": no such key: missing","type":"ExpressionError"}}`},
		"plain": {`null`, `{}`, `{}`},
	} {
		got, ran := scopes[id]
		if !ran {
			t.Errorf("node %s did not run", id)
			continue
		}
		if g := got.Input; g != want.input {
			t.Errorf("node %s was given input %s, want %s", id, g, want.input)
		}
		if g := got.Nodes; g != want.nodes {
			t.Errorf("node %s was given nodes %s, want %s", id, g, want.nodes)
		}
		if g := got.Errors; g != want.errors {
			t.Errorf("node %s was given errors %s, want %s", id, g, want.errors)
		}
	}
}

func TestEstimateHistory(t *testing.T) {
	reg, exprs := newRegistry(t)
	chain := func(mapping string) interpreter.Definition {
		var nodes, edges []string
		for i := range 50 {
			nodes = append(nodes, `{"id": "n`+strconv.Itoa(i)+`", "type": "transform", "execution": "remote", "config": {"mapping": {"x": "`+mapping+`"}}}`)
			if i > 0 {
				edges = append(edges, `{"source": "n`+strconv.Itoa(i-1)+`", "target": "n`+strconv.Itoa(i)+`"}`)
			}
		}
		doc := `{"id": "chain", "version": "1", "startNode": "n0", "nodes": [` + strings.Join(nodes, ",") + `], "edges": [` + strings.Join(edges, ",") + `]}`
		def, problems := interpreter.Parse([]byte(doc), reg, exprs)
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		return def
	}
	input, _ := json.Marshal(map[string]any{"s": strings.Repeat("x", 100_000), "n": 1})
	estimate := func(def interpreter.Definition, withReads bool) interpreter.HistoryEstimate {
		var reads *interpreter.Reads
		if withReads {
			var err error
			if reads, err = interpreter.PlanReads(&def, reg, exprs); err != nil {
				t.Fatal(err)
			}
		}
		model, err := interpreter.NewHistoryModel(&def, reg, reads)
		if err != nil {
			t.Fatal(err)
		}
		est, err := model.Estimate(input)
		if err != nil {
			t.Fatal(err)
		}
		return est
	}
	small := estimate(chain("input.n + 1"), true)
	whole := estimate(chain("size(input.s)"), true)
	old := estimate(chain("input.n + 1"), false)
	t.Logf("small reads %d, whole input %d, without reads %d", small.Bytes, whole.Bytes, old.Bytes)
	// 50 remote nodes: each reading the 100 KB field costs it again; a
	// node reading input.n costs about its own definition.
	if whole.Bytes < 50*100_000 || whole.Bytes > 60*100_000 {
		t.Errorf("whole input: estimate %d, want about 50 x 100 KB", whole.Bytes)
	}
	if small.Bytes > 2*len(input)+50*4<<10 {
		t.Errorf("small reads: estimate %d, want about the input once", small.Bytes)
	}
	if old.Bytes < 50*100_000 {
		t.Errorf("without reads every node gets the whole input: estimate %d", old.Bytes)
	}
	if whole.LargestWhat != "the request of node n0" && !strings.HasPrefix(whole.LargestWhat, "the execution") {
		t.Errorf("largest payload: %s", whole.LargestWhat)
	}
	// Local nodes record no request in history.
	local := chain("size(input.s)")
	for i := range local.Nodes {
		local.Nodes[i].Execution = ""
	}
	if est := estimate(local, true); est.Bytes > 2*len(input) {
		t.Errorf("local nodes: estimate %d, want about the input once", est.Bytes)
	}
}
