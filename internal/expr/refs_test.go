package expr

import (
	"reflect"
	"testing"
)

func TestReferences(t *testing.T) {
	env := newEnv(t)
	p := func(parts ...string) []string { return parts }
	tests := []struct {
		src  string
		want [][]string
	}{
		{"1 + 2", nil},
		{"input.email", [][]string{p("input", "email")}},
		{"input.a.b > 1 && input.a.c", [][]string{p("input", "a", "b"), p("input", "a", "c")}},
		{"input.a.b + input.a", [][]string{p("input", "a")}},
		{"input.a + input.a.b", [][]string{p("input", "a")}},
		{"input", [][]string{p("input")}},
		{"size(input)", [][]string{p("input")}},
		{`input["a b"].c`, [][]string{p("input", "a b", "c")}},
		{"input.?a.b", [][]string{p("input", "a", "b")}},
		{`input[?"a"]`, [][]string{p("input", "a")}},
		{"has(input.a.b)", [][]string{p("input", "a", "b")}},
		// Constant positions and dynamic keys read the whole operand.
		{"input.items[0].price", [][]string{p("input", "items")}},
		{"input[input.key]", [][]string{p("input")}},
		{"input.m[input.k].x", [][]string{p("input", "m"), p("input", "k")}},
		{"nodes.charge.id", [][]string{p("nodes", "charge", "id")}},
		{"nodes.charge.id != '' && errors.stock.message != ''",
			[][]string{p("nodes", "charge", "id"), p("errors", "stock", "message")}},
		{"has(nodes.x)", [][]string{p("nodes", "x")}},
		{"nodes.exists(k, k == 'a')", [][]string{p("nodes")}},
		{"execution.id + ':' + input.a", [][]string{p("execution", "id"), p("input", "a")}},
		{"input.items.map(i, i.price * input.rate)", [][]string{p("input", "items"), p("input", "rate")}},
		// Names bound by the expression hide the variables.
		{"[1, 2].map(input, input * 2)", nil},
		{"cel.bind(nodes, input.x, nodes.y)", [][]string{p("input", "x")}},
		{"input.list.transformList(i, v, v + i)", [][]string{p("input", "list")}},
		// value and item are bound by the node, not carried in a scope.
		{"value > 1 && item.qty > 0", nil},
		{"input.s.replace('a', 'b')", [][]string{p("input", "s")}},
		{"{'k': input.a, input.b: 1}", [][]string{p("input", "a"), p("input", "b")}},
		{"dyn(input).a", [][]string{p("input")}},
	}
	for _, tt := range tests {
		got, err := env.References(tt.src)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("References(%s) = %q, want %q", tt.src, got, tt.want)
		}
	}
	if _, err := env.References("input.("); err == nil {
		t.Error("a syntax error was not reported")
	}
}
