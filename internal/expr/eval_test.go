package expr

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func newEnv(t *testing.T) *Env {
	t.Helper()
	e, err := New(Limits{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// jsonVars decodes a JSON object the way activity inputs arrive: numbers are
// float64.
func jsonVars(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return m
}

const testVars = `{
	"input": {
		"quantity": 3, "amount": 1200.5, "n": 1, "price": 10, "x": 4,
		"email": "Ada@Example.com", "name": "  Ada Lovelace ",
		"tags": ["a", "b", "c"], "items": [{"id": "p1", "qty": 2}, {"id": "p2", "qty": 5}],
		"address": {"zip": "75001", "city": null}
	},
	"nodes": {"check": {"row": {"id": 7, "total": 99.5}}},
	"errors": {"charge": {"type": "CardDeclined", "message": "declined"}}
}`

func TestEval(t *testing.T) {
	e := newEnv(t)
	vars := jsonVars(t, testVars)
	tests := []struct {
		name string
		src  string
		want any
	}{
		// mixed int/double arithmetic
		{"double*int", "input.quantity * 2", 6.0},
		{"int*double", "2 * input.x", 8.0},
		{"double*double", "input.amount * 0.9", 1080.45},
		{"double+int", "input.price + 1", 11.0},
		{"int+double", "1 + input.price", 11.0},
		{"double-int", "input.price - 1", 9.0},
		{"int-double", "100 - input.price", 90.0},
		{"double/int", "input.price / 4", 2.5},
		{"int/double", "5 / input.price", 0.5},
		{"double%int", "input.quantity % 2", 1.0},
		{"int%double", "7 % input.x", 3.0},
		{"double%double", "input.price % input.x", 2.0},
		{"even check", "input.x % 2 == 0", true},
		{"int literal math stays int", "7 / 2", int64(3)},
		{"int%int", "7 % 2", int64(1)},
		{"double literal math", "1.5 * 2.0", 3.0},
		{"size times double", "size(input.tags) * input.price", 30.0},
		{"string concat", "'a' + 'b'", "ab"},
		{"dyn string concat", "input.email + '!'", "Ada@Example.com!"},
		{"list concat", "[1] + [2]", []any{int64(1), int64(2)}},
		{"timestamp plus duration", "timestamp('2024-01-01T00:00:00Z') + duration('1h')",
			time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)},
		{"duration arithmetic", "duration('1h') - duration('30m')", "30m0s"},
		{"unary minus", "-input.price", -10.0},
		// comparisons
		{"double >= int", "input.amount >= 1000", true},
		{"double < int", "input.amount < 1000", false},
		{"int > double", "size(input.tags) > 2.5", true},
		{"double == int", "input.n == 1", true},
		{"double != int", "input.n != 2", true},
		{"in list mixed", "input.n in [1, 2]", true},
		// access on JSON-decoded data
		{"nested map", "input.address.zip", "75001"},
		{"list index", "input.items[1].id", "p2"},
		{"node output", "nodes.check.row.total", 99.5},
		{"error of node", "errors.charge.type", "CardDeclined"},
		{"has present", "has(input.email)", true},
		{"has absent", "has(input.phone)", false},
		{"has null", "has(input.address.city)", true},
		{"has node", "has(nodes.check)", true},
		{"has missing node", "has(nodes.other)", false},
		{"null compare", "input.address.city == null", true},
		{"exists", "input.items.exists(i, i.qty > 4)", true},
		{"all", "input.items.all(i, i.qty > 4)", false},
		{"map macro", "input.items.map(i, i.qty * 10)", []any{20.0, 50.0}},
		{"filter", "input.items.filter(i, i.qty * 2 > 5).map(i, i.id)", []any{"p2"}},
		{"optional orValue", "input.?phone.orValue('none')", "none"},
		{"bind", "cel.bind(t, input.price * 2, t + t)", 40.0},
		// string functions
		{"lowerAscii", "input.email.lowerAscii()", "ada@example.com"},
		{"trim", "input.name.trim()", "Ada Lovelace"},
		{"split", "'a,b'.split(',')", []any{"a", "b"}},
		{"join", "input.tags.join('-')", "a-b-c"},
		{"contains", "input.email.contains('@')", true},
		{"matches", "input.address.zip.matches('^[0-9]{5}$')", true},
		{"size string", "size(input.name)", int64(15)},
		{"format", "'%s has %d'.format(['x', 2])", "x has 2"},
		{"math", "math.greatest(1, 5, 3)", int64(5)},
		{"base64", "base64.encode(b'hi')", "aGk="},
		// results
		{"map result", "{'a': 1, 'b': [true, null], 'c': input.price}",
			map[string]any{"a": int64(1), "b": []any{true, nil}, "c": 10.0}},
		{"int keys", "{1: 'x'}", map[string]any{"1": "x"}},
		{"bytes", "b'ab'", []byte("ab")},
		{"uint", "3u", uint64(3)},
		{"type", "type(1)", "int"},
		{"whole object", "input.address", map[string]any{"zip": "75001", "city": nil}},
		{"missing variable defaults", "value == null && size(nodes) >= 0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Eval(context.Background(), tt.src, vars)
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if f, ok := tt.want.(float64); ok {
				g, ok := got.(float64)
				if !ok || g-f > 1e-9 || f-g > 1e-9 {
					t.Fatalf("Eval(%q) = %#v, want %v", tt.src, got, f)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	e := newEnv(t)
	vars := jsonVars(t, testVars)
	tests := []struct {
		name    string
		src     string
		wantMsg string
	}{
		{"missing key", "input.missing.deeper", "no such key"},
		{"int overflow", "9223372036854775807 + 1", "overflow"},
		{"modulus by zero", "input.x % 0", "modulus by zero"},
		{"string times int", "input.email * 2", "no such overload: string * int"},
		{"int times string", "2 * input.email", "no such overload: int * string"},
		{"nan result", "double('NaN')", "not a finite number"},
		{"infinite result", "input.x * 1e308 * 10.0", "not a finite number"},
		{"double divided by zero", "input.x / 0", "division by zero"},
		{"does not compile", "input.", "Syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Eval(context.Background(), tt.src, vars)
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("Eval(%q) error = %v, want *EvalError", tt.src, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), tt.src) {
				t.Fatalf("Eval(%q) error = %q, want it to contain %q and the expression", tt.src, err, tt.wantMsg)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	e, err := New(Limits{MaxLength: 60})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		src     string
		wantMsg string // "" means it compiles
	}{
		{"ok", "input.a > 1 && has(nodes.x)", ""},
		{"value variable", "value.size() > 2", ""},
		{"execution", "execution.startedAt < timestamp('2030-01-01T00:00:00Z')", ""},
		{"syntax", "input.a >", "Syntax error"},
		{"undeclared", "foo + 1", "undeclared reference to 'foo'"},
		{"type mismatch", "'a' * 2", "found no matching overload for '_*_'"},
		{"no clock", "now()", "undeclared reference to 'now'"},
		{"too long", strings.Repeat("1 + ", 20) + "1", "the limit is 60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Check(tt.src)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Check(%q): %v", tt.src, err)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Check(%q) = %v, want a *CompileError containing %q", tt.src, err, tt.wantMsg)
			}
		})
	}
}

func TestParserRecursionLimit(t *testing.T) {
	e := newEnv(t)
	src := strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200)
	if err := e.Check(src); err == nil {
		t.Fatal("deeply nested expression compiled")
	}
}

func TestCostLimit(t *testing.T) {
	// A lower limit than the default keeps the test quick under -race; the
	// default (1e6) aborts these in about 250 ms of one core without -race.
	e, err := New(Limits{CostLimit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	list := make([]any, 1000)
	for i := range list {
		list[i] = float64(i)
	}
	vars := map[string]any{"input": map[string]any{"list": list}}
	tests := []struct {
		name string
		src  string
	}{
		{"nested comprehensions", "input.list.map(a, input.list.map(b, input.list.map(c, a + b + c))).size()"},
		{"string doubling", "cel.bind(a, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + input.list.map(x, string(x)).join(','), " +
			strings.Repeat("cel.bind(a, a + a, ", 40) + "size(a)" + strings.Repeat(")", 40) + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := e.Eval(context.Background(), tt.src, vars)
			if !errors.Is(err, ErrCostLimit) {
				t.Fatalf("err = %v, want ErrCostLimit", err)
			}
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %T, want *EvalError", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v to abort", d)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	e, err := New(Limits{CostLimit: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	list := make([]any, 1000)
	vars := map[string]any{"input": list}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = e.Eval(ctx, "input.map(a, input.map(b, input.map(c, 1))).size()", vars)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	var ee *EvalError
	if errors.As(err, &ee) {
		t.Fatal("a cancelled evaluation must not be an EvalError (it is retryable)")
	}
}

func TestTypedHelpers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	started := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	vars := map[string]any{
		"input":     map[string]any{"at": "2024-06-01T10:00:00Z", "flag": true},
		"execution": map[string]any{"id": "ex1", "startedAt": started},
	}

	if b, err := e.EvalBool(ctx, "input.flag", vars); err != nil || !b {
		t.Fatalf("EvalBool = %v, %v", b, err)
	}
	if _, err := e.EvalBool(ctx, "'yes'", vars); err == nil || !strings.Contains(err.Error(), "want a bool") {
		t.Fatalf("EvalBool of a string: %v", err)
	}
	if s, err := e.EvalString(ctx, "execution.id + '-x'", vars); err != nil || s != "ex1-x" {
		t.Fatalf("EvalString = %q, %v", s, err)
	}
	if _, err := e.EvalString(ctx, "1", vars); err == nil {
		t.Fatal("EvalString of an int succeeded")
	}

	timeTests := []struct {
		src  string
		want time.Time
	}{
		{"execution.startedAt + duration('24h')", started.Add(24 * time.Hour)},
		{"input.at", time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)},
		{"timestamp(input.at)", time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)},
	}
	for _, tt := range timeTests {
		got, err := e.EvalTime(ctx, tt.src, vars)
		if err != nil || !got.Equal(tt.want) {
			t.Fatalf("EvalTime(%q) = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
	if _, err := e.EvalTime(ctx, "'tomorrow'", vars); err == nil {
		t.Fatal("EvalTime of a non-timestamp string succeeded")
	}
}

func TestCacheStats(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for range 3 {
		if _, err := e.Eval(ctx, "1 + 1", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Check("2 + 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Eval(ctx, "2 + 2", nil); err != nil {
		t.Fatal(err)
	}
	_ = e.Check("bad +") // failures are not cached
	got := e.CacheStats()
	want := CacheStats{Hits: 3, Misses: 3, Size: 2}
	if got != want {
		t.Fatalf("CacheStats = %+v, want %+v", got, want)
	}
	if r := got.HitRate(); r != 0.5 {
		t.Fatalf("HitRate = %v", r)
	}
}

func TestConcurrentEval(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				vars := map[string]any{"input": map[string]any{"n": float64(i*100 + j)}}
				got, err := e.Eval(context.Background(), "input.n * 2", vars)
				if err != nil || got != float64(2*(i*100+j)) {
					t.Errorf("Eval = %v, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
