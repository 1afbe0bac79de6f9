package expr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// Every function and overload of the environment must be classified in
// guard.go: New refuses a new function, a new overload of a classified
// function, or a whole new extension, until someone decides its bound.
func TestEveryOverloadIsClassified(t *testing.T) {
	e := newEnv(t)
	var overloads int
	for name, fn := range e.env.Functions() {
		r, ok := e.guards.rules[name]
		if !ok {
			t.Errorf("function %s is not classified", name)
			continue
		}
		for _, o := range fn.OverloadDecls() {
			overloads++
			found := false
			for _, id := range r.overloads {
				found = found || id == o.ID()
			}
			if !found {
				t.Errorf("overload %s of %s is not classified", o.ID(), name)
			}
		}
	}
	t.Logf("%d functions, %d overloads classified", len(e.env.Functions()), overloads)

	shout := func(v ref.Val) ref.Val { return types.String(strings.Repeat(string(v.(types.String)), 1000)) }
	tests := []struct {
		name  string
		extra cel.EnvOption
		want  string
	}{
		{"a new function", cel.Function("shout",
			cel.Overload("shout_string", []*cel.Type{cel.StringType}, cel.StringType, cel.UnaryBinding(shout))),
			"function shout is not classified"},
		{"a new overload of a classified function", cel.Function("replace",
			cel.MemberOverload("string_replace_int", []*cel.Type{cel.StringType, cel.IntType}, cel.StringType,
				cel.BinaryBinding(func(s, _ ref.Val) ref.Val { return s }))),
			"overload string_replace_int of replace is not classified"},
		{"a new extension", ext.Regex(), "function regex.replace is not classified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newWith(Limits{}, tt.extra)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("newWith = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// The bounds of the functions that build strings are exact: the check
// before the call refuses exactly the results over the limit.
func TestStringBoundsAreExact(t *testing.T) {
	e := newEnv(t)
	vars := map[string]any{"input": map[string]any{
		"s": "héllo, wörld <&> \"quoted\"\n\ttabs\\ and more, more\a\v",
	}}
	tests := []struct {
		src   string
		bound boundFunc
		args  []string // the call's arguments, receiver first
	}{
		{"input.s.replace('', '--')", replaceBound, []string{"input.s", "''", "'--'"}},
		{"input.s.replace('o', 'OOO')", replaceBound, []string{"input.s", "'o'", "'OOO'"}},
		{"input.s.replace('o', '', 2)", replaceBound, []string{"input.s", "'o'", "''", "2"}},
		{"input.s.replace('more', 'less', -1)", replaceBound, []string{"input.s", "'more'", "'less'", "-1"}},
		{"strings.quote(input.s)", quoteBound, []string{"input.s"}},
		{"base64.encode(bytes(input.s))", base64EncodeBound, []string{"bytes(input.s)"}},
		{"input.s + input.s", concatBound, []string{"input.s", "input.s"}},
		{"input.s.split(', ').join('; ')", joinBound, []string{"input.s.split(', ')", "'; '"}},
		{"input.s.split(', ').join()", joinBound, []string{"input.s.split(', ')"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := e.EvalString(context.Background(), tt.src, vars)
			if err != nil {
				t.Fatal(err)
			}
			b := boundOf(t, e, tt.bound, vars, tt.args...)
			if b.bytes != uint64(len(got)) {
				t.Fatalf("bound %d bytes, result %d bytes (%q)", b.bytes, len(got), got)
			}
		})
	}
}

// boundOf applies a bound to the values of the argument expressions.
func boundOf(t *testing.T, e *Env, b boundFunc, vars map[string]any, args ...string) bound {
	t.Helper()
	var vals []ref.Val
	for _, src := range args {
		v, err := e.Eval(context.Background(), src, vars)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, types.DefaultTypeAdapter.NativeToValue(v))
	}
	bd, refused := b(e.limits, vals)
	if refused != nil {
		t.Fatalf("bound refused: %v", refused)
	}
	return bd
}

// split's bound counts its parts exactly, format's is never below the
// result.
func TestListAndFormatBounds(t *testing.T) {
	e := newEnv(t)
	s := "a,b,,c,dé,"
	for _, tt := range []struct {
		sep string
		n   int64
	}{{",", -1}, {",", 2}, {"", -1}, {"", 3}, {"x", -1}, {",", 0}} {
		args := []ref.Val{types.String(s), types.String(tt.sep), types.Int(tt.n)}
		b, _ := splitBound(e.limits, args)
		want := len(strings.SplitN(s, tt.sep, int(tt.n)))
		if b.bytes != uint64(want)*elementBytes {
			t.Errorf("split(%q, %d): bound %d elements, want %d", tt.sep, tt.n, b.bytes/elementBytes, want)
		}
	}
	for _, tt := range []struct{ format, args string }{
		{"'%s and %d'", "['x', 42]"},
		{"'%x'", "['hello']"},
		{"'%.3f|%e|%s'", "[1e300, 2.5, [1, 'two', {'k': b'v'}, null, true]]"},
		{"'%b %o %X'", "[-9223372036854775807, 8u, 255]"},
		{"'%s'", "[timestamp('2024-01-01T00:00:00Z')]"},
	} {
		src := tt.format + ".format(" + tt.args + ")"
		got, err := e.EvalString(context.Background(), src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		b := boundOf(t, e, formatBound, nil, tt.format, tt.args)
		if b.bytes < uint64(len(got)) {
			t.Errorf("%s: bound %d bytes, result %d (%q)", src, b.bytes, len(got), got)
		}
	}
}

// jsonScalarLen and jsonStringLen are what encoding/json writes, and the
// conversion counts at least the JSON it will be encoded to.
func TestJSONLengths(t *testing.T) {
	for _, s := range []string{"", "plain", "<a href='x'>&amp;</a>", "\x00\x01\x1f\"\\\n\r\t\b\f", "héllo wörld ☃",
		"bad \xff\xfe byte", "line\u2028sep\u2029", strings.Repeat("é<", 100)} {
		data, _ := json.Marshal(s)
		if got := jsonStringLen(s); got != uint64(len(data)) {
			t.Errorf("jsonStringLen(%q) = %d, json.Marshal writes %d", s, got, len(data))
		}
	}
	for _, v := range []ref.Val{types.Int(-9223372036854775808), types.Int(0), types.Uint(18446744073709551615),
		types.Double(-1.2345678901234567e-308), types.Bool(false), types.NullValue, types.Bytes("\x00\xffabc")} {
		native, err := toNative(v, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(native)
		if got := jsonScalarLen(v); got < uint64(len(data)) {
			t.Errorf("jsonScalarLen(%v) = %d, json.Marshal writes %d", v, got, len(data))
		}
	}
	e := newEnv(t)
	out, err := e.Eval(context.Background(),
		"{'a': [1, 2.5, 'x<y>', b'hi', null, true], 1: {'n': timestamp('2024-01-01T00:00:00Z')}, 'd': duration('90m')}", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(out)
	ast, _ := e.env.Compile("{'a': [1, 2.5, 'x<y>', b'hi', null, true], 1: {'n': timestamp('2024-01-01T00:00:00Z')}, 'd': duration('90m')}")
	prg, _ := e.env.Program(ast)
	val, _, _ := prg.Eval(map[string]any{})
	c := converter{limit: 1 << 20}
	if _, err := c.convert(val, 0); err != nil {
		t.Fatal(err)
	}
	if c.size < uint64(len(data)) {
		t.Errorf("the conversion counted %d bytes; json.Marshal writes %d: %s", c.size, len(data), data)
	}
	if b := base64.StdEncoding.EncodedLen(5) + 2; jsonScalarLen(types.Bytes("12345")) != uint64(b) {
		t.Errorf("bytes length")
	}
}

// regexInsts is never below the size of the program regexp compiles.
func TestRegexInstsBound(t *testing.T) {
	for _, p := range []string{"^[0-9]{1,15}$", "[A-Za-z]", "(a|bc)*d+e?", "(?i)hello", `\pL{1000}`,
		"[a-z]{1000}[a-z]{1000}[a-z]{1000}x", "(a{2,5}b{3,}){4}", "^(foo|bar|baz)+$", "x{0}", "(?:(?:a{10}){10}){10}", ".*"} {
		got, ok := regexInsts(p)
		if !ok {
			t.Fatalf("%s: not parsed", p)
		}
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		if got < uint64(len(prog.Inst)) {
			t.Errorf("%s: regexInsts %d, the program has %d", p, got, len(prog.Inst))
		}
	}
}

// JSONSize measures what encoding/json writes, never less.
func TestJSONSize(t *testing.T) {
	vals := []any{
		nil, true, false, "x<y>&\u2028", 0.0, -1.5, 1e21, 1e-7, 123456789.125, int64(-42),
		[]byte("\x00\xff"), time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
		[]any{1.0, "two", []any{}, map[string]any{}},
		map[string]any{"a": []any{1.0, 2.0}, "b\n": map[string]any{"c": nil}},
	}
	for _, v := range vals {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, over := JSONSize(v, 1<<20)
		if over || got < uint64(len(data)) || got > uint64(len(data))+16 {
			t.Errorf("JSONSize(%#v) = %d (over %v), json.Marshal writes %d", v, got, over, len(data))
		}
	}
	big := strings.Repeat("x", 1000)
	shared := make(map[string]any, 1000)
	for i := range 1000 {
		shared[strconv.Itoa(i)] = big
	}
	if n, over := JSONSize(shared, 10_000); !over || n > 20_000 {
		t.Errorf("JSONSize of a thousand shared strings = %d, %v; want it to stop past the limit", n, over)
	}
}
