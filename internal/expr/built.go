package expr

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// checkBuiltValues measures the values an expression builds without a call,
// where elements can be shared: list and map literals, and the results of
// comprehensions (map, filter, cel.bind, transformList…). A literal of ten
// references to a big list is cheap to build and ten times the list to
// compare, convert or encode, and nested cel.bind makes that exponential;
// measuring each built value (valueSize, which stops past the limit) keeps
// every value under limit. The comprehension nodes themselves are left
// alone (cel-go makes them interruptible by their type): their result
// expression is measured instead.
func checkBuiltValues(checked *cel.Ast, limit uint64) interpreter.InterpretableDecoratorV2 {
	ids := map[int64]bool{}
	var visit func(e ast.Expr)
	visit = func(e ast.Expr) {
		switch e.Kind() {
		case ast.ListKind:
			ids[e.ID()] = true
			for _, elem := range e.AsList().Elements() {
				visit(elem)
			}
		case ast.MapKind:
			ids[e.ID()] = true
			for _, entry := range e.AsMap().Entries() {
				visit(entry.AsMapEntry().Key())
				visit(entry.AsMapEntry().Value())
			}
		case ast.StructKind:
			ids[e.ID()] = true
			for _, f := range e.AsStruct().Fields() {
				visit(f.AsStructField().Value())
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			ids[c.Result().ID()] = true
			for _, sub := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
				visit(sub)
			}
		case ast.CallKind:
			call := e.AsCall()
			if call.IsMemberFunction() {
				visit(call.Target())
			}
			for _, arg := range call.Args() {
				visit(arg)
			}
		case ast.SelectKind:
			visit(e.AsSelect().Operand())
		}
	}
	visit(checked.NativeRep().Expr())
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		if !ids[i.ID()] {
			return i, nil
		}
		return &sizeChecked{inner: i, limit: limit}, nil
	}
}

// sizeChecked fails a built value over the limit.
type sizeChecked struct {
	inner interpreter.InterpretableV2
	limit uint64
}

func (s *sizeChecked) ID() int64 { return s.inner.ID() }

func (s *sizeChecked) Eval(a interpreter.Activation) ref.Val { return s.check(s.inner.Eval(a)) }

func (s *sizeChecked) Exec(f *interpreter.ExecutionFrame) ref.Val { return s.check(s.inner.Exec(f)) }

func (s *sizeChecked) check(v ref.Val) ref.Val {
	switch v.(type) {
	case *types.Err, *types.Unknown:
		return v
	}
	if size := valueSize(v, s.limit); size > s.limit {
		return types.WrapErr(fmt.Errorf("%w: a value built by the expression is over %s as JSON; the limit is %s (EXPR_MAX_VALUE_BYTES)",
			ErrValueTooLarge, formatBytes(size), formatBytes(s.limit)))
	}
	return v
}
