package expr

import (
	"math/bits"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// The bounds of the functions guard.go classifies as bounded. Each reads
// its arguments as the implementation will, and computes what the call
// will take before it runs: steps in cost units, bytes of the value it
// makes. Where that needs a walk over a value (which can be exponentially
// larger than its memory, see guard.go), the walk stops past the limits.

const (
	// elementBytes is the memory of one list element: an interface value.
	elementBytes = 16
	// runeScratch is the memory of a string converted to runes, per byte of
	// the string: ext.Strings does that for charAt, substring, indexOf, the
	// case changes and reverse.
	runeScratch = 4
	// mapEntryBytes is about the memory of one entry of a Go map of values.
	mapEntryBytes = 64
	// timeZoneCost is the cost of loading a time zone by name (reading its
	// zoneinfo file, tens of microseconds).
	timeZoneCost = 100
	// regexInstBytes is about the memory compiling a regular expression
	// takes per instruction of its program (the expanded syntax tree and the
	// program: 246 bytes measured for \pL{1000}).
	regexInstBytes = 256
	// hashesPerCostLimit is how many hashPassword calls fill the cost limit.
	hashesPerCostLimit = 8
)

const maxUint64 = ^uint64(0)

// scan is the cost of reading or writing n bytes: a unit per ten bytes, as
// cel-go charges string traversal (common.StringTraversalCostFactor).
func scan(n uint64) uint64 { return n/10 + min(n%10, 1) }

func satAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return maxUint64
}

func satMul(a, b uint64) uint64 {
	if hi, lo := bits.Mul64(a, b); hi == 0 {
		return lo
	}
	return maxUint64
}

// strLen is the length of a string or bytes argument.
func strLen(v ref.Val) (uint64, bool) {
	switch t := v.(type) {
	case types.String:
		return uint64(len(t)), true
	case types.Bytes:
		return uint64(len(t)), true
	}
	return 0, false
}

// listLen is the length of a list argument.
func listLen(v ref.Val) (uint64, bool) {
	l, ok := v.(traits.Lister)
	if !ok {
		return 0, false
	}
	n, ok := l.Size().(types.Int)
	if !ok || n < 0 {
		return 0, false
	}
	return uint64(n), true
}

func arg(args []ref.Val, i int) ref.Val {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func intArg(args []ref.Val, i int) (int64, bool) {
	n, ok := arg(args, i).(types.Int)
	return int64(n), ok
}

// newString is the bound of a call that reads its arguments at the cost
// of probe, then writes a new string of size bytes.
func newString(probe, size uint64) bound {
	return bound{probe: probe, steps: satAdd(probe, scan(size)), bytes: size}
}

// atMost is count, or the limit args[i] when that is smaller: replace and
// split take an optional limit, and a negative one means none.
func atMost(count uint64, args []ref.Val, i int) uint64 {
	if n, ok := intArg(args, i); ok && n >= 0 && uint64(n) < count {
		return uint64(n)
	}
	return count
}

// timeZoneBound: the _with_tz accessors load a zone by name.
func timeZoneBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if tz, ok := arg(args, 1).(types.String); ok {
		return bound{steps: timeZoneCost + scan(uint64(len(tz)))}, nil
	}
	return bound{}, nil
}

// compareBound: ordering two strings or bytes reads the shorter.
func compareBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	a, okA := strLen(arg(args, 0))
	b, okB := strLen(arg(args, 1))
	if okA && okB {
		return bound{steps: scan(min(a, b))}, nil
	}
	return bound{}, nil
}

// equalityBound: strings compare in the shorter's length; lists and maps of
// the same size element by element, as deep as they go, which is at most
// the walk of the smaller.
func equalityBound(l Limits, args []ref.Val) (bound, ref.Val) {
	a, b := arg(args, 0), arg(args, 1)
	if la, ok := strLen(a); ok {
		if lb, ok := strLen(b); ok {
			return bound{steps: scan(min(la, lb))}, nil
		}
		return bound{}, nil
	}
	if !sameSizeContainers(a, b) {
		return bound{}, nil
	}
	x, over := measure(a, l.CostLimit, maxUint64)
	if !over {
		return bound{probe: x.walk(), steps: x.walk()}, nil
	}
	y, over := measure(b, l.CostLimit, maxUint64)
	if !over {
		return bound{probe: satAdd(x.walk(), y.walk()), steps: y.walk()}, nil
	}
	return bound{probe: satAdd(x.walk(), y.walk()), steps: min(x.walk(), y.walk()), atLeast: true}, nil
}

// sameSizeContainers says a and b are two lists or two maps of one size:
// anything else compares in constant time.
func sameSizeContainers(a, b ref.Val) bool {
	sizeOf := func(v ref.Val) (types.Int, bool) {
		s, ok := v.(traits.Sizer)
		if !ok {
			return 0, false
		}
		n, ok := s.Size().(types.Int)
		return n, ok
	}
	_, aList := a.(traits.Lister)
	_, bList := b.(traits.Lister)
	_, aMap := a.(traits.Mapper)
	_, bMap := b.(traits.Mapper)
	if !(aList && bList) && !(aMap && bMap) {
		return false
	}
	na, okA := sizeOf(a)
	nb, okB := sizeOf(b)
	return okA && okB && na == nb
}

// membershipBound: `x in list` compares x with each element, each
// comparison at most as long as a walk of the smaller of the two: at most
// the list's length times x's walk, and at most the list's walk. `x in map`
// is a lookup that hashes x.
func membershipBound(l Limits, args []ref.Val) (bound, ref.Val) {
	x := arg(args, 0)
	switch c := arg(args, 1).(type) {
	case traits.Lister:
		n := sizeOf(c)
		xw, _ := measure(x, l.CostLimit, maxUint64)
		if steps := satMul(n, xw.walk()); steps <= l.CostLimit {
			return bound{probe: xw.walk(), steps: steps}, nil
		}
		lw, over := measure(c, l.CostLimit, maxUint64)
		return bound{probe: satAdd(xw.walk(), lw.walk()), steps: lw.walk(), atLeast: over}, nil
	case traits.Mapper:
		n, _ := strLen(x)
		return bound{steps: scan(n)}, nil
	}
	return bound{}, nil
}

// concatBound: strings and bytes are copied; a list is a view of its two
// operands (no copy) whose length is bounded, except a comprehension's
// accumulator, which the element is appended to.
func concatBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	a, b := arg(args, 0), arg(args, 1)
	if la, ok := strLen(a); ok {
		if lb, ok := strLen(b); ok {
			// The copy is the bytes' charge.
			return bound{bytes: satAdd(la, lb)}, nil
		}
	}
	na, okA := listLen(a)
	nb, okB := listLen(b)
	if !okA || !okB {
		return bound{}, nil
	}
	if _, accumulator := a.(traits.MutableLister); accumulator {
		return bound{steps: nb, bytes: satMul(nb, elementBytes)}, nil
	}
	return bound{elements: satAdd(na, nb)}, nil
}

// parseBound: a conversion from a string parses it, and its error quotes it.
func parseBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if s, ok := arg(args, 0).(types.String); ok {
		n := uint64(len(s))
		return bound{steps: scan(n), bytes: n}, nil
	}
	return bound{}, nil
}

// copyBound: string(bytes) and bytes(string) copy (and check UTF-8).
func copyBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if n, ok := strLen(arg(args, 0)); ok {
		return bound{steps: scan(2 * n), bytes: n}, nil
	}
	return bound{}, nil
}

func base64EncodeBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if n, ok := strLen(arg(args, 0)); ok {
		out := (n + 2) / 3 * 4
		return bound{steps: scan(n + out), bytes: out}, nil
	}
	return bound{}, nil
}

func base64DecodeBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if n, ok := strLen(arg(args, 0)); ok {
		out := n/4*3 + 3
		return bound{steps: scan(n + out), bytes: out}, nil
	}
	return bound{}, nil
}

// sizeBound: the size of a string counts its code points.
func sizeBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if s, ok := arg(args, 0).(types.String); ok {
		return bound{steps: scan(uint64(len(s)))}, nil
	}
	return bound{}, nil
}

// scanBound: contains, startsWith, endsWith and trim read their strings
// once (trim's result shares the argument's memory).
func scanBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	var n uint64
	for _, a := range args {
		l, _ := strLen(a)
		n = satAdd(n, l)
	}
	return bound{steps: scan(n)}, nil
}

// runesBound: charAt, substring and the case changes convert the string to
// runes and back.
func runesBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	if s, ok := arg(args, 0).(types.String); ok {
		n := uint64(len(s))
		return bound{steps: scan((1 + runeScratch) * n), bytes: n}, nil
	}
	return bound{}, nil
}

// reverseBound: a string's runes, or a new list.
func reverseBound(l Limits, args []ref.Val) (bound, ref.Val) {
	if n, ok := listLen(arg(args, 0)); ok {
		return bound{steps: n, bytes: satMul(n, elementBytes)}, nil
	}
	return runesBound(l, args)
}

// searchBound: indexOf and lastIndexOf compare the substring at every
// position of the string, rune by rune: the product of their lengths.
func searchBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	s, okS := arg(args, 0).(types.String)
	sub, okSub := arg(args, 1).(types.String)
	if !okS || !okSub {
		return bound{}, nil
	}
	n, m := uint64(len(s)), uint64(len(sub))
	return bound{steps: satAdd(scan(runeScratch*(n+m)), satMul(n, m)/100)}, nil
}

// matchesBound: compiling the pattern takes memory in proportion to its
// program (repetitions multiply it), and RE2 matching takes up to about
// 17 ns per byte of text and instruction of the program: a unit (about a
// quarter of a microsecond of work) per 16 of those.
func matchesBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	s, okS := arg(args, 0).(types.String)
	pattern, okP := arg(args, 1).(types.String)
	if !okS || !okP {
		return bound{}, nil
	}
	insts, ok := regexInsts(string(pattern))
	probe := scan(uint64(len(pattern)))
	if !ok {
		return bound{probe: probe}, nil // the implementation reports the syntax error
	}
	return bound{
		probe: probe,
		steps: satMul(uint64(len(s))+1, insts) / 16,
		bytes: satMul(insts, regexInstBytes),
	}, nil
}

// regexInsts is an upper bound of the number of instructions the RE2
// program of pattern has, computed from its syntax tree without expanding
// its repetitions (which regexp.Compile does, allocating all of them).
func regexInsts(pattern string) (uint64, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, false
	}
	return satAdd(2, progSize(re)), true
}

func progSize(re *syntax.Regexp) uint64 {
	switch re.Op {
	case syntax.OpLiteral:
		return uint64(len(re.Rune))
	case syntax.OpCapture:
		return satAdd(2, progSize(re.Sub[0]))
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return satAdd(1, progSize(re.Sub[0]))
	case syntax.OpRepeat:
		// Min copies, then Max-Min optional ones (a split each), or a
		// star when Max is unbounded.
		sub := progSize(re.Sub[0])
		size := satMul(uint64(re.Min), sub)
		if re.Max < 0 {
			size = satAdd(size, satAdd(sub, 1))
		} else {
			size = satAdd(size, satMul(uint64(re.Max-re.Min), satAdd(sub, 1)))
		}
		return satAdd(size, 1)
	case syntax.OpConcat, syntax.OpAlternate:
		size := uint64(len(re.Sub))
		for _, sub := range re.Sub {
			size = satAdd(size, progSize(sub))
		}
		return size
	}
	return 1
}

// replaceBound: s.replace(old, new[, n]) writes new in place of each of the
// first n occurrences of old; an empty old occurs before every rune and at
// the end. The result's length is exact.
func replaceBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	s, ok1 := arg(args, 0).(types.String)
	old, ok2 := arg(args, 1).(types.String)
	repl, ok3 := arg(args, 2).(types.String)
	if !ok1 || !ok2 || !ok3 {
		return bound{}, nil
	}
	count := atMost(uint64(strings.Count(string(s), string(old))), args, 3)
	size := satAdd(uint64(len(s))-count*uint64(len(old)), satMul(count, uint64(len(repl))))
	return newString(scan(uint64(len(s))), size), nil
}

// splitBound: s.split(sep[, n]) makes one element per separator found, or
// per rune for an empty separator, at most n; the elements share the
// string's memory.
func splitBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	s, ok1 := arg(args, 0).(types.String)
	sep, ok2 := arg(args, 1).(types.String)
	if !ok1 || !ok2 {
		return bound{}, nil
	}
	var parts uint64
	if sep == "" {
		parts = uint64(utf8.RuneCountInString(string(s)))
	} else {
		parts = uint64(strings.Count(string(s), string(sep))) + 1
	}
	parts = atMost(parts, args, 2)
	probe := scan(uint64(len(s)))
	return bound{probe: probe, steps: satAdd(probe, parts), bytes: satMul(parts, elementBytes)}, nil
}

// joinBound: list.join([sep]) writes every element once and a separator
// between two. An element that is not a string is refused here: the
// implementation's error would quote it whole, however big it is.
func joinBound(l Limits, args []ref.Val) (bound, ref.Val) {
	list, ok := arg(args, 0).(traits.Lister)
	n, okN := listLen(arg(args, 0))
	if !ok || !okN {
		return bound{}, nil
	}
	var sep uint64
	if len(args) > 1 {
		sep, _ = strLen(args[1])
	}
	if n > l.CostLimit {
		return bound{steps: n, atLeast: true}, nil
	}
	size := satMul(n-min(n, 1), sep)
	i := 0
	for it := list.Iterator(); it.HasNext() == types.True; i++ {
		elem := it.Next()
		s, ok := elem.(types.String)
		if !ok {
			return bound{probe: uint64(i)}, types.NewErr("join: element %d has type %s, not string", i, elem.Type().TypeName())
		}
		size = satAdd(size, uint64(len(s)))
	}
	return newString(n, size), nil
}

// formatBound: format writes its format string and each argument once, at
// most as long as the longest clause could spell it (see measurer.format).
func formatBound(l Limits, args []ref.Val) (bound, ref.Val) {
	f, ok1 := arg(args, 0).(types.String)
	list, ok2 := arg(args, 1).(traits.Lister)
	if !ok1 || !ok2 {
		return bound{}, nil
	}
	m := measurer{maxWalk: l.CostLimit, maxBytes: l.MaxValueBytes, format: true, precision: maxPrecision(string(f))}
	m.add(0, uint64(len(f)))
	for it := list.Iterator(); !m.over && it.HasNext() == types.True; {
		m.visit(it.Next(), 0)
	}
	x := m.got
	return bound{probe: x.walk(), steps: satAdd(x.nodes, scan(2*x.bytes)), bytes: x.bytes, atLeast: m.over}, nil
}

// maxPrecision is the largest precision a clause of a format string asks
// for ("%.3f" asks for 3).
func maxPrecision(f string) uint64 {
	var p uint64
	for i := 0; i+1 < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if f[i+1] == '%' {
			i++
			continue
		}
		if f[i+1] != '.' {
			continue
		}
		var n uint64
		for j := i + 2; j < len(f) && f[j] >= '0' && f[j] <= '9'; j++ {
			n = satAdd(satMul(n, 10), uint64(f[j]-'0'))
		}
		p = max(p, n)
	}
	return p
}

// quoteBound: strings.quote escapes some characters with a backslash and
// writes an invalid byte as U+FFFD (three bytes). The length is exact.
func quoteBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	s, ok := arg(args, 0).(types.String)
	if !ok {
		return bound{}, nil
	}
	size := uint64(2)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(string(s[i:]))
		switch {
		case r == utf8.RuneError && n == 1:
			size += 3
		case strings.ContainsRune("\a\b\f\n\r\t\v\\\"", r):
			size += 2
		default:
			size += uint64(n)
		}
		i += n
	}
	// A sanitized copy, then a builder that grows by doubling, then the
	// quotes added: scratch of the string's length and twice the result's.
	probe := scan(uint64(len(s)))
	return bound{probe: probe, steps: scan(uint64(len(s)) + 2*size), bytes: size}, nil
}

// jsonEncodeBound: json.encode converts the value to protobuf's JSON
// structure, encodes, decodes and encodes it again: a few times its JSON
// length, and a structure per element.
func jsonEncodeBound(l Limits, args []ref.Val) (bound, ref.Val) {
	x, over := measure(arg(args, 0), l.CostLimit, l.MaxValueBytes)
	return bound{probe: x.walk(), steps: satAdd(satMul(x.nodes, 16), scan(4*x.bytes)), bytes: x.bytes, atLeast: over}, nil
}

// rangeBound: lists.range(n) makes n new integers.
func rangeBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	n, ok := intArg(args, 0)
	if !ok || n < 0 {
		return bound{}, nil
	}
	return bound{steps: uint64(n), bytes: satMul(uint64(n), elementBytes+8)}, nil
}

// sliceBound: list.slice(start, end) copies end-start elements.
func sliceBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	n, ok := listLen(arg(args, 0))
	start, ok1 := intArg(args, 1)
	end, ok2 := intArg(args, 2)
	if !ok || !ok1 || !ok2 || start < 0 || start > end || uint64(end) > n {
		return bound{}, nil
	}
	count := uint64(end - start)
	return bound{steps: count, bytes: satMul(count, elementBytes)}, nil
}

// flattenBound: list.flatten([depth]) makes one element per value it
// reaches without descending more than depth levels.
func flattenBound(l Limits, args []ref.Val) (bound, ref.Val) {
	list, ok := arg(args, 0).(traits.Lister)
	if !ok {
		return bound{}, nil
	}
	depth := int64(1)
	if d, ok := intArg(args, 1); ok {
		depth = d
	}
	if depth < 0 {
		return bound{}, nil
	}
	var visited, leaves uint64
	maxLeaves := l.MaxValueBytes / elementBytes
	over := false
	var walk func(l traits.Lister, depth int64, level int)
	walk = func(list traits.Lister, depth int64, level int) {
		if level > maxDepth {
			over = true
			return
		}
		for it := list.Iterator(); !over && it.HasNext() == types.True; {
			visited++
			if sub, ok := it.Next().(traits.Lister); ok && depth > 0 {
				walk(sub, depth-1, level+1)
			} else {
				leaves++
			}
			over = over || visited > l.CostLimit || leaves > maxLeaves
		}
	}
	walk(list, depth, 0)
	return bound{probe: visited, steps: visited, bytes: satMul(leaves, elementBytes), atLeast: over}, nil
}

// distinctBound: list.distinct() compares each element with every distinct
// one kept so far: up to the list's length times its walk.
func distinctBound(l Limits, args []ref.Val) (bound, ref.Val) {
	n, ok := listLen(arg(args, 0))
	if !ok {
		return bound{}, nil
	}
	x, over := measure(args[0], l.CostLimit, maxUint64)
	return bound{probe: x.walk(), steps: satMul(n, x.walk()), bytes: satMul(n, elementBytes), atLeast: over}, nil
}

// unwrapBound: optional.unwrap(list) copies the values of the optionals in
// list. An element that is not an optional is refused here: the
// implementation's error would quote it whole.
func unwrapBound(l Limits, args []ref.Val) (bound, ref.Val) {
	list, ok := arg(args, 0).(traits.Lister)
	n, okN := listLen(arg(args, 0))
	if !ok || !okN {
		return bound{}, nil
	}
	if n > l.CostLimit {
		return bound{steps: n, atLeast: true}, nil
	}
	i := 0
	for it := list.Iterator(); it.HasNext() == types.True; i++ {
		if elem := it.Next(); elem.Type() != types.OptionalType {
			return bound{probe: uint64(i)}, types.NewErr("optional.unwrap: element %d has type %s, not optional", i, elem.Type().TypeName())
		}
	}
	return bound{probe: n, steps: n, bytes: satMul(n, elementBytes)}, nil
}

// sortBound: sort and sortBy order the keys (argument k) with n·log(n)
// comparisons, each at most as long as a walk of the keys; the result is a
// new list, and the sort a list of indices.
func sortBound(k int) boundFunc {
	return func(l Limits, args []ref.Val) (bound, ref.Val) {
		n, ok := listLen(arg(args, k))
		if !ok {
			return bound{}, nil
		}
		x, over := measure(args[k], l.CostLimit, maxUint64)
		steps := satAdd(satMul(x.walk(), uint64(bits.Len64(n))), n)
		return bound{probe: x.walk(), steps: steps, bytes: satMul(n, 2*elementBytes+8), atLeast: over}, nil
	}
}

// setsBound: sets.contains(a, b) looks each element of b up in a, each
// lookup up to a's walk; sets.intersects(a, b) each element of a in b;
// sets.equivalent does both.
func setsBound(bInA, aInB bool) boundFunc {
	return func(l Limits, args []ref.Val) (bound, ref.Val) {
		na, okA := listLen(arg(args, 0))
		nb, okB := listLen(arg(args, 1))
		if !okA || !okB {
			return bound{}, nil
		}
		xa, overA := measure(args[0], l.CostLimit, maxUint64)
		xb, overB := measure(args[1], l.CostLimit, maxUint64)
		var steps uint64
		if bInA {
			steps = satAdd(steps, satMul(nb, xa.walk()))
		}
		if aInB {
			steps = satAdd(steps, satMul(na, xb.walk()))
		}
		return bound{probe: satAdd(xa.walk(), xb.walk()), steps: steps, atLeast: overA || overB}, nil
	}
}

// scanListBound: sum, math.greatest and math.least over a list read each
// element once, comparing strings by their bytes; an element that is a
// list or map is an error at once.
func scanListBound(l Limits, args []ref.Val) (bound, ref.Val) {
	if len(args) != 1 {
		return bound{}, nil
	}
	list, ok := args[0].(traits.Lister)
	if !ok {
		return bound{}, nil
	}
	n := sizeOf(list)
	if n > l.CostLimit {
		return bound{steps: n, atLeast: true}, nil
	}
	var text uint64
	for it := list.Iterator(); it.HasNext() == types.True; {
		t, _ := strLen(it.Next())
		text = satAdd(text, t)
	}
	return bound{probe: n, steps: satAdd(n, scan(text))}, nil
}

// mapInsertBound: transformMap inserts into its accumulator in place; into
// any other map, an insertion copies it.
func mapInsertBound(_ Limits, args []ref.Val) (bound, ref.Val) {
	m, ok := arg(args, 0).(traits.Mapper)
	if !ok {
		return bound{}, nil
	}
	var added uint64 = 1
	if other, ok := arg(args, 1).(traits.Mapper); ok && len(args) == 2 {
		n, _ := other.Size().(types.Int)
		added = uint64(max(n, 0))
	}
	if _, inPlace := m.(traits.MutableMapper); inPlace {
		return bound{steps: added, bytes: satMul(added, mapEntryBytes)}, nil
	}
	n, _ := m.Size().(types.Int)
	size := satAdd(uint64(max(n, 0)), added)
	return bound{steps: size, bytes: satMul(size, mapEntryBytes)}, nil
}

// hashBound: a bcrypt hash costs a fixed share of the cost limit.
func hashBound(l Limits, _ []ref.Val) (bound, ref.Val) {
	return bound{steps: max(1, l.CostLimit/hashesPerCostLimit), bytes: 60}, nil
}
