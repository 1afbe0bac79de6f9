// Package expr is the CEL environment every expression of a definition is
// compiled and evaluated in: edge conditions, transform mappings, validation
// targets and rules, wait `until` timestamps and the definition's output.
//
// The environment is deliberately small and side-effect free: the standard
// library, a few safe extensions (strings, math, encoders, lists, sets,
// bindings, optionals, two-variable comprehensions) and no clock, randomness
// or I/O, so an expression evaluates to the same value wherever it runs.
// Every evaluation is bounded in steps, in memory and by the caller's
// context; see guard.go for how.
//
// Variables:
//
//	input      dyn               the execution's input
//	nodes      map(string, dyn)  node id -> output of a completed node
//	errors     map(string, dyn)  node id -> error of a failed node
//	execution  map(string, dyn)  id, definitionId, version, startedAt (timestamp)
//	value      dyn               the field under test in a validation `expr` rule;
//	                             null everywhere else
//	item       dyn               the element a map body (or a database_query
//	                             forEach statement) runs for
//	index      dyn               its position in the list (0-based), in a map body
//	iteration  dyn               in a loop body: the iteration running (1-based);
//	                             in a loop's until: the iterations done
//	last       dyn               in a loop: the previous iteration's output
//
// A variable the caller does not bind defaults to null (input, value) or to an
// empty map (nodes, errors, execution), so `has(nodes.x)` is simply false.
//
// JSON numbers reach CEL as double while literals such as `2` are int. CEL has
// no mixed int/double arithmetic, so this environment adds it (see arith.go):
// `input.quantity * 2` and `input.amount * 0.9` are doubles.
package expr

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Limits bound what an expression may cost. The zero value of a field means
// its default (see DefaultLimits).
type Limits struct {
	// CostLimit is the maximum runtime cost of one evaluation (units of
	// roughly one per node a comprehension iteration runs, per element a
	// function walks and per ten bytes it reads or writes; see guard.go). A
	// call that would take the evaluation over it is refused before it runs.
	// Optional: default 1,000,000 (at most about a quarter of a second of one
	// core, usually much less). Setting: EXPR_COST_LIMIT.
	CostLimit uint64
	// MaxValueBytes is the largest value one call may build (a string, bytes,
	// or a list at 16 bytes an element), checked before the call runs, and
	// the largest result of an evaluation, counted as JSON. Optional: default
	// 2 MiB (twice the default request body, so a value derived from a whole
	// input fits). Setting: EXPR_MAX_VALUE_BYTES.
	MaxValueBytes uint64
	// MaxLength is the maximum length of an expression's source in characters
	// (Unicode code points). Optional: default 4096.
	MaxLength int
	// CacheSize is the number of compiled programs kept. Optional: default 1000.
	CacheSize int
	// CacheTTL is how long a compiled program stays cached. Optional: default 1h.
	CacheTTL time.Duration
}

// DefaultLimits returns the limits used for zero fields of Limits.
func DefaultLimits() Limits {
	return Limits{
		CostLimit:     1_000_000,
		MaxValueBytes: 2 << 20,
		MaxLength:     4096,
		CacheSize:     1000,
		CacheTTL:      time.Hour,
	}
}

// withDefaults fills the zero fields of l.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.CostLimit == 0 {
		l.CostLimit = d.CostLimit
	}
	if l.MaxValueBytes == 0 {
		l.MaxValueBytes = d.MaxValueBytes
	}
	if l.MaxLength <= 0 {
		l.MaxLength = d.MaxLength
	}
	if l.CacheSize <= 0 {
		l.CacheSize = d.CacheSize
	}
	if l.CacheTTL <= 0 {
		l.CacheTTL = d.CacheTTL
	}
	return l
}

const (
	// parserRecursionLimit bounds the nesting depth of an expression; deep
	// nesting costs stack in the parser, checker and interpreter.
	parserRecursionLimit = 100
	// expressionNodeLimit bounds the size of the AST after macro expansion.
	expressionNodeLimit = 10_000
	// interruptCheckFrequency is how many comprehension iterations run between
	// two checks of the context, so a cancelled activity stops evaluating.
	interruptCheckFrequency = 100
)

// Variable names, as expressions spell them.
const (
	VarInput     = "input"
	VarNodes     = "nodes"
	VarErrors    = "errors"
	VarExecution = "execution"
	VarValue     = "value"
	// VarItem is the element a map body or a database_query node with
	// forEach is running for.
	VarItem = "item"
	// VarIndex is the position of the element a map body runs for.
	VarIndex = "index"
	// VarIteration is a loop's iteration number (1-based).
	VarIteration = "iteration"
	// VarLast is a loop's previous iteration's output.
	VarLast = "last"
)

// BodyVariables are the variables a loop or map node binds for its body
// (interpreter.Scope.Vars), in a fixed order.
var BodyVariables = []string{VarItem, VarIndex, VarIteration, VarLast}

// Env compiles and evaluates expressions. It is safe for concurrent use; build
// one per process and share it.
type Env struct {
	env    *cel.Env
	limits Limits
	// defaults are bound under every evaluation, so an unbound variable reads
	// as null or an empty map instead of failing with "no such attribute".
	defaults map[string]any
	// guards bound every call the environment can make (guard.go).
	guards *guards
	cache  *expirable.LRU[string, cel.Program]
	hits   atomic.Uint64
	misses atomic.Uint64
}

// New builds an environment with the given limits (zero fields take their
// defaults). It fails if a function of the environment is not classified in
// guard.go, so no function reaches expressions unbounded.
func New(l Limits) (*Env, error) {
	return newWith(l)
}

// newWith is New with extra environment options, so a test can add a
// function and watch New refuse it.
func newWith(l Limits, extra ...cel.EnvOption) (*Env, error) {
	l = l.withDefaults()
	opts := []cel.EnvOption{
		// The standard library minus the arithmetic operators, which arith.go
		// declares again with mixed int/double overloads.
		cel.StdLib(cel.StdLibSubset(arithmeticSubset())),
		cel.EagerlyValidateDeclarations(true),
		// `size(x) > 1.5` and `input.amount >= 1000` type-check.
		cel.CrossTypeNumericComparisons(true),
		// Timestamp accessors (getHours, …) use UTC unless given a zone, so the
		// result does not depend on the worker's local time zone.
		cel.DefaultUTCTimeZone(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Math(),
		ext.Encoders(),
		ext.Lists(),
		ext.Sets(),
		ext.Bindings(),
		ext.TwoVarComprehensions(),
		cel.Variable(VarInput, cel.DynType),
		cel.Variable(VarNodes, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarErrors, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarExecution, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarValue, cel.DynType),
		cel.Variable(VarItem, cel.DynType),
		cel.Variable(VarIndex, cel.DynType),
		cel.Variable(VarIteration, cel.DynType),
		cel.Variable(VarLast, cel.DynType),
		cel.ParserRecursionLimit(parserRecursionLimit),
		cel.ParserExpressionSizeLimit(l.MaxLength),
		cel.ExpressionNodeLimit(expressionNodeLimit),
	}
	arith, err := arithmeticDecls()
	if err != nil {
		return nil, fmt.Errorf("expr: declare arithmetic: %w", err)
	}
	opts = append(opts, cel.FunctionDecls(arith...))
	opts = append(opts, functions()...)
	opts = append(opts, extra...)

	env, err := cel.NewCustomEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("expr: build CEL environment: %w", err)
	}
	g, err := newGuards(env, l)
	if err != nil {
		return nil, fmt.Errorf("expr: %w", err)
	}
	return &Env{
		env:    env,
		limits: l,
		guards: g,
		defaults: map[string]any{
			VarInput:     nil,
			VarNodes:     map[string]any{},
			VarErrors:    map[string]any{},
			VarExecution: map[string]any{},
			VarValue:     nil,
			VarItem:      nil,
			VarIndex:     nil,
			VarIteration: nil,
			VarLast:      nil,
		},
		cache: expirable.NewLRU[string, cel.Program](l.CacheSize, nil, l.CacheTTL),
	}, nil
}

// Limits returns the limits in force (defaults filled in).
func (e *Env) Limits() Limits { return e.limits }

// Check compiles src (parse and type-check) without running it. The error, a
// *CompileError, carries CEL's own message, fit for a registration problem.
// A program that compiles is cached for Eval.
func (e *Env) Check(src string) error {
	_, err := e.program(src)
	return err
}

// program returns the compiled program of src, from the cache when possible.
func (e *Env) program(src string) (cel.Program, error) {
	if prg, ok := e.cache.Get(src); ok {
		e.hits.Add(1)
		return prg, nil
	}
	e.misses.Add(1)
	prg, err := e.compile(src)
	if err != nil {
		// Failures are not cached: they are rare (registration rejects them)
		// and caching them would let a bad expression evict good ones.
		return nil, err
	}
	e.cache.Add(src, prg)
	return prg, nil
}

func (e *Env) compile(src string) (cel.Program, error) {
	if n := len([]rune(src)); n > e.limits.MaxLength {
		return nil, &CompileError{Expr: src, Message: fmt.Sprintf(
			"expression is %d characters long; the limit is %d", n, e.limits.MaxLength)}
	}
	ast, iss := e.env.Compile(src)
	if iss.Err() != nil {
		return nil, &CompileError{Expr: src, Message: iss.String()}
	}
	prg, err := e.env.Program(ast,
		cel.CustomDecoratorV2(e.guards.decorator(loopSteps(ast.NativeRep().Expr()))),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
		cel.Globals(e.defaults),
	)
	if err != nil {
		return nil, &CompileError{Expr: src, Message: err.Error()}
	}
	return prg, nil
}

// CacheStats describes the compiled-program cache, for the statistics endpoint.
type CacheStats struct {
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	Size   int    `json:"size"`
}

// HitRate is Hits / (Hits + Misses), 0 before any lookup.
func (s CacheStats) HitRate() float64 {
	total := s.Hits + s.Misses
	if total == 0 {
		return 0
	}
	return float64(s.Hits) / float64(total)
}

// CacheStats returns the cache counters since New.
func (e *Env) CacheStats() CacheStats {
	return CacheStats{Hits: e.hits.Load(), Misses: e.misses.Load(), Size: e.cache.Len()}
}
