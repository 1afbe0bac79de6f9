package expr

import (
	"fmt"
	"math"

	"github.com/google/cel-go/common/decls"
	"github.com/google/cel-go/common/env"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/stdlib"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Mixed int/double arithmetic.
//
// Inputs are JSON, so every number in them is a CEL double, while a literal
// such as `2` is an int, and CEL has no int × double overloads: `input.qty * 2`
// would fail at run time with "no such overload". The standard library
// implements each arithmetic operator as one "singleton" function that
// dispatches on the operand's traits, and cel-go refuses to merge extra bound
// overloads into a singleton. So the standard library is loaded without these
// operators (arithmeticSubset) and they are declared again here: the standard
// overloads unchanged (same ids, so cost estimation still recognises them),
// plus (int, double) and (double, int) overloads returning double, and one
// binding that promotes a mixed pair to doubles before falling back to the
// standard trait dispatch.
//
// `%` is undefined on doubles in CEL; here any pair of numbers that involves a
// double is computed with math.Mod (result double, sign of the dividend, like
// Go's int %), so `input.n % 2 == 0` works on a JSON number. A zero divisor
// is an error, as it is for ints.

// arithOp is one redeclared operator.
type arithOp struct {
	name string // CEL function name, e.g. _*_
	id   string // overload id prefix of the mixed overloads
}

// arithmetic lists the redeclared operators.
func arithmetic() []arithOp {
	return []arithOp{
		{operators.Add, "add"},
		{operators.Subtract, "subtract"},
		{operators.Multiply, "multiply"},
		{operators.Divide, "divide"},
		{operators.Modulo, "modulo"},
	}
}

// arithmeticSubset removes the redeclared operators from the standard library.
func arithmeticSubset() *env.LibrarySubset {
	sub := &env.LibrarySubset{}
	for _, op := range arithmetic() {
		sub.ExcludeFunctions = append(sub.ExcludeFunctions, &env.Function{Name: op.name})
	}
	return sub
}

// arithmeticDecls declares the arithmetic operators with mixed overloads.
func arithmeticDecls() ([]*decls.FunctionDecl, error) {
	std := map[string]*decls.FunctionDecl{}
	for _, fn := range stdlib.Functions() {
		std[fn.Name()] = fn
	}
	out := make([]*decls.FunctionDecl, 0, 5)
	for _, op := range arithmetic() {
		base, ok := std[op.name]
		if !ok {
			return nil, fmt.Errorf("standard library has no %s", op.name)
		}
		var opts []decls.FunctionOpt
		for _, o := range base.OverloadDecls() {
			opts = append(opts, decls.Overload(o.ID(), o.ArgTypes(), o.ResultType()))
		}
		opts = append(opts,
			decls.Overload(op.id+"_int64_double", []*types.Type{types.IntType, types.DoubleType}, types.DoubleType),
			decls.Overload(op.id+"_double_int64", []*types.Type{types.DoubleType, types.IntType}, types.DoubleType),
		)
		if op.name == operators.Modulo {
			// CEL has no double % double; JSON numbers are all doubles.
			opts = append(opts, decls.Overload("modulo_double",
				[]*types.Type{types.DoubleType, types.DoubleType}, types.DoubleType))
		}
		// No operand trait guard: binding checks the operand types itself
		// (a double has no Modder trait, yet double % int is allowed here).
		opts = append(opts, decls.SingletonBinaryBinding(binding(op.name)))
		fn, err := decls.NewFunction(op.name, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, fn)
	}
	return out, nil
}

// binding returns the runtime implementation of one operator.
func binding(name string) func(lhs, rhs ref.Val) ref.Val {
	return func(lhs, rhs ref.Val) ref.Val {
		if name == operators.Modulo {
			if l, r, ok := promote(lhs, rhs, true); ok {
				if r == 0 {
					return types.NewErr("modulus by zero")
				}
				return types.Double(math.Mod(float64(l), float64(r)))
			}
		} else if l, r, ok := promote(lhs, rhs, false); ok {
			lhs, rhs = l, r
		}
		// A double divided by zero is an infinity (or NaN) in IEEE
		// arithmetic, which JSON cannot carry and which would let a rule
		// such as `value / 0 > 1` pass silently: an error, as for ints.
		if d, ok := rhs.(types.Double); ok && d == 0 && name == operators.Divide {
			if _, isDouble := lhs.(types.Double); isDouble {
				return types.NewErr("division by zero")
			}
		}
		out := standard(name, lhs, rhs)
		// cel-go's numeric types answer a foreign operand with a bare
		// "no such overload" error; say which types met.
		if e, ok := out.(*types.Err); ok && e.Error() == "no such overload" {
			return noSuchOverload(name, lhs, rhs)
		}
		return out
	}
}

// promote turns a mixed int/double pair into two doubles. With bothDoubles it
// also accepts a pair of doubles (for %).
func promote(lhs, rhs ref.Val, bothDoubles bool) (types.Double, types.Double, bool) {
	switch l := lhs.(type) {
	case types.Int:
		if r, ok := rhs.(types.Double); ok {
			return types.Double(l), r, true
		}
	case types.Double:
		switch r := rhs.(type) {
		case types.Int:
			return l, types.Double(r), true
		case types.Double:
			if bothDoubles {
				return l, r, true
			}
		}
	}
	return 0, 0, false
}

// standard is the standard library's trait dispatch for the operator.
func standard(name string, lhs, rhs ref.Val) ref.Val {
	var out ref.Val
	ok := false
	switch name {
	case operators.Add:
		out, ok = viaTrait(lhs, rhs, traits.Adder.Add)
	case operators.Subtract:
		out, ok = viaTrait(lhs, rhs, traits.Subtractor.Subtract)
	case operators.Multiply:
		out, ok = viaTrait(lhs, rhs, traits.Multiplier.Multiply)
	case operators.Divide:
		out, ok = viaTrait(lhs, rhs, traits.Divider.Divide)
	case operators.Modulo:
		out, ok = viaTrait(lhs, rhs, traits.Modder.Modulo)
	}
	if !ok {
		return noSuchOverload(name, lhs, rhs)
	}
	return out
}

// viaTrait applies op when lhs implements the operator's trait T.
func viaTrait[T any](lhs, rhs ref.Val, op func(T, ref.Val) ref.Val) (ref.Val, bool) {
	t, ok := lhs.(T)
	if !ok {
		return nil, false
	}
	return op(t, rhs), true
}

// noSuchOverload names the operand types: "no such overload: string * int"
// tells a user what went wrong; the standard "no such overload" does not.
func noSuchOverload(name string, lhs, rhs ref.Val) ref.Val {
	display, ok := operators.FindReverseBinaryOperator(name)
	if !ok {
		display = name
	}
	return types.NewErr("no such overload: %s %s %s", lhs.Type().TypeName(), display, rhs.Type().TypeName())
}
