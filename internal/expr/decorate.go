package expr

import (
	"fmt"

	celast "github.com/google/cel-go/common/ast"
	celfn "github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// How the guards enter a program's plan (see guard.go): cel-go plans each
// node of the expression and hands it to the decorator, which replaces
// every call of a bounded function with a meteredCall and wraps the step of
// every comprehension in an iterationCharge.

// decorator returns the plan decorator of one program; steps gives the
// charge of an iteration of each comprehension, by the id of its step.
func (g *guards) decorator(steps map[int64]uint64) interpreter.InterpretableDecoratorV2 {
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		if call, ok := i.(interpreter.InterpretableCall); ok {
			metered, err := g.meterCall(call)
			if err != nil {
				return nil, err
			}
			i = metered
		}
		if units, ok := steps[i.ID()]; ok {
			i = &iterationCharge{InterpretableV2: i, units: units}
		}
		return i, nil
	}
}

// meterCall returns the metered form of a call of a bounded function, and
// fixed calls as they are.
func (g *guards) meterCall(call interpreter.InterpretableCall) (interpreter.InterpretableV2, error) {
	name := call.Function()
	r, ok := g.rules[name]
	if !ok {
		// New checked every declared function; this is a call cel-go
		// planned to something else.
		return nil, fmt.Errorf("function %s is not classified in internal/expr/guard.go", name)
	}
	if r.bound == nil {
		return call, nil
	}
	c := &meteredCall{id: call.ID(), function: name, overload: call.OverloadID(), args: call.Args(), bound: r.bound}
	switch name {
	case operators.Equals:
		c.invoke = func(_ *meter, args []ref.Val) ref.Val { return types.Equal(args[0], args[1]) }
	case operators.NotEquals:
		c.invoke = func(_ *meter, args []ref.Val) ref.Val { return types.Bool(types.Equal(args[0], args[1]) != types.True) }
	case hashPasswordFunction:
		c.invoke = func(m *meter, args []ref.Val) ref.Val { return m.hash(args[0]) }
	default:
		// As cel-go's planner finds the implementation: by overload id when
		// the type checker pinned one, else by function name.
		impl := g.impls[c.overload]
		if impl == nil {
			impl = g.impls[name]
		}
		if impl == nil {
			return nil, fmt.Errorf("function %s has no implementation", name)
		}
		c.nonStrict = impl.NonStrict
		c.invoke = func(_ *meter, args []ref.Val) ref.Val { return dispatch(name, impl, args) }
	}
	return c, nil
}

// meteredCall is a call of a bounded function: it evaluates its arguments,
// charges the function's bound to the meter (which stops the evaluation if
// it is over a limit), then runs the implementation.
type meteredCall struct {
	id        int64
	function  string
	overload  string
	args      []interpreter.InterpretableV2
	bound     boundFunc
	nonStrict bool
	invoke    func(m *meter, args []ref.Val) ref.Val
}

// Exec implements interpreter.InterpretableV2, with the argument handling
// of cel-go's own calls: a strict function returns the first error among
// its arguments, or their unknowns, without running.
func (c *meteredCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	args := make([]ref.Val, len(c.args))
	var unknown *types.Unknown
	for i, a := range c.args {
		args[i] = a.Exec(frame)
		if c.nonStrict {
			continue
		}
		if types.IsError(args[i]) {
			return args[i]
		}
		unknown, _ = types.MaybeMergeUnknowns(args[i], unknown)
	}
	if unknown != nil {
		return unknown
	}
	m := meterOf(frame)
	if refused := m.chargeCall(c.function, c.bound, args); refused != nil {
		return types.LabelErrNode(c.id, refused)
	}
	return types.LabelErrNode(c.id, c.invoke(m, args))
}

// Eval implements interpreter.Interpretable.
func (c *meteredCall) Eval(a interpreter.Activation) ref.Val { return c.Exec(interpreter.AsFrame(a)) }

// ID implements interpreter.Interpretable.
func (c *meteredCall) ID() int64 { return c.id }

// Function implements interpreter.InterpretableCall.
func (c *meteredCall) Function() string { return c.function }

// OverloadID implements interpreter.InterpretableCall.
func (c *meteredCall) OverloadID() string { return c.overload }

// Args implements interpreter.InterpretableCall.
func (c *meteredCall) Args() []interpreter.InterpretableV2 { return c.args }

// dispatch runs an implementation as cel-go's planned calls do: by arity,
// after the operand trait check of a trait-dispatched function.
func dispatch(name string, impl *celfn.Overload, args []ref.Val) ref.Val {
	if impl.OperandTrait != 0 && len(args) > 0 {
		arg0 := args[0]
		skip := impl.NonStrict && types.IsUnknownOrError(arg0)
		if !skip && !arg0.Type().HasTrait(impl.OperandTrait) {
			if arg0.Type().HasTrait(traits.ReceiverType) {
				return arg0.(traits.Receiver).Receive(name, impl.Operator, args[1:])
			}
			return types.NewErr("no such overload: %s", name)
		}
	}
	switch {
	case len(args) == 1 && impl.Unary != nil:
		return impl.Unary(args[0])
	case len(args) == 2 && impl.Binary != nil:
		return impl.Binary(args[0], args[1])
	case impl.Function != nil:
		return impl.Function(args...)
	}
	return types.NewErr("no such overload: %s", name)
}

// iterationCharge is the step of a comprehension: each iteration charges
// the size of the loop (its condition and step), an upper bound of the
// nodes it runs apart from metered calls and inner iterations.
type iterationCharge struct {
	interpreter.InterpretableV2
	units uint64
}

// Exec implements interpreter.InterpretableV2.
func (s *iterationCharge) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	meterOf(frame).charge(s.units)
	return s.InterpretableV2.Exec(frame)
}

// Eval implements interpreter.Interpretable.
func (s *iterationCharge) Eval(a interpreter.Activation) ref.Val {
	return s.Exec(interpreter.AsFrame(a))
}

// loopSteps returns, for each comprehension of an expression, the id of
// its step and the charge of one iteration: one plus the nodes of its
// condition and step.
func loopSteps(root celast.Expr) map[int64]uint64 {
	steps := map[int64]uint64{}
	celast.PostOrderVisit(root, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.ComprehensionKind {
			return
		}
		c := e.AsComprehension()
		steps[c.LoopStep().ID()] = 1 + nodes(c.LoopCondition()) + nodes(c.LoopStep())
	}))
	return steps
}

// nodes counts the nodes of an expression.
func nodes(e celast.Expr) uint64 {
	var n uint64
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(celast.Expr) { n++ }))
	return n
}
