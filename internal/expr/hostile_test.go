package expr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// hostileSize is the size of the attack's input string.
const hostileSize = 400 << 10

// maxHostileAlloc is the most a hostile evaluation may allocate in all
// (garbage included). What the guards let through is bounded by the cost
// limit (about ten bytes a unit: 10 MB) and by MaxValueBytes (2 MiB) a
// call; an allocation before its check would be the result's size, from
// 2.4 MB (just over the limit) to hundreds of gigabytes.
const maxHostileAlloc = 48 << 20

// hostileVars is the input the hostile expressions read.
func hostileVars() map[string]any {
	long := make([]any, 700_000)
	for i := range long {
		long[i] = float64(i)
	}
	return map[string]any{"input": map[string]any{
		"s":    strings.Repeat("abcdefgh", hostileSize/8),
		"as":   strings.Repeat("a", hostileSize),
		"ab":   strings.Repeat("a", hostileSize/2) + "b",
		"p":    strings.Repeat(`\pL{1000}`, 100),
		"f":    "%.999999999f",
		"list": long,
	}}
}

// hostileCase is an expression that would allocate or compute far more
// than its limits allow, by one route.
type hostileCase struct {
	route string // how it amplifies
	name  string
	src   string
	want  error  // ErrValueLimit, ErrCostLimit or errAnyLimit; nil: a plain error
	msg   string // in the error
}

// errAnyLimit expects either limit: a chain of calls may run out of cost
// before one of them would build a value over the size limit.
var errAnyLimit = errors.New("either limit")

func hostileCases() []hostileCase {
	value, cost, either := ErrValueLimit, ErrCostLimit, errAnyLimit
	return []hostileCase{
		// One call whose result outgrows its arguments.
		{"direct", "replace with an empty pattern", "input.s.replace('', input.s)", value, "replace: the result would be 156.3 GiB"},
		{"direct", "replace with a longer string", "input.s.replace('a', input.s)", value, "replace: the result"},
		{"direct", "join with a long separator", "lists.range(1000).map(i, 'a').join(input.s)", value, "join: the result"},
		{"direct", "split into runes", "size(input.s.split(''))", value, "split: the result"},
		{"direct", "format in hexadecimal", "'%x%x%x'.format([input.s, input.s, input.s])", value, "format: the result"},
		{"direct", "format precision from the input", "input.f.format([1.0])", value, "format: the result would be over 953.7 MiB"},
		{"direct", "quote of a quote", "strings.quote(strings.quote(strings.quote(strings.quote(strings.quote(strings.quote(input.s.replace('a', '\\\\')))))))", either, "strings.quote"},
		{"direct", "base64 of base64", "base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(input.s))))))))))))", either, "base64.encode"},
		{"direct", "a huge range", "size(lists.range(100000000))", value, "lists.range: the result"},
		{"direct", "concatenated strings", "size(input.s + input.s + input.s + input.s + input.s + input.s)", value, "_+_: the result would be 2.3 MiB"},
		{"direct", "bytes concatenated", "size(bytes(input.s) + bytes(input.s) + bytes(input.s) + bytes(input.s) + bytes(input.s) + bytes(input.s))", either, "_+_"},
		{"direct", "json.encode of shared references", "json.encode(lists.range(1000).map(i, input.s))", value, "json.encode: the result"},
		{"direct", "a regular expression compiling to 100,000 instructions", "input.s.matches(input.p)", value, "matches: the result"},
		// One call slower than linear in its arguments.
		{"cpu", "a regular expression over a long text", "input.s.matches('[a-z]{1000}[a-z]{1000}[a-z]{1000}x')", cost, "matches would take"},
		{"cpu", "indexOf of a long needle", "input.as.indexOf(input.ab)", cost, "indexOf would take"},
		{"cpu", "sets.contains of big lists", "sets.contains(lists.range(5000), lists.range(5000))", cost, "sets.contains would take"},
		{"cpu", "distinct of a big list", "size(lists.range(5000).distinct())", cost, "distinct would take"},
		{"cpu", "sort of long strings", "lists.range(3000).map(i, input.s).sort()", cost, "sort would take"},
		{"cpu", "in on a big list", "-1 in input.list", nil, ""}, // 700,000 comparisons fit the limit
		{"cpu", "in on a big list of lists", testenv.SharingExpr(6, "v5 in v6"), cost, "@in would take"},
		{"cpu", "hashPassword in a comprehension", "lists.range(400).map(i, hashPassword('hostile-password'))", cost, "hashPassword: an evaluation may hash at most 4"},
		// cel.bind doubling: exponential values from a short expression.
		{"bind doubling", "string doubled", testenv.DoublingExpr("input.s", 20, "size(v20)"), value, "_+_: the result"},
		{"bind doubling", "list doubled, sized into a range", testenv.DoublingExpr("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "size(lists.range(size(v40)))"), cost, "the list would have"},
		{"bind doubling", "list doubled, searched", testenv.DoublingExpr("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "0 in v40"), cost, "the list would have"},
		{"bind doubling", "list doubled, joined", testenv.DoublingExpr("['ab', 'cd']", 40, "v40.join(',')"), cost, "the list would have"},
		// A list concatenation is a view: long without allocating.
		{"lazy concatenation", "input lists concatenated", "size(input.list + input.list)", cost, "the list would have 1,400,000 elements"},
		// Comprehensions repeat a bounded call until the cost limit.
		{"comprehension", "a string copied per element", "lists.range(1000).map(i, input.s + 'x').size()", cost, "cost limit exceeded at"},
		{"comprehension", "nested iterations", "lists.range(1000).map(i, lists.range(1000).filter(j, false)).size()", cost, "cost limit exceeded at"},
		{"comprehension", "a range per element", "lists.range(2000).map(i, lists.range(1000)).size()", cost, "cost limit exceeded at"},
		// Literals sharing references: no call builds them.
		{"shared references", "compared", testenv.SharingExpr(12, "v12 == v12"), cost, "_==_ would take over"},
		{"shared references", "flattened", testenv.SharingExpr(12, "size(v12.flatten(20))"), value, "flatten: the result"},
		{"shared references", "encoded", testenv.SharingExpr(12, "json.encode(v12)"), either, "json.encode"},
		{"shared references", "formatted", testenv.SharingExpr(12, "'%s'.format([v12])"), value, "format: the result"},
		{"shared references", "sets.contains", testenv.SharingExpr(12, "sets.contains(v12, v12)"), cost, "sets.contains would take"},
		{"shared references", "searched", testenv.SharingExpr(12, "v11 in v12"), cost, "@in would take"},
		{"shared references", "distinct", testenv.SharingExpr(12, "size(v12.distinct())"), cost, "distinct would take"},
		// The result itself: counted while it is converted.
		{"conversion", "shared references returned", "lists.range(1000).map(i, input.s)", value, "the result is over 2 MiB as JSON"},
		{"conversion", "nested shared references returned", testenv.SharingExpr(12, "v12"), value, "the result is over 2 MiB as JSON"},
		// An implementation's error would quote a value whole.
		{"error text", "join of lists", testenv.SharingExpr(12, "dyn([v12]).join(',')"), nil, "element 0 has type list"},
		{"error text", "sum of lists", testenv.SharingExpr(12, "sum([v12])"), nil, "element of type list"},
		{"error text", "optional.unwrap of lists", testenv.SharingExpr(12, "optional.unwrap(dyn([v12]))"), nil, "element 0 has type list"},
		{"error text", "a missing key quoting the input", "{'k': 1}[input.s] == 1", nil, "no such key"},
	}
}

// Each hostile expression fails with an error naming the limit it would
// exceed (and its setting), before it allocates: what the evaluation
// allocates in all stays far below what the refused call would have made.
func TestHostileExpressions(t *testing.T) {
	testenv.SkipUnderRace(t)
	e := newEnv(t)
	vars := hostileVars()
	for _, c := range hostileCases() {
		t.Run(c.route+"/"+c.name, func(t *testing.T) {
			var err error
			alloc, peak, took := allocation(func() {
				_, err = e.Eval(context.Background(), c.src, vars)
			})
			t.Logf("%v, allocated %s (peak live heap +%s): %.200v", took.Round(time.Millisecond),
				formatBytes(alloc), formatBytes(peak), err)
			if c.msg == "" && c.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
			} else {
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("err = %v, want an *EvalError", err)
				}
				switch {
				case c.want == errAnyLimit:
					if !errors.Is(err, ErrCostLimit) && !errors.Is(err, ErrValueLimit) {
						t.Fatalf("err = %v, want a limit", err)
					}
				case c.want != nil && !errors.Is(err, c.want):
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				if !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("err = %v, want it to say %q", err, c.msg)
				}
				if c.want != nil {
					var limit *LimitError
					if !errors.As(ee.Err, &limit) {
						t.Fatalf("the cause is %T, want a *LimitError", ee.Err)
					}
					setting := MaxValueBytesSetting
					if errors.Is(err, ErrCostLimit) {
						setting = CostLimitSetting
					}
					if !strings.Contains(err.Error(), setting) && !strings.Contains(c.src, "hashPassword") {
						t.Fatalf("err = %v, want it to name %s", err, setting)
					}
				}
				if n := len(err.Error()); n > 2*maxErrorText {
					t.Fatalf("the error is %d bytes long", n)
				}
			}
			if alloc > maxHostileAlloc {
				t.Fatalf("the evaluation allocated %s", formatBytes(alloc))
			}
		})
	}
}

// allocation runs f and returns what it allocated in all, how far the live
// heap grew above where it started (testenv.HeapGrowth), and how long it
// took.
func allocation(f func()) (total, peak uint64, took time.Duration) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	peak = testenv.HeapGrowth(f)
	took = time.Since(t0)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, peak, took
}

// cel-go's cost tracker searched its value stack at every step of a
// comprehension (40,000 iterations took 3 s); the meter is linear. The test
// compares ten times the iterations with the fastest of three runs each, so
// it checks the growth (about 10x when linear, 100x when quadratic), not the
// speed of the machine.
func TestIterationsAreLinear(t *testing.T) {
	testenv.SkipUnderRace(t)
	e, err := New(Limits{CostLimit: 10_000_000, MaxValueBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	fastest := func(n int) time.Duration {
		src := fmt.Sprintf("lists.range(%d).filter(j, j < 0).size()", n)
		best := time.Duration(math.MaxInt64)
		for range 3 {
			start := time.Now()
			got, err := e.Eval(context.Background(), src, nil)
			if err != nil || got != int64(0) {
				t.Fatalf("%s: got %v, %v", src, got, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	small, large := fastest(30_000), fastest(300_000)
	if growth := float64(large) / float64(small); growth > 40 {
		t.Fatalf("30,000 iterations took %v and 300,000 took %v: %.0fx for 10x the work", small, large, growth)
	}
}

// A limit error is the expression's fault, not a CEL error about the data.
func TestLimitErrorIsNotACELError(t *testing.T) {
	e := newEnv(t)
	_, err := e.Eval(context.Background(), "input.s.replace('', input.s)", hostileVars())
	var ee *EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := ee.Err.(*LimitError); !ok {
		t.Fatalf("EvalError.Err is %T, want *LimitError", ee.Err)
	}
}

// hashPassword waits for a core no longer than its evaluation's context,
// and a cancelled evaluation stops between two hashes.
func TestHashPasswordStopsWhenCancelled(t *testing.T) {
	testenv.SkipUnderRace(t)
	e := newEnv(t)
	for range cap(e.guards.hashSlots) {
		e.guards.hashSlots <- struct{}{} // every core busy
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Eval(ctx, "hashPassword('waiting')", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a cancelled hash waited %v", took)
	}
	for range cap(e.guards.hashSlots) {
		<-e.guards.hashSlots
	}

	start = time.Now()
	if _, err := e.Eval(context.Background(), "hashPassword('one')", nil); err != nil {
		t.Fatal(err)
	}
	oneHash := time.Since(start) // about 200 ms, several times more under -race
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		time.Sleep(oneHash / 4)
		cancel()
	}()
	start = time.Now()
	_, err = e.Eval(ctx, "[hashPassword('a'), hashPassword('b'), hashPassword('c'), hashPassword('d')]", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The hash in flight finishes; the three others do not run.
	if took := time.Since(start); took > 2*oneHash {
		t.Fatalf("the cancelled evaluation ran %v; one hash takes %v", took, oneHash)
	}
}
