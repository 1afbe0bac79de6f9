package expr

import (
	"errors"
	"fmt"
	"maps"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/decls"
	celfunctions "github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Memory and CPU guards.
//
// CEL's cost limit is charged after a call returns, so on its own it stops
// an expression only once a call has already built its result: `replace`
// with an empty pattern over a 400 KB input, or `join` with a long
// separator, allocates gigabytes first. So every function of the
// environment is classified (notGrowing, guardedFunctions), and New refuses to build an
// environment with a function that is not:
//
//   - not growing: the result is a number, bool, timestamp, duration or
//     type, or a value the arguments already hold (an element, an
//     optional's value), or no bigger than one argument (a substring, a
//     sorted copy); its work is at most linear in its arguments, or is
//     charged to the cost limit (hashPassword).
//   - guarded: the result can be much bigger than every argument (replace,
//     join, format, json.encode, strings.quote, base64.encode, split,
//     lists.range, flatten, concatenation) or the work can grow faster than
//     the arguments (sets.*, distinct). Its implementation is wrapped:
//     before it runs, an upper bound of the bytes it will make and of the
//     steps it will take is computed from the argument values, and a bound
//     over Limits.MaxValueBytes or Limits.CostLimit fails the call instead
//     of running it.
//
// So no function makes a value over MaxValueBytes. Values built without a
// call (list and map literals, comprehension results) may share elements,
// so their size as JSON (what equality, conversion and json.encode walk)
// can grow exponentially with nested cel.bind at no cost: those are
// measured when they are built (sizeChecked), and the final result while
// it is converted (toNative). What a call allocates is also charged to the
// cost limit (allocationCost), so many small allocations add up to the
// limit too.

// ErrValueTooLarge is wrapped by the error of an evaluation that would make
// a value over Limits.MaxValueBytes, or do more work in one call than
// Limits.CostLimit.
var ErrValueTooLarge = errors.New("value too large")

// bounds computes, from a guarded call's arguments, an upper bound of the
// bytes its result takes and of the steps it takes. Arguments of the wrong
// type count as zero: the call's own type checks then fail it.
type bounds func(args []ref.Val, limit uint64) (bytes, steps uint64)

// elementBytes is what one list element or map entry is counted as, on top
// of its own size: about its memory as a CEL value, and more than its JSON.
const elementBytes = 16

// notGrowing are the functions whose results are no bigger than one of
// their arguments (see above).
var notGrowing = []string{
	// Operators and logic: scalar results, or equality and membership,
	// whose work is linear in the size of values (capped).
	"!_", "-_", "_!=_", "_%_", "_&&_", "_*_", "_-_", "_/_", "_<=_", "_<_", "_==_",
	"_>=_", "_>_", "_?_:_", "_||_", "@not_strictly_false", "__not_strictly_false__",
	"@in", "_in_", "in",
	// Element access and optionals: values the arguments hold.
	"_?._", "_[?_]", "_[_]", "dyn", "type", "first", "last", "hasValue", "value",
	"optional.none", "optional.of", "optional.ofNonZeroValue", "optional.unwrap",
	"or", "orValue", "unwrapOpt", "cel.@block",
	// Conversions and accessors to scalars.
	"bool", "double", "int", "uint", "duration", "timestamp", "size",
	"getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear",
	"getHours", "getMilliseconds", "getMinutes", "getMonth", "getSeconds",
	"math.@max", "math.@min", "math.abs", "math.bitAnd", "math.bitNot", "math.bitOr",
	"math.bitShiftLeft", "math.bitShiftRight", "math.bitXor", "math.ceil", "math.floor",
	"math.isFinite", "math.isInf", "math.isNaN", "math.round", "math.sign", "math.sqrt",
	"math.trunc", "sum",
	// String searches: linear scans (`matches` is checked before it runs:
	// matchesOverloads).
	"contains", "startsWith", "endsWith", "indexOf", "lastIndexOf", "matches", "charAt",
	// No bigger than the argument: a part, a case change, a reordering, a
	// conversion, a decoding.
	"lowerAscii", "upperAscii", "trim", "substring", "reverse", "slice", "string", "bytes",
	"base64.decode",
	// n log n over a list a comprehension built (its cost already counted
	// each element), the same elements in another order.
	"sort", "@sortByAssociatedKeys",
	// One entry added to a map per comprehension step (transformMap).
	"cel.@mapInsert",
	// Small results; its cost is charged heavily (allocationCost), so an
	// evaluation can only run a few.
	"hashPassword",
}

// guardedFunctions are the functions checked before they run, with the
// bounds of each. The concatenation operator is ours (arith.go) and checks
// itself in its own implementation.
func guardedFunctions() map[string]bounds {
	return map[string]bounds{
		"_+_":             nil,
		"replace":         replaceBounds,
		"join":            joinBounds,
		"split":           splitBounds,
		"format":          deepBounds,
		"json.encode":     deepBounds,
		"strings.quote":   deepBounds,
		"base64.encode":   base64Bounds,
		"flatten":         deepBounds,
		"lists.range":     rangeBounds,
		"distinct":        quadraticBounds,
		"sets.contains":   quadraticBounds,
		"sets.equivalent": quadraticBounds,
		"sets.intersects": quadraticBounds,
	}
}

// guardFunctions returns declarations that replace the implementation of
// every guarded function of env with one that checks its bounds first. It
// fails on a function that is neither guarded nor listed as not growing.
func guardFunctions(env *cel.Env, limits Limits) ([]*decls.FunctionDecl, error) {
	guarded := guardedFunctions()
	fns := env.Functions()
	var unknown []string
	var out []*decls.FunctionDecl
	for _, name := range slices.Sorted(maps.Keys(fns)) {
		b, isGuarded := guarded[name]
		if !isGuarded {
			if !slices.Contains(notGrowing, name) {
				unknown = append(unknown, name)
			}
			continue
		}
		if b == nil {
			continue
		}
		fn, err := guardedDecl(fns[name], b, limits)
		if err != nil {
			return nil, fmt.Errorf("guarding %s: %w", name, err)
		}
		out = append(out, fn)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("functions neither guarded nor listed as not growing (internal/expr/guard.go): %v", unknown)
	}
	return out, nil
}

// guardedDecl redeclares fn's overloads, same ids and signatures, bound to
// their implementations behind a bounds check. cel-go replaces an
// overload's implementation when one with an identical signature is
// declared again.
func guardedDecl(fn *decls.FunctionDecl, b bounds, limits Limits) (*decls.FunctionDecl, error) {
	impls, err := fn.Bindings()
	if err != nil {
		return nil, err
	}
	byID := map[string]func(args []ref.Val) ref.Val{}
	for _, o := range impls {
		byID[o.Operator] = callOf(o.Unary, o.Binary, o.Function)
	}
	var opts []decls.FunctionOpt
	for _, o := range fn.OverloadDecls() {
		impl, ok := byID[o.ID()]
		if !ok {
			return nil, fmt.Errorf("overload %s has no implementation of its own", o.ID())
		}
		check := checkedCall(fn.Name(), impl, b, limits)
		var binding decls.OverloadOpt
		switch len(o.ArgTypes()) {
		case 1:
			binding = decls.UnaryBinding(func(a ref.Val) ref.Val { return check([]ref.Val{a}) })
		case 2:
			binding = decls.BinaryBinding(func(a, b ref.Val) ref.Val { return check([]ref.Val{a, b}) })
		default:
			binding = decls.FunctionBinding(func(args ...ref.Val) ref.Val { return check(args) })
		}
		declare := decls.Overload
		if o.IsMemberFunction() {
			declare = decls.MemberOverload
		}
		opts = append(opts, declare(o.ID(), o.ArgTypes(), o.ResultType(), binding))
	}
	return decls.NewFunction(fn.Name(), opts...)
}

// callOf adapts whichever implementation an overload has.
func callOf(unary func(ref.Val) ref.Val, binary func(ref.Val, ref.Val) ref.Val, function func(...ref.Val) ref.Val) func([]ref.Val) ref.Val {
	return func(args []ref.Val) ref.Val {
		switch {
		case len(args) == 1 && unary != nil:
			return unary(args[0])
		case len(args) == 2 && binary != nil:
			return binary(args[0], args[1])
		case function != nil:
			return function(args...)
		}
		return types.NewErr("no such overload")
	}
}

// checkedCall runs impl only when its bounds fit the limits.
func checkedCall(name string, impl func([]ref.Val) ref.Val, b bounds, limits Limits) func([]ref.Val) ref.Val {
	return func(args []ref.Val) ref.Val {
		bytes, steps := b(args, limits.MaxValueBytes)
		if bytes > limits.MaxValueBytes {
			return types.WrapErr(fmt.Errorf("%s: %w: the result would be over %s; the limit is %s (EXPR_MAX_VALUE_BYTES)",
				name, ErrValueTooLarge, formatBytes(bytes), formatBytes(limits.MaxValueBytes)))
		}
		if steps > limits.CostLimit {
			return types.WrapErr(fmt.Errorf("%s: %w: it would take over %d steps; the limit is %d (EXPR_COST_LIMIT)",
				name, ErrValueTooLarge, steps, limits.CostLimit))
		}
		return impl(args)
	}
}

func strLen(v ref.Val) uint64 {
	switch s := v.(type) {
	case types.String:
		return uint64(len(s))
	case types.Bytes:
		return uint64(len(s))
	}
	return 0
}

func intArg(args []ref.Val, i int) (int64, bool) {
	if i >= len(args) {
		return 0, false
	}
	n, ok := args[i].(types.Int)
	return int64(n), ok
}

// replaceBounds: s.replace(old, new[, n]) makes at most one copy of new per
// occurrence of old, and an empty old occurs before every rune and at the
// end.
func replaceBounds(args []ref.Val, _ uint64) (uint64, uint64) {
	if len(args) < 3 {
		return 0, 0
	}
	s, _ := args[0].(types.String)
	old, _ := args[1].(types.String)
	oldLen, newLen := uint64(len(old)), strLen(args[2])
	// strings.Count counts an empty pattern once per rune, plus one.
	count := uint64(strings.Count(string(s), string(old)))
	if n, ok := intArg(args, 3); ok && n >= 0 && uint64(n) < count {
		count = uint64(n)
	}
	grow := uint64(0)
	if newLen > oldLen {
		grow = newLen - oldLen
	}
	return satAdd(uint64(len(s)), satMul(count, grow)), uint64(len(s))
}

// joinBounds: list.join([sep]) is every element once and n-1 separators.
func joinBounds(args []ref.Val, limit uint64) (uint64, uint64) {
	list, ok := args[0].(traits.Lister)
	if !ok {
		return 0, 0
	}
	n, _ := list.Size().(types.Int)
	var sepLen uint64
	if len(args) > 1 {
		sepLen = strLen(args[1])
	}
	total := satMul(uint64(max(n-1, 0)), sepLen)
	for it := list.Iterator(); it.HasNext() == types.True && total <= limit; {
		total = satAdd(total, strLen(it.Next()))
	}
	return total, uint64(n)
}

// splitBounds: s.split(sep[, n]) makes at most one element per rune (an
// empty separator) or per separator found, each a string of its own.
func splitBounds(args []ref.Val, _ uint64) (uint64, uint64) {
	s, _ := args[0].(types.String)
	var sep types.String
	if len(args) > 1 {
		sep, _ = args[1].(types.String)
	}
	parts := uint64(strings.Count(string(s), string(sep))) + 1
	if n, ok := intArg(args, 2); ok && n >= 0 && uint64(n) < parts {
		parts = uint64(n)
	}
	return satAdd(uint64(len(s)), satMul(parts, elementBytes+16)), uint64(len(s))
}

// rangeBounds: lists.range(n) makes n integers.
func rangeBounds(args []ref.Val, _ uint64) (uint64, uint64) {
	n, _ := intArg(args, 0)
	if n < 0 {
		return 0, 0
	}
	return satMul(uint64(n), elementBytes+8), uint64(n)
}

// quadraticBounds: sets.* and distinct compare every element of one list
// with every element of the other (or itself).
func quadraticBounds(args []ref.Val, _ uint64) (uint64, uint64) {
	size := func(v ref.Val) uint64 {
		if l, ok := v.(traits.Lister); ok {
			if n, ok := l.Size().(types.Int); ok && n > 0 {
				return uint64(n)
			}
		}
		return 0
	}
	a := size(args[0])
	b := a
	if len(args) > 1 {
		b = size(args[1])
	}
	return satMul(a, elementBytes), satMul(a, b)
}

// deepBounds: format, json.encode, strings.quote and flatten walk their
// arguments whole, shared elements as many times as they appear (valueSize
// counts what escaping adds).
func deepBounds(args []ref.Val, limit uint64) (uint64, uint64) {
	var total uint64
	for _, a := range args {
		total = satAdd(total, encodedSize(a, limit))
	}
	return total, total / elementBytes
}

// base64Bounds: four bytes out for every three in.
func base64Bounds(args []ref.Val, _ uint64) (uint64, uint64) {
	n := strLen(args[0])
	return (n + 2) / 3 * 4, n
}

// valueSize is about the bytes v takes as JSON and in memory: string and
// bytes lengths, elementBytes per list element or map entry, 8 per scalar.
// Elements that appear several times are counted each time. It stops
// counting once past limit, so a value holding one big list a million
// times costs at most about limit/elementBytes steps to measure.
func valueSize(v ref.Val, limit uint64) uint64 { return measure(v, limit, false) }

// encodedSize is valueSize counting what quoting and escaping strings can
// add: an upper bound of what json.encode, strings.quote and format make.
func encodedSize(v ref.Val, limit uint64) uint64 { return measure(v, limit, true) }

func measure(v ref.Val, limit uint64, escapes bool) uint64 {
	var total uint64
	var walk func(v ref.Val, depth int)
	walk = func(v ref.Val, depth int) {
		if total > limit {
			return
		}
		if depth > maxDepth {
			total = limit + 1
			return
		}
		switch t := v.(type) {
		case types.String:
			if escapes {
				total += quotedLen(string(t))
			} else {
				total += uint64(len(t)) + 2
			}
		case types.Bytes:
			total += (uint64(len(t))+2)/3*4 + 2 // base64 in JSON
		case *types.Optional:
			if t.HasValue() {
				walk(t.GetValue(), depth+1)
			}
		case traits.Mapper:
			for it := t.Iterator(); it.HasNext() == types.True && total <= limit; {
				k := it.Next()
				total += elementBytes
				walk(k, depth+1)
				walk(t.Get(k), depth+1)
			}
		case traits.Lister:
			for it := t.Iterator(); it.HasNext() == types.True && total <= limit; {
				total += elementBytes
				walk(it.Next(), depth+1)
			}
		default:
			total += 8
		}
	}
	walk(v, 0)
	return total
}

// quotedLen is the length of s quoted as JSON or CEL: control characters,
// quotes, backslashes and HTML's <, > and & may take six bytes each.
func quotedLen(s string) uint64 {
	n := uint64(len(s)) + 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&', c == '\'':
			n += 5
		}
	}
	return n
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

// formatBytes writes a size for a message: "1.5 MiB".
func formatBytes(n uint64) string {
	switch {
	case n == ^uint64(0):
		return "18 EiB"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// maxPatternBytes bounds a `matches` pattern: compiling one costs time and
// memory in its length (and the pattern may come from the input).
const maxPatternBytes = 16 << 10

// regexStepsPerCost is how many regular-expression steps (a byte of text
// through one instruction of the compiled pattern, about 17 ns at worst
// here) one unit of CostLimit allows a single `matches` call.
const regexStepsPerCost = 64

// matchesOverloads replace the implementation of `matches` (a single
// binding for every overload, which cel-go cannot redeclare, hence a
// program option). RE2 runs in time linear in the text, but the factor is
// the compiled pattern's size: `[a-z]{1000}x` over 400 KB takes seconds. So
// the pattern is compiled first and text × instructions checked against
// the limit.
func matchesOverloads(limits Limits) []*celfunctions.Overload {
	match := func(text, pattern ref.Val) ref.Val {
		s, ok1 := text.(types.String)
		p, ok2 := pattern.(types.String)
		if !ok1 || !ok2 {
			return types.MaybeNoSuchOverloadErr(pattern)
		}
		if len(p) > maxPatternBytes {
			return types.WrapErr(fmt.Errorf("matches: %w: the pattern is %s; the limit is %s", ErrValueTooLarge,
				formatBytes(uint64(len(p))), formatBytes(maxPatternBytes)))
		}
		re, err := syntax.Parse(string(p), syntax.Perl)
		if err != nil {
			return types.NewErr("matches: %v", err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return types.NewErr("matches: %v", err)
		}
		steps := satMul(uint64(len(prog.Inst)), uint64(len(s))+1)
		if limit := satMul(limits.CostLimit, regexStepsPerCost); steps > limit {
			return types.WrapErr(fmt.Errorf("matches: %w: matching would take up to %d steps (%d pattern instructions × %d bytes); the limit is %d (EXPR_COST_LIMIT × %d)",
				ErrValueTooLarge, steps, len(prog.Inst), len(s), limit, regexStepsPerCost))
		}
		return s.Match(p)
	}
	return []*celfunctions.Overload{
		{Operator: "matches", Binary: match},
		{Operator: "matches_string", Binary: match},
	}
}
