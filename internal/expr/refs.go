package expr

import (
	"slices"

	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
)

// References returns the parts of the scope variables (input, nodes, errors,
// execution) that src reads, as paths that start with the variable's name:
// ["input", "email"] for `input.email`, ["nodes", "charge", "id"] for
// `nodes.charge.id`, ["input"] when the expression reads the whole input.
//
// A path stops where the expression stops naming fields with constants: for
// `input.items[0].price` and `input[input.key]` the path is input.items and
// input, so evaluating src against a scope that holds only the returned
// paths gives the same result (or the same error) as against the whole
// scope. Names bound inside the expression (comprehension variables,
// cel.bind) hide the variables of the same name. A path is listed once, in
// the order the expression first reads it; a path covered by a shorter one
// is dropped.
//
// The interpreter uses it to send each node only what its expressions
// read, so a node's history events grow with what it uses rather than with
// the whole execution.
func (e *Env) References(src string) ([][]string, error) {
	parsed, iss := e.env.Parse(src)
	if iss.Err() != nil {
		return nil, &CompileError{Expr: src, Message: iss.String()}
	}
	w := refWalker{}
	w.walk(parsed.NativeRep().Expr())
	return w.paths, nil
}

// scopeVariables are the variables whose reads References reports; value
// and item are bound by the node while it runs, not carried in its scope.
var scopeVariables = []string{VarInput, VarNodes, VarErrors, VarExecution}

type refWalker struct {
	// hidden counts, per name, the enclosing comprehensions binding it.
	hidden map[string]int
	paths  [][]string
}

func (w *refWalker) walk(e ast.Expr) {
	switch e.Kind() {
	case ast.IdentKind:
		w.use(e.AsIdent(), nil)
	case ast.SelectKind:
		if w.usePath(e) {
			return
		}
		w.walk(e.AsSelect().Operand())
	case ast.CallKind:
		if w.usePath(e) {
			return
		}
		call := e.AsCall()
		if call.IsMemberFunction() {
			w.walk(call.Target())
		}
		for _, arg := range call.Args() {
			w.walk(arg)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		w.walk(c.IterRange())
		w.walk(c.AccuInit())
		bound := []string{c.IterVar(), c.AccuVar()}
		if c.HasIterVar2() {
			bound = append(bound, c.IterVar2())
		}
		w.hide(bound, 1)
		w.walk(c.LoopCondition())
		w.walk(c.LoopStep())
		w.walk(c.Result())
		w.hide(bound, -1)
	case ast.ListKind:
		for _, elem := range e.AsList().Elements() {
			w.walk(elem)
		}
	case ast.MapKind:
		for _, entry := range e.AsMap().Entries() {
			m := entry.AsMapEntry()
			w.walk(m.Key())
			w.walk(m.Value())
		}
	case ast.StructKind:
		for _, field := range e.AsStruct().Fields() {
			w.walk(field.AsStructField().Value())
		}
	}
}

func (w *refWalker) hide(names []string, delta int) {
	if w.hidden == nil {
		w.hidden = map[string]int{}
	}
	for _, n := range names {
		w.hidden[n] += delta
	}
}

// usePath records e if it is a chain of constant field accesses on an
// identifier (input.a.b, input["a"], input.?a, nodes.x.y) and reports
// whether it did.
func (w *refWalker) usePath(e ast.Expr) bool {
	root, path, ok := fieldPath(e)
	if !ok {
		return false
	}
	w.use(root, path)
	return true
}

// use records a read of path under the variable name, unless name is not
// a scope variable or is hidden by a comprehension.
func (w *refWalker) use(name string, path []string) {
	if !slices.Contains(scopeVariables, name) || w.hidden[name] > 0 {
		return
	}
	full := append([]string{name}, path...)
	for _, p := range w.paths {
		if isPrefix(p, full) {
			return // already read, whole or further up
		}
	}
	w.paths = slices.DeleteFunc(w.paths, func(p []string) bool { return isPrefix(full, p) })
	w.paths = append(w.paths, full)
}

func isPrefix(prefix, path []string) bool {
	return len(prefix) <= len(path) && slices.Equal(prefix, path[:len(prefix)])
}

// fieldPath returns the identifier at the root of e and the constant field
// names on the way from it to e, when e is nothing but such a chain.
func fieldPath(e ast.Expr) (root string, path []string, ok bool) {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent(), nil, true
	case ast.SelectKind:
		sel := e.AsSelect()
		root, path, ok = fieldPath(sel.Operand())
		return root, append(slices.Clip(path), sel.FieldName()), ok
	case ast.CallKind:
		call := e.AsCall()
		args := call.Args()
		switch call.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if len(args) != 2 || args[1].Kind() != ast.LiteralKind {
				return "", nil, false
			}
			key, isString := args[1].AsLiteral().(types.String)
			if !isString {
				return "", nil, false
			}
			root, path, ok = fieldPath(args[0])
			return root, append(slices.Clip(path), string(key)), ok
		}
	}
	return "", nil, false
}
