package interpreter_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

func newRegistry(t testing.TB) (*interpreter.Registry, *expr.Env) {
	t.Helper()
	env, err := expr.New(expr.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return interpreter.NewRegistry(activities.PureNodeTypes()...), env
}

func TestParseAcceptsAValidDefinition(t *testing.T) {
	reg, env := newRegistry(t)
	def, problems := interpreter.Parse([]byte(`{
		"id": "orders", "version": "1.0.0", "startNode": "check",
		"output": {"total": "nodes.price.total"},
		"nodes": [
			{"id": "check", "type": "condition", "config": {"expression": "input.amount >= 1000"}},
			{"id": "price", "type": "transform", "config": {"mapping": {"total": "input.amount * 0.9"}}},
			{"id": "full", "type": "transform", "config": {"mapping": {"total": "input.amount"}}},
			{"id": "pause", "type": "wait", "config": {"signal": "approve", "timeout": "1h"}}
		],
		"edges": [
			{"source": "check", "target": "price", "on": "true"},
			{"source": "check", "target": "full", "on": "false"},
			{"source": "price", "target": "pause"},
			{"source": "full", "target": "pause", "condition": "input.amount > 0"}
		]}`), reg, env)
	if len(problems) != 0 {
		t.Fatalf("unexpected problems: %+v", problems)
	}
	if got := def.Edges[0].ID; got != "check->price" {
		t.Errorf("derived edge id = %q, want check->price", got)
	}
}

func TestParseDerivesDistinctEdgeIDs(t *testing.T) {
	reg, env := newRegistry(t)
	def, problems := interpreter.Parse([]byte(`{
		"id": "twice", "version": "1", "startNode": "a",
		"nodes": [
			{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}},
			{"id": "b", "type": "transform", "config": {"mapping": {"x": "2"}}}
		],
		"edges": [
			{"source": "a", "target": "b"},
			{"source": "a", "target": "b", "on": "error"}
		]}`), reg, env)
	if len(problems) != 0 {
		t.Fatalf("unexpected problems: %+v", problems)
	}
	if def.Edges[0].ID != "a->b" || def.Edges[1].ID != "a->b#2" {
		t.Errorf("edge ids = %q, %q", def.Edges[0].ID, def.Edges[1].ID)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	reg, env := newRegistry(t)
	cases := []struct {
		name string
		doc  string
		want []string // "path code", in order
	}{
		{
			name: "malformed JSON",
			doc:  `{"id": `,
			want: []string{" invalid_json"},
		},
		{
			// An unknown field is one problem among the others: it used
			// to stop decoding and hide them.
			name: "unknown field",
			doc:  `{"id": "x", "version": "1", "startNode": "a", "nodez": []}`,
			want: []string{"nodez invalid_json", "nodes required", "startNode missing_start_node"},
		},
		{
			name: "unknown fields everywhere and other problems",
			doc: `{"id": "Bad Id", "version": "1", "startNode": "a", "colour": "blue", "nodes": [
				{"id": "a", "type": "transform", "config": {"mapping": {"x": "input.x +"}}, "retries": 3,
				 "retry": {"maximumAttempts": 2, "jitter": true}},
				{"id": "b", "type": "teleport"}
			], "edges": [{"source": "a", "target": "b", "when": "always"}]}`,
			want: []string{
				"colour invalid_json",
				"nodes[0].retries invalid_json",
				"nodes[0].retry.jitter invalid_json",
				"edges[0].when invalid_json",
				"id invalid_id",
				"nodes[0].config.mapping.x invalid_expression",
				"nodes[1].type unknown_node_type",
			},
		},
		{
			name: "missing required fields",
			doc:  `{"nodes": [{"config": {}}], "edges": [{}]}`,
			want: []string{
				"id required", "version required", "startNode required",
				"nodes[0].id required", "nodes[0].type required",
				"edges[0].source required", "edges[0].target required",
			},
		},
		{
			name: "bad ids",
			doc: `{"id": "Bad Id", "version": "1 0", "startNode": "a", "nodes": [
				{"id": "a-b", "type": "transform", "config": {"mapping": {"x": "1"}}}]}`,
			want: []string{"id invalid_id", "version invalid_id", "nodes[0].id invalid_id", "startNode missing_start_node"},
		},
		{
			name: "reserved id",
			doc:  `{"id": "statistics", "version": "1", "startNode": "a", "nodes": [{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}}]}`,
			want: []string{"id reserved_id"},
		},
		{
			name: "five problems at once",
			doc: `{"id": "five", "version": "1", "startNode": "a", "nodes": [
				{"id": "a", "type": "transform", "config": {"mapping": {"x": "input.x +"}}},
				{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}},
				{"id": "b", "type": "teleport"},
				{"id": "lonely", "type": "transform", "config": {"mapping": {"x": "1"}}}
			], "edges": [
				{"source": "a", "target": "b"},
				{"source": "a", "target": "nowhere"}
			]}`,
			want: []string{
				"nodes[0].config.mapping.x invalid_expression",
				"nodes[1].id duplicate_id",
				"nodes[2].type unknown_node_type",
				"edges[1].target unknown_node",
				"nodes[3] unreachable_node",
			},
		},
		{
			name: "cycle",
			doc: `{"id": "loop", "version": "1", "startNode": "a", "nodes": [
				{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}},
				{"id": "b", "type": "transform", "config": {"mapping": {"x": "1"}}},
				{"id": "c", "type": "transform", "config": {"mapping": {"x": "1"}}}
			], "edges": [
				{"source": "a", "target": "b"}, {"source": "b", "target": "c"}, {"source": "c", "target": "b"}
			]}`,
			want: []string{"nodes[1] cycle"},
		},
		{
			name: "durations, retries, execution and outcomes",
			doc: `{"id": "knobs", "version": "1", "startNode": "a", "nodes": [
				{"id": "a", "type": "condition", "config": {"expression": "true"}, "timeout": "soon",
				 "retry": {"maximumAttempts": -1, "initialInterval": "-1s", "backoffCoefficient": 0.5}, "execution": "everywhere"},
				{"id": "w", "type": "wait", "config": {"duration": "1 day"}, "execution": "remote"},
				{"id": "s", "type": "wait", "config": {"duration": "1s", "signal": "go"}}
			], "edges": [
				{"source": "a", "target": "w"},
				{"source": "a", "target": "s", "on": "maybe"},
				{"source": "w", "target": "s", "on": "true", "condition": "nodes.w ==="}
			]}`,
			want: []string{
				"nodes[0].execution invalid_execution",
				"nodes[0].timeout invalid_duration",
				"nodes[0].retry.maximumAttempts invalid_retry",
				"nodes[0].retry.backoffCoefficient invalid_retry",
				"nodes[0].retry.initialInterval invalid_duration",
				"nodes[1].execution invalid_execution",
				"nodes[1].config.duration invalid_duration",
				"nodes[2].config invalid_config",
				"edges[0].on invalid_outcome",
				"edges[1].on invalid_outcome",
				"edges[2].on invalid_outcome",
				"edges[2].condition invalid_expression",
			},
		},
		{
			// Only a signal wait with a timeout can time out: a timeout edge
			// from any other wait could never fire.
			name: "timeout edges from waits that cannot time out",
			doc: `{"id": "timeouts", "version": "1", "startNode": "start", "nodes": [
				{"id": "start", "type": "transform", "config": {"mapping": {"x": "1"}}},
				{"id": "timer", "type": "wait", "config": {"duration": "1s"}},
				{"id": "forever", "type": "wait", "config": {"signal": "go"}},
				{"id": "bounded", "type": "wait", "config": {"signal": "go", "timeout": "1h"}},
				{"id": "late", "type": "transform", "config": {"mapping": {"x": "1"}}}
			], "edges": [
				{"source": "start", "target": "timer"},
				{"source": "start", "target": "forever"},
				{"source": "start", "target": "bounded"},
				{"source": "timer", "target": "late", "on": "timeout"},
				{"source": "forever", "target": "late", "on": "timeout"},
				{"source": "bounded", "target": "late", "on": "timeout"}
			]}`,
			want: []string{"edges[3].on invalid_outcome", "edges[4].on invalid_outcome"},
		},
		{
			name: "bad output expression and input schema",
			doc: `{"id": "out", "version": "1", "startNode": "a",
				"inputSchema": {"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}},
				"output": {"z": "nodes.a.", "a": "1"},
				"nodes": [{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}}]}`,
			want: []string{"output.z invalid_expression", "inputSchema invalid_schema"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := interpreter.Parse([]byte(tc.doc), reg, env)
			var got []string
			for _, p := range problems {
				if p.Message == "" {
					t.Errorf("problem %s %s has no message", p.Path, p.Code)
				}
				got = append(got, p.Path+" "+p.Code)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s\n(full: %+v)", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), problems)
			}
		})
	}
}

// A node may fan out to at most 100 targets; 100 is fine.
func TestParseCapsFanOut(t *testing.T) {
	reg, env := newRegistry(t)
	doc := func(width int) []byte {
		nodes := []string{`{"id": "root", "type": "transform", "config": {"mapping": {"x": "1"}}}`}
		var edges []string
		for i := range width {
			nodes = append(nodes, fmt.Sprintf(`{"id": "n%d", "type": "transform", "config": {"mapping": {"x": "1"}}}`, i))
			edges = append(edges, fmt.Sprintf(`{"source": "root", "target": "n%d"}`, i))
		}
		return []byte(`{"id": "wide", "version": "1", "startNode": "root", "nodes": [` + strings.Join(nodes, ",") +
			`], "edges": [` + strings.Join(edges, ",") + `]}`)
	}
	if _, problems := interpreter.Parse(doc(100), reg, env); len(problems) != 0 {
		t.Fatalf("fan-out of 100 refused: %+v", problems)
	}
	_, problems := interpreter.Parse(doc(101), reg, env)
	if len(problems) != 1 || problems[0].Path != "nodes[0]" || problems[0].Code != interpreter.CodeInvalidConfig ||
		!strings.Contains(problems[0].Message, "101 outgoing edges") || !strings.Contains(problems[0].Message, "at most 100") {
		t.Fatalf("fan-out of 101: %+v", problems)
	}
}

func TestCanonicalIgnoresFormattingAndKeyOrder(t *testing.T) {
	reg, env := newRegistry(t)
	a, pa := interpreter.Parse([]byte(`{"id":"c","version":"1","startNode":"a","nodes":[{"id":"a","type":"transform","config":{"mapping":{"y":"2","x":"1"}}}],"edges":[]}`), reg, env)
	b, pb := interpreter.Parse([]byte(`{
		"version": "1", "id": "c", "startNode": "a", "edges": [],
		"nodes": [ { "type": "transform", "id": "a", "config": { "mapping": { "x": "1", "y": "2" } } } ] }`), reg, env)
	if len(pa)+len(pb) != 0 {
		t.Fatalf("problems: %v %v", pa, pb)
	}
	ca, err := interpreter.Canonical(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := interpreter.Canonical(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(ca) != string(cb) {
		t.Errorf("canonical forms differ:\n%s\n%s", ca, cb)
	}
	b.Description = "changed"
	cc, _ := interpreter.Canonical(b)
	if string(cc) == string(ca) {
		t.Error("a changed description must change the canonical form")
	}
}

func TestDefinitionSignals(t *testing.T) {
	def := interpreter.Definition{Nodes: []interpreter.Node{
		{ID: "a", Type: "wait", Config: json.RawMessage(`{"signal": "approve", "timeout": "1h"}`)},
		{ID: "b", Type: "transform", Config: json.RawMessage(`{"signal": "not-a-wait"}`)},
		{ID: "c", Type: "wait", Config: json.RawMessage(`{"duration": "1s"}`)},
		{ID: "d", Type: "wait", Config: json.RawMessage(`{"signal": "approve"}`)},
		{ID: "e", Type: "wait", Config: json.RawMessage(`{"signal": "cancel_order"}`)},
	}}
	if got := def.Signals(); !slices.Equal(got, []string{"approve", "cancel_order"}) {
		t.Errorf("Signals() = %v", got)
	}
}
