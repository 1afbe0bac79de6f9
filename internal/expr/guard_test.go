package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// doubling nests cel.bind n times over seed, each binding the previous
// value twice (v1 = v0 + v0 …), then evaluates use.
func doubling(seed string, n int, use string) string {
	src := use
	for i := n; i > 0; i-- {
		src = fmt.Sprintf("cel.bind(v%d, v%d + v%d, %s)", i, i-1, i-1, src)
	}
	return fmt.Sprintf("cel.bind(v0, %s, %s)", seed, src)
}

// sharing nests cel.bind n times, each binding a literal that holds the
// previous value ten times: 10^n elements, built in n steps.
func sharing(seed string, n int, use string, literal func(prev string) string) string {
	src := use
	for i := n; i > 0; i-- {
		src = fmt.Sprintf("cel.bind(v%d, %s, %s)", i, literal(fmt.Sprintf("v%d", i-1)), src)
	}
	return fmt.Sprintf("cel.bind(v0, %s, %s)", seed, src)
}

func tenTimes(prev string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", ") + "]"
}

func tenKeys(prev string) string {
	var parts []string
	for i := range 10 {
		parts = append(parts, fmt.Sprintf("'k%d': %s", i, prev))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// TestHostileExpressions: every way found to make one expression allocate
// far more than its input, or hold a core, fails with ErrValueTooLarge or
// the cost limit, without the allocation happening first.
func TestHostileExpressions(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("abcdefgh", 400<<10/8) // 400 KB, as in the attack
	small := make([]any, 5000)
	for i := range small {
		small[i] = float64(i)
	}
	quotes := strings.Repeat(`"\`, 200<<10) // doubles each time it is quoted
	vars := map[string]any{"input": map[string]any{"s": big, "q": quotes, "list": small}}
	tests := []struct{ name, src string }{
		{"replace with an empty pattern", "input.s.replace('', input.s)"},
		{"replace growing each match", "input.s.replace('a', input.s)"},
		{"join with a long separator", "lists.range(1000).map(i, 'a').join(input.s)"},
		{"join of shared big strings", "lists.range(100).map(i, input.s).join('')"},
		{"string doubling through bindings", doubling("input.s", 20, "size(v20)")},
		{"string concatenation chain", "size(input.s + input.s + input.s + input.s + input.s + input.s + input.s)"},
		{"lazy list doubling sized into a range", doubling("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "size(lists.range(size(v40)))")},
		{"lazy list doubling searched", doubling("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "0 in v40")},
		{"lazy list doubling compared", doubling("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "v40 == v40")},
		{"shared references converted", "lists.range(1000).map(i, input.s)"},
		{"shared references encoded", "json.encode(lists.range(1000).map(i, input.s))"},
		{"shared references formatted", "'%s'.format([lists.range(1000).map(i, input.s)])"},
		{"nested list literals compared", sharing("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", 12, "v12 == v12", tenTimes)},
		{"nested map literals searched", sharing("{'a': 1}", 12, "'x' in v12.k0", tenKeys)},
		{"nested literals flattened", sharing("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", 12, "size(v12.flatten())", tenTimes)},
		{"comprehension of shared lists", sharing("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", 12, "size(v12)", func(p string) string { return "lists.range(10).map(i, " + p + ")" })},
		{"transformList of shared lists", sharing("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", 12, "size(v12)", func(p string) string { return "lists.range(10).transformList(i, x, " + p + ")" })},
		{"quote of a quote", "strings.quote(strings.quote(strings.quote(strings.quote(input.q))))"},
		{"base64 growing", "base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(input.s))))))))))))"},
		{"split into runes", "size(input.s.split(''))"},
		{"a huge range", "size(lists.range(100000000))"},
		{"sets on big lists", "sets.contains(input.list, input.list)"},
		{"distinct on a big list", "size(input.list.distinct())"},
		{"hashPassword in a comprehension", "lists.range(400).map(i, hashPassword('hostile-password'))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled && strings.Contains(tt.src, "hashPassword") {
				t.Skip("bcrypt under the race detector")
			}
			var err error
			start := time.Now()
			grew := testenv.HeapGrowth(func() { _, err = e.Eval(context.Background(), tt.src, vars) })
			took := time.Since(start)
			var evalErr *EvalError
			if !errors.As(err, &evalErr) {
				t.Fatalf("err = %v, want an EvalError", err)
			}
			if !errors.Is(err, ErrValueTooLarge) && !errors.Is(err, ErrCostLimit) {
				t.Errorf("err = %v, want a size or cost limit error", err)
			}
			if !strings.Contains(err.Error(), "limit") {
				t.Errorf("the message does not name the limit: %v", err)
			}
			t.Logf("%v in %v, heap grew %d MB", err, took.Round(time.Millisecond), grew>>20)
			// Without the guards these allocate from hundreds of MB to
			// more than the machine has.
			if grew > 64<<20 {
				t.Errorf("the heap grew %d MB during the evaluation", grew>>20)
			}
		})
	}
}

// A format precision over 100 is refused when the expression compiles, so
// at registration.
func TestHugeFormatPrecisionDoesNotCompile(t *testing.T) {
	var compileErr *CompileError
	if err := newEnv(t).Check("'%.999999999f'.format([1.0])"); !errors.As(err, &compileErr) {
		t.Errorf("Check = %v, want a compile error", err)
	}
}

// Values within the limits are untouched by the guards.
func TestGuardsLeaveOrdinaryValues(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("abcdefgh", 400<<10/8)
	vars := map[string]any{"input": map[string]any{"s": big, "tags": []any{"a", "b"}}}
	for src, want := range map[string]any{
		"size(input.s + input.s)":                             int64(800 << 10),
		"size(input.s.replace('a', 'bb'))":                    int64(450 << 10),
		"size(input.s.upperAscii())":                          int64(400 << 10),
		"size(json.encode({'s': input.s}))":                   int64(400<<10 + 8),
		"input.tags.join(', ')":                               "a, b",
		"size(lists.range(1000).map(i, i * 2))":               int64(1000),
		"size([input.s, input.s, input.s, input.s])":          int64(4),
		"sets.contains([1, 2, 3], [2])":                       true,
		"size(input.s.split('h'))":                            int64(400<<10/8 + 1),
		"'%.3f'.format([1.0])":                                "1.000",
		"[[1, 2], [3]].flatten()":                             []any{int64(1), int64(2), int64(3)},
		"cel.bind(x, [1, 2], x + x + x)":                      []any{int64(1), int64(2), int64(1), int64(2), int64(1), int64(2)},
		"size(hashPassword('correct horse')) > 0":             true,
		"size(base64.encode(bytes(input.s))) > size(input.s)": true,
	} {
		got, err := e.Eval(context.Background(), src, vars)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
}

// TestEveryFunctionIsClassified: the environment declares no function the
// guards do not know (New would fail), and every guarded function exists
// (a renamed one would silently lose its guard).
func TestEveryFunctionIsClassified(t *testing.T) {
	e := newEnv(t)
	fns := e.env.Functions()
	for name := range guardedFunctions() {
		if _, ok := fns[name]; !ok {
			t.Errorf("guarded function %s is not in the environment", name)
		}
	}
	for _, name := range notGrowing {
		if _, ok := fns[name]; !ok {
			t.Errorf("function %s listed as not growing is not in the environment", name)
		}
	}
	if len(fns) != len(guardedFunctions())+len(notGrowing) {
		t.Errorf("%d functions, %d classified", len(fns), len(guardedFunctions())+len(notGrowing))
	}
}

// cel-go's cost accounting is quadratic in a comprehension's length, so
// long comprehensions within the cost limit are stopped by the time limit.
func TestTimeLimit(t *testing.T) {
	e, err := New(Limits{MaxDuration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = e.Eval(context.Background(), "lists.range(80000).filter(j, false)", nil)
	if !errors.Is(err, ErrTimeLimit) || !strings.Contains(err.Error(), "EXPR_MAX_DURATION") {
		t.Fatalf("err = %v, want the time limit", err)
	}
	var evalErr *EvalError
	if !errors.As(err, &evalErr) || !evalErr.ExpressionFault() {
		t.Errorf("a time limit is the expression's fault: %v", err)
	}
	t.Logf("stopped after %v", time.Since(start))
}

// matches is checked against the compiled pattern's size times the text.
func TestMatchesBound(t *testing.T) {
	e := newEnv(t)
	vars := map[string]any{"input": map[string]any{"s": strings.Repeat("abcdefgh", 400<<10/8), "p": strings.Repeat("a", 20<<10)}}
	for _, src := range []string{"input.s.matches('[a-z]{1000}x')", "input.s.matches(input.p)"} {
		start := time.Now()
		_, err := e.Eval(context.Background(), src, vars)
		if !errors.Is(err, ErrValueTooLarge) && !errors.Is(err, ErrCostLimit) {
			t.Errorf("%s: %v, want a size or cost error", src, err)
		}
		t.Logf("%v in %v", err, time.Since(start))
	}
	if ok, err := e.EvalBool(context.Background(), "input.s.matches('^(abcdefgh)+$')", vars); err != nil || !ok {
		t.Errorf("an ordinary pattern over 400 KB: %v, %v", ok, err)
	}
}
