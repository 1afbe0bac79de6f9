package expr

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celfn "github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/types/ref"
)

// Guards: every evaluation is bounded in steps and in memory.
//
// CEL's cost tracker charges a call after it returns, so on its own it
// stops an expression only once a call has built its result: `replace`
// with an empty pattern over a 400 KB string, or `join` with a long
// separator, allocate gigabytes before the cost limit is ever checked. (It
// is also quadratic in the iterations of a comprehension: its value stack
// is searched from the top at every step, so a 40,000-element filter took
// 3 s instead of 20 ms.) It is not used. Instead every evaluation has a
// meter (meter.go), which the program plan charges:
//
//   - every function the environment declares is classified here, overload
//     by overload, and New refuses an environment with a function or an
//     overload the table does not list (a CEL upgrade or a new extension
//     cannot slip one in unbounded). A fixed function does constant work
//     and makes a result of fixed size, or returns a value its arguments
//     already hold (arithmetic, logic, element access, optionals). A
//     bounded one has a bound that computes from the argument values, before
//     the call runs, the steps the call will take and the bytes of the value
//     it will make (replace, join, split, format, json.encode, lists.range,
//     concatenation, equality, membership, sets, sort, matches…);
//   - every call of a bounded function is planned as a meteredCall
//     (decorate.go): it evaluates the arguments, charges the bound to the
//     meter and only then calls the implementation. A bound over
//     Limits.MaxValueBytes, or over what is left of Limits.CostLimit,
//     stops the evaluation with a LimitError instead;
//   - every iteration of a comprehension charges the size of its loop
//     (condition and step), which is at least the number of nodes it runs
//     apart from bounded calls and inner iterations, charged themselves.
//
// So an evaluation runs at most about CostLimit nodes and call steps, makes
// at most a unit of cost per ten bytes (10 MB at the default limit), never
// a single value over MaxValueBytes (plus scratch a small multiple of
// values that already exist), and super-linear calls (sets, distinct, sort,
// indexOf, regular expressions) are estimated before they run.
//
// Values an expression builds without copying (list and map literals,
// comprehension results, lists joined with `+`, which are views of their
// operands) can share elements, so their size as a walk sees them can grow
// exponentially with nested cel.bind at little cost (a `+` view is at most
// CostLimit elements long, a literal as long as the expression). That is
// harmless until something walks them,
// and everything that walks a value is a bounded call (equality, `in`,
// join, format, json.encode, flatten…) whose bound measures the value with
// a budget first, or the conversion of the result (toNative), which counts
// bytes as it goes and stops at MaxValueBytes.

// boundFunc computes the bound of one call from its arguments. A non-nil
// ref.Val is an error the call returns instead of running (an argument the
// implementation would quote whole in its own error, for instance).
// Arguments of unexpected types give a zero bound: the implementation then
// reports its own type error.
type boundFunc func(l Limits, args []ref.Val) (bound, ref.Val)

// bound is what one call will do.
type bound struct {
	// probe is the cost of computing the bound (a scan, a measured walk).
	probe uint64
	// steps is the cost of the call's own work.
	steps uint64
	// bytes is the memory of the value the call makes.
	bytes uint64
	// elements is the length of a list the call makes without allocating
	// it (a concatenation is a view of its operands).
	elements uint64
	// atLeast says the walk stopped early: steps or bytes are lower bounds.
	atLeast bool
}

// rule classifies one function: the overloads it vouches for and, for a
// function whose work or result can outgrow its arguments, its bound.
type rule struct {
	overloads []string
	bound     boundFunc // nil: fixed
}

func fixed(overloads ...string) rule { return rule{overloads: overloads} }

func bounded(b boundFunc, overloads ...string) rule {
	return rule{overloads: overloads, bound: b}
}

// rules classifies every function of the environment.
func rules() map[string]rule {
	return map[string]rule{
		// Logic and arithmetic on scalars.
		"!_":                     fixed("logical_not"),
		"-_":                     fixed("negate_double", "negate_int64"),
		"_&&_":                   fixed("logical_and"),
		"_||_":                   fixed("logical_or"),
		"_?_:_":                  fixed("conditional"),
		"@not_strictly_false":    fixed("not_strictly_false"),
		"__not_strictly_false__": fixed("__not_strictly_false__"),
		"_%_":                    fixed("modulo_int64", "modulo_uint64", "modulo_int64_double", "modulo_double_int64", "modulo_double"),
		"_*_":                    fixed("multiply_double", "multiply_int64", "multiply_uint64", "multiply_int64_double", "multiply_double_int64"),
		"_/_":                    fixed("divide_double", "divide_int64", "divide_uint64", "divide_int64_double", "divide_double_int64"),
		"_-_": fixed("subtract_double", "subtract_duration_duration", "subtract_int64", "subtract_timestamp_duration",
			"subtract_timestamp_timestamp", "subtract_uint64", "subtract_int64_double", "subtract_double_int64"),
		"math.abs":           fixed("math_abs_double", "math_abs_int", "math_abs_uint"),
		"math.bitAnd":        fixed("math_bitAnd_int_int", "math_bitAnd_uint_uint"),
		"math.bitNot":        fixed("math_bitNot_int_int", "math_bitNot_uint_uint"),
		"math.bitOr":         fixed("math_bitOr_int_int", "math_bitOr_uint_uint"),
		"math.bitShiftLeft":  fixed("math_bitShiftLeft_int_int", "math_bitShiftLeft_uint_int"),
		"math.bitShiftRight": fixed("math_bitShiftRight_int_int", "math_bitShiftRight_uint_int"),
		"math.bitXor":        fixed("math_bitXor_int_int", "math_bitXor_uint_uint"),
		"math.ceil":          fixed("math_ceil_double"),
		"math.floor":         fixed("math_floor_double"),
		"math.isFinite":      fixed("math_isFinite_double"),
		"math.isInf":         fixed("math_isInf_double"),
		"math.isNaN":         fixed("math_isNaN_double"),
		"math.round":         fixed("math_round_double"),
		"math.sign":          fixed("math_sign_double", "math_sign_int", "math_sign_uint"),
		"math.sqrt":          fixed("math_sqrt_double", "math_sqrt_int", "math_sqrt_uint"),
		"math.trunc":         fixed("math_trunc_double"),

		// Element access, types and optionals: values the arguments hold.
		"_[_]":                    fixed("index_list", "index_map", "optional_list_index_int", "optional_map_index_value"),
		"_[?_]":                   fixed("list_optindex_optional_int", "optional_list_optindex_optional_int", "map_optindex_optional_value", "optional_map_optindex_optional_value"),
		"_?._":                    fixed("select_optional_field"),
		"first":                   fixed("list_first"),
		"last":                    fixed("list_last"),
		"dyn":                     fixed("to_dyn"),
		"type":                    fixed("type"),
		"hasValue":                fixed("optional_hasValue"),
		"value":                   fixed("optional_value"),
		"optional.none":           fixed("optional_none"),
		"optional.of":             fixed("optional_of"),
		"optional.ofNonZeroValue": fixed("optional_ofNonZeroValue"),
		"or":                      fixed("optional_or_optional"),
		"orValue":                 fixed("optional_orValue_value"),
		"unwrapOpt":               fixed("optional_unwrapOpt"),
		// The optimizer's common-subexpression block; expressions cannot
		// spell its name.
		"cel.@block": fixed("cel_block_list"),
		// A timestamp's fields; the time zone variants load a zone by name.
		"getDate":         bounded(timeZoneBound, "timestamp_to_day_of_month_1_based", "timestamp_to_day_of_month_1_based_with_tz"),
		"getDayOfMonth":   bounded(timeZoneBound, "timestamp_to_day_of_month", "timestamp_to_day_of_month_with_tz"),
		"getDayOfWeek":    bounded(timeZoneBound, "timestamp_to_day_of_week", "timestamp_to_day_of_week_with_tz"),
		"getDayOfYear":    bounded(timeZoneBound, "timestamp_to_day_of_year", "timestamp_to_day_of_year_with_tz"),
		"getFullYear":     bounded(timeZoneBound, "timestamp_to_year", "timestamp_to_year_with_tz"),
		"getHours":        bounded(timeZoneBound, "timestamp_to_hours", "timestamp_to_hours_with_tz", "duration_to_hours"),
		"getMilliseconds": bounded(timeZoneBound, "timestamp_to_milliseconds", "timestamp_to_milliseconds_with_tz", "duration_to_milliseconds"),
		"getMinutes":      bounded(timeZoneBound, "timestamp_to_minutes", "timestamp_to_minutes_with_tz", "duration_to_minutes"),
		"getMonth":        bounded(timeZoneBound, "timestamp_to_month", "timestamp_to_month_with_tz"),
		"getSeconds":      bounded(timeZoneBound, "timestamp_to_seconds", "timestamp_to_seconds_tz", "duration_to_seconds"),

		// Comparisons: linear in the shorter string; equality and
		// membership walk whole values.
		"_<_": bounded(compareBound, "less_bool", "less_int64", "less_int64_double", "less_int64_uint64", "less_uint64",
			"less_uint64_double", "less_uint64_int64", "less_double", "less_double_int64", "less_double_uint64",
			"less_string", "less_bytes", "less_timestamp", "less_duration"),
		"_<=_": bounded(compareBound, "less_equals_bool", "less_equals_int64", "less_equals_int64_double",
			"less_equals_int64_uint64", "less_equals_uint64", "less_equals_uint64_double", "less_equals_uint64_int64",
			"less_equals_double", "less_equals_double_int64", "less_equals_double_uint64", "less_equals_string",
			"less_equals_bytes", "less_equals_timestamp", "less_equals_duration"),
		"_>_": bounded(compareBound, "greater_bool", "greater_int64", "greater_int64_double", "greater_int64_uint64",
			"greater_uint64", "greater_uint64_double", "greater_uint64_int64", "greater_double", "greater_double_int64",
			"greater_double_uint64", "greater_string", "greater_bytes", "greater_timestamp", "greater_duration"),
		"_>=_": bounded(compareBound, "greater_equals_bool", "greater_equals_int64", "greater_equals_int64_double",
			"greater_equals_int64_uint64", "greater_equals_uint64", "greater_equals_uint64_double",
			"greater_equals_uint64_int64", "greater_equals_double", "greater_equals_double_int64",
			"greater_equals_double_uint64", "greater_equals_string", "greater_equals_bytes", "greater_equals_timestamp",
			"greater_equals_duration"),
		"_==_": bounded(equalityBound, "equals"),
		"_!=_": bounded(equalityBound, "not_equals"),
		"@in":  bounded(membershipBound, "in_list", "in_map"),
		"_in_": bounded(membershipBound, "in_list", "in_map"),
		"in":   bounded(membershipBound, "in_list", "in_map"),

		// Concatenation (arith.go): strings and bytes are copied, lists are
		// a view whose length is bounded.
		"_+_": bounded(concatBound, "add_bytes", "add_double", "add_duration_duration", "add_duration_timestamp",
			"add_timestamp_duration", "add_int64", "add_list", "add_string", "add_uint64", "add_int64_double",
			"add_double_int64"),

		// Conversions: parsing reads the string (and an error quotes it);
		// bytes and strings are copied.
		"bool":      bounded(parseBound, "bool_to_bool", "string_to_bool"),
		"int":       bounded(parseBound, "int64_to_int64", "double_to_int64", "duration_to_int64", "string_to_int64", "timestamp_to_int64", "uint64_to_int64"),
		"uint":      bounded(parseBound, "uint64_to_uint64", "double_to_uint64", "int64_to_uint64", "string_to_uint64"),
		"double":    bounded(parseBound, "double_to_double", "int64_to_double", "string_to_double", "uint64_to_double"),
		"duration":  bounded(parseBound, "duration_to_duration", "string_to_duration"),
		"timestamp": bounded(parseBound, "timestamp_to_timestamp", "int64_to_timestamp", "string_to_timestamp"),
		"string": bounded(copyBound, "string_to_string", "bool_to_string", "bytes_to_string", "double_to_string",
			"duration_to_string", "int64_to_string", "timestamp_to_string", "uint64_to_string"),
		"bytes":         bounded(copyBound, "bytes_to_bytes", "string_to_bytes"),
		"base64.encode": bounded(base64EncodeBound, "base64_encode_bytes"),
		"base64.decode": bounded(base64DecodeBound, "base64_decode_string"),
		"size": bounded(sizeBound, "size_bytes", "bytes_size", "size_list", "list_size", "size_map", "map_size",
			"size_string", "string_size"),

		// Strings (ext.Strings). Several convert to runes first: scratch of
		// four bytes per byte.
		"contains":      bounded(scanBound, "contains_string"),
		"startsWith":    bounded(scanBound, "starts_with_string"),
		"endsWith":      bounded(scanBound, "ends_with_string"),
		"trim":          bounded(scanBound, "string_trim"),
		"charAt":        bounded(runesBound, "string_char_at_int"),
		"substring":     bounded(runesBound, "string_substring_int", "string_substring_int_int"),
		"lowerAscii":    bounded(runesBound, "string_lower_ascii"),
		"upperAscii":    bounded(runesBound, "string_upper_ascii"),
		"reverse":       bounded(reverseBound, "string_reverse", "list_reverse"),
		"indexOf":       bounded(searchBound, "string_index_of_string", "string_index_of_string_int"),
		"lastIndexOf":   bounded(searchBound, "string_last_index_of_string", "string_last_index_of_string_int"),
		"matches":       bounded(matchesBound, "matches", "matches_string"),
		"replace":       bounded(replaceBound, "string_replace_string_string", "string_replace_string_string_int"),
		"split":         bounded(splitBound, "string_split_string", "string_split_string_int"),
		"join":          bounded(joinBound, "list_join", "list_join_string"),
		"format":        bounded(formatBound, "string_format"),
		"strings.quote": bounded(quoteBound, "strings_quote"),
		"json.encode":   bounded(jsonEncodeBound, "json_encode_dyn"),

		// Lists (ext.Lists, ext.Sets, math, ours).
		"lists.range":     bounded(rangeBound, "lists_range"),
		"slice":           bounded(sliceBound, "list_slice"),
		"flatten":         bounded(flattenBound, "list_flatten", "list_flatten_int"),
		"distinct":        bounded(distinctBound, "list_distinct"),
		"optional.unwrap": bounded(unwrapBound, "optional_unwrap"),
		"sort": bounded(sortBound(0), "list_int_sort", "list_uint_sort", "list_double_sort", "list_bool_sort",
			"list_google.protobuf.Duration_sort", "list_google.protobuf.Timestamp_sort", "list_string_sort",
			"list_bytes_sort"),
		// sortBy's helper: sorts the first list by the keys in the second.
		"@sortByAssociatedKeys": bounded(sortBound(1), "list_int_sortByAssociatedKeys", "list_uint_sortByAssociatedKeys",
			"list_double_sortByAssociatedKeys", "list_bool_sortByAssociatedKeys",
			"list_google.protobuf.Duration_sortByAssociatedKeys", "list_google.protobuf.Timestamp_sortByAssociatedKeys",
			"list_string_sortByAssociatedKeys", "list_bytes_sortByAssociatedKeys"),
		"sets.contains":   bounded(setsBound(true, false), "list_sets_contains_list"),
		"sets.intersects": bounded(setsBound(false, true), "list_sets_intersects_list"),
		"sets.equivalent": bounded(setsBound(true, true), "list_sets_equivalent_list"),
		"sum":             bounded(scanListBound, "sum_list"),
		"math.@max": bounded(scanListBound, "math_@max_double", "math_@max_int", "math_@max_uint", "math_@max_double_double",
			"math_@max_int_int", "math_@max_uint_uint", "math_@max_int_uint", "math_@max_int_double",
			"math_@max_double_int", "math_@max_double_uint", "math_@max_uint_int", "math_@max_uint_double",
			"math_@max_list_double", "math_@max_list_int", "math_@max_list_uint"),
		"math.@min": bounded(scanListBound, "math_@min_double", "math_@min_int", "math_@min_uint", "math_@min_double_double",
			"math_@min_int_int", "math_@min_uint_uint", "math_@min_int_uint", "math_@min_int_double",
			"math_@min_double_int", "math_@min_double_uint", "math_@min_uint_int", "math_@min_uint_double",
			"math_@min_list_double", "math_@min_list_int", "math_@min_list_uint"),
		// transformMap's step: an insertion into the accumulator.
		"cel.@mapInsert": bounded(mapInsertBound, "@mapInsert_map_key_value", "@mapInsert_map_map"),

		// bcrypt: a fixed share of the cost limit per hash, and a few per
		// evaluation at most (meter.go).
		"hashPassword": bounded(hashBound, "hashPassword_string"),
	}
}

// guards holds the classification of an environment's functions and the
// implementations a metered call runs.
type guards struct {
	limits Limits
	rules  map[string]rule
	// impls are the environment's implementations, by overload id and by
	// function name, as cel-go's dispatcher holds them.
	impls map[string]*celfn.Overload
	// hashSlots bounds concurrent bcrypt hashing to the number of cores.
	hashSlots chan struct{}
}

// newGuards classifies every function of env. It fails on a function or an
// overload rules does not list, and on a listed one env does not declare
// (a stale table hides mistakes).
func newGuards(env *cel.Env, l Limits) (*guards, error) {
	g := &guards{
		limits:    l,
		rules:     rules(),
		impls:     map[string]*celfn.Overload{},
		hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	fns := env.Functions()
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(fns)) {
		fn := fns[name]
		r, ok := g.rules[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("function %s is not classified", name))
			continue
		}
		declared := map[string]bool{}
		for _, o := range fn.OverloadDecls() {
			declared[o.ID()] = true
			if !slices.Contains(r.overloads, o.ID()) {
				problems = append(problems, fmt.Sprintf("overload %s of %s is not classified", o.ID(), name))
			}
		}
		for _, id := range r.overloads {
			if !declared[id] {
				problems = append(problems, fmt.Sprintf("overload %s of %s is classified but not declared", id, name))
			}
		}
		impls, err := fn.Bindings()
		if err != nil {
			return nil, fmt.Errorf("bindings of %s: %w", name, err)
		}
		for _, impl := range impls {
			g.impls[impl.Operator] = impl
		}
	}
	for _, name := range slices.Sorted(maps.Keys(g.rules)) {
		if _, ok := fns[name]; !ok {
			problems = append(problems, fmt.Sprintf("function %s is classified but not declared", name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("every function must be classified in internal/expr/guard.go: %s", strings.Join(problems, "; "))
	}
	return g, nil
}

// would is "would <verb>" for an exact size, "would <verb> over" for a
// bound the call is at least.
func would(verb string, atLeast bool) string {
	if atLeast {
		return "would " + verb + " over"
	}
	return "would " + verb
}

// check compares a call's bound with the limits and what the evaluation
// has left of its cost limit.
func (l Limits) check(name string, b bound, spent uint64) *LimitError {
	switch {
	case b.bytes > l.MaxValueBytes:
		return &LimitError{limit: ErrValueLimit, message: fmt.Sprintf("%s: the result %s %s; the limit is %s (%s)",
			name, would("be", b.atLeast), formatBytes(b.bytes), formatBytes(l.MaxValueBytes), MaxValueBytesSetting)}
	case b.elements > l.CostLimit:
		return &LimitError{limit: ErrCostLimit, message: fmt.Sprintf(
			"%s: the list would have %s elements, more than an evaluation may walk; the limit is %s (%s)",
			name, formatCount(b.elements), formatCount(l.CostLimit), CostLimitSetting)}
	case b.cost() > l.CostLimit:
		return &LimitError{limit: ErrCostLimit, message: fmt.Sprintf("%s %s %s steps; the cost limit is %s (%s)",
			name, would("take", b.atLeast), formatCount(b.cost()), formatCount(l.CostLimit), CostLimitSetting)}
	case satAdd(spent, b.cost()) > l.CostLimit:
		return &LimitError{limit: ErrCostLimit, message: fmt.Sprintf(
			"cost limit exceeded at %s: the evaluation would spend more than %s (%s)", name, formatCount(l.CostLimit), CostLimitSetting)}
	}
	return nil
}

// cost is what a call is charged: computing its bound, its steps and a
// unit per ten bytes it makes.
func (b bound) cost() uint64 {
	return satAdd(satAdd(b.probe, b.steps), satAdd(scan(b.bytes), 1))
}
