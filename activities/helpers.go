package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// The interpreter's own local activities. The workflow never evaluates CEL
// (cel-go walks Go maps in random order, so a replay could decide otherwise):
// whatever needs an expression outside a node activity comes here.

// Edges decides which of req.Edges fire for req.Outcome after a node failed
// (its error is errors.<id> in the scope) or a wait finished (its output is
// nodes.<id>). Ids in definition order.
func (a *Activities) Edges(ctx context.Context, req interpreter.EdgesRequest) ([]string, error) {
	return a.fire(ctx, req.Outcome, req.Edges, scopeVars(req.Scope))
}

// Until evaluates a wait node's `until` expression: a CEL timestamp, or a
// string in RFC 3339 format.
func (a *Activities) Until(ctx context.Context, req interpreter.UntilRequest) (time.Time, error) {
	t, err := a.Expr.EvalTime(ctx, req.Expression, scopeVars(req.Scope))
	if err != nil {
		return time.Time{}, exprError("wait", "until", err)
	}
	return t, nil
}

// Output builds the execution's result from the definition's output mapping
// ({key: CEL}). Its JSON size is capped like a node's output.
func (a *Activities) Output(ctx context.Context, req interpreter.OutputRequest) (map[string]any, error) {
	out, err := a.evalMapping(ctx, req.Mapping, scopeVars(req.Scope), "definition", "output.")
	if err != nil {
		return nil, err
	}
	capped, err := a.capOutput("execution output", out)
	if err != nil {
		return nil, err
	}
	m, ok := capped.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("execution output: decoded as %T", capped)
	}
	return m, nil
}

// CallInput evaluates a call node's input mapping ({key: CEL}) over the
// caller's scope: the input of the child execution. Its JSON size is capped
// like a node's output.
func (a *Activities) CallInput(ctx context.Context, req interpreter.OutputRequest) (map[string]any, error) {
	out, err := a.evalMapping(ctx, req.Mapping, scopeVars(req.Scope), "call", "input.")
	if err != nil {
		return nil, err
	}
	capped, err := a.capOutput("call input", out)
	if err != nil {
		return nil, err
	}
	m, ok := capped.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("call input: decoded as %T", capped)
	}
	return m, nil
}
