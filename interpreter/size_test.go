package interpreter_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Limits of validate.go, as a user reads them in the README.
const (
	maxNodes            = 500
	maxEdges            = 2000
	maxExpressionBytes  = 128 << 10
	maxInputSchemaBytes = 64 << 10
)

// largeShapes are the biggest definitions registration accepts, and a few
// it refuses for their size, in the shapes that cost the most to check.
func largeShapes() []struct {
	name     string
	doc      []byte
	accepted bool
} {
	node := func(i int, expr string) map[string]any {
		return map[string]any{"id": fmt.Sprintf("n%d", i), "type": "transform",
			"config": map[string]any{"mapping": map[string]any{"x": expr}}}
	}
	def := func(nodes []any, edges []any, extra map[string]any) []byte {
		d := map[string]any{"id": "large", "version": "1", "startNode": "n0", "nodes": nodes, "edges": edges}
		for k, v := range extra {
			d[k] = v
		}
		doc, err := json.Marshal(d)
		if err != nil {
			panic(err)
		}
		return doc
	}
	// exprOf is a distinct expression of about n bytes (no two compiles
	// hit the program cache): a list of field selections.
	seq := 0
	exprOf := func(n int) string {
		seq++
		var b strings.Builder
		fmt.Fprintf(&b, "[%d", seq)
		for i := 0; b.Len()+len(", input.f00")+1 <= n; i++ {
			fmt.Fprintf(&b, ", input.f%02d", i%100)
		}
		b.WriteString("]")
		return b.String()
	}
	// chain: maxNodes nodes in a line, then the rest of maxEdges edges as
	// shortcuts forward (no node over 100 outgoing edges, no cycle).
	chain := func(nodeExpr, edgeCond func() string) []byte {
		nodes := make([]any, maxNodes)
		var edges []any
		for i := range nodes {
			nodes[i] = node(i, nodeExpr())
			if i > 0 {
				edges = append(edges, map[string]any{"source": fmt.Sprintf("n%d", i-1), "target": fmt.Sprintf("n%d", i)})
			}
		}
		for i := 0; len(edges) < maxEdges; i++ {
			from := i % (maxNodes - 2)
			edges = append(edges, map[string]any{"source": fmt.Sprintf("n%d", from), "target": fmt.Sprintf("n%d", from+2),
				"condition": edgeCond()})
		}
		return def(nodes, edges, nil)
	}
	pair := func(edgeCount int) []byte {
		edges := make([]any, edgeCount)
		for i := range edges {
			edges[i] = map[string]any{"source": "n0", "target": "n1"}
		}
		return def([]any{node(0, "1"), node(1, "1")}, edges, nil)
	}
	// schemaOf is an inputSchema of about n bytes, every property with a
	// pattern to compile.
	schemaOf := func(n int) map[string]any {
		props := map[string]any{}
		for size, i := 0, 0; size+70 < n; i++ {
			props[fmt.Sprintf("field_%d", i)] = map[string]any{"type": "string", "maxLength": 100, "pattern": fmt.Sprintf("^[a-z]{%d}$", i%50)}
			size += 70
		}
		return map[string]any{"type": "object", "properties": props}
	}

	perNode := maxExpressionBytes/maxNodes - 10
	perEdge := maxExpressionBytes/(maxEdges-maxNodes+1) - 10
	sized := func(n int) func() string { return func() string { return exprOf(n) } }
	constant := func(src string) func() string { return func() string { return src } }
	return []struct {
		name     string
		doc      []byte
		accepted bool
	}{
		{"chain, node expressions at the total limit", chain(sized(perNode), constant("true")), true},
		{"chain, edge conditions at the total limit", chain(constant("1"), sized(perEdge)), true},
		{"chain, expressions over the total limit", chain(sized(2*perNode), constant("true")), false},
		{"100 edges between one pair", pair(100), true},
		{"2,000 edges between one pair", pair(maxEdges), false},
		{"30,000 edges between one pair", pair(30_000), false},
		{"inputSchema at the limit", def([]any{node(0, "1")}, []any{}, map[string]any{"inputSchema": schemaOf(maxInputSchemaBytes)}), true},
		{"inputSchema over the limit", def([]any{node(0, "1")}, []any{}, map[string]any{"inputSchema": schemaOf(8 * maxInputSchemaBytes)}), false},
	}
}

// TestParseLargeDefinitions checks what registration says about the largest
// definitions; BenchmarkParseLargeDefinitions measures how long it takes.
func TestParseLargeDefinitions(t *testing.T) {
	reg, env := newRegistry(t)
	for _, shape := range largeShapes() {
		t.Run(shape.name, func(t *testing.T) {
			start := time.Now()
			_, problems := interpreter.Parse(shape.doc, reg, env)
			t.Logf("%d KB: %d problems in %v", len(shape.doc)>>10, len(problems), time.Since(start).Round(time.Millisecond))
			if shape.accepted && len(problems) > 0 {
				t.Fatalf("refused: %+v", problems[:min(3, len(problems))])
			}
			if !shape.accepted {
				if len(problems) == 0 {
					t.Fatal("accepted, want refused for its size")
				}
				for _, p := range problems {
					if p.Code == interpreter.CodeTooLarge || p.Code == interpreter.CodeInvalidConfig {
						return
					}
				}
				t.Fatalf("no size problem in %+v", problems[:min(3, len(problems))])
			}
		})
	}
}

func BenchmarkParseLargeDefinitions(b *testing.B) {
	reg, env := newRegistry(b)
	for _, shape := range largeShapes() {
		b.Run(shape.name, func(b *testing.B) {
			b.SetBytes(int64(len(shape.doc)))
			for b.Loop() {
				// A fresh environment each time: the program cache would
				// otherwise make every compile after the first free.
				b.StopTimer()
				_, env = newRegistry(b)
				b.StartTimer()
				interpreter.Parse(shape.doc, reg, env)
			}
		})
	}
}
