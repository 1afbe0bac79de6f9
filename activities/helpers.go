package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
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
// like a node's output, and it must match the called definition's
// inputSchema: else a ValidationError with every failing field, as the API
// answers an execute request.
func (a *Activities) CallInput(ctx context.Context, req interpreter.CallInputRequest) (map[string]any, error) {
	var out any = req.Default
	if req.Default == nil {
		m, err := a.evalMapping(ctx, req.Mapping, scopeVars(req.Scope), "call", "input.")
		if err != nil {
			return nil, err
		}
		out = m
	}
	capped, err := a.capOutput("call input", out)
	if err != nil {
		return nil, err
	}
	m, ok := capped.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("call input: decoded as %T", capped)
	}
	if len(req.InputSchema) == 0 {
		return m, nil
	}
	schema, err := interpreter.CompileSchema(req.InputSchema)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the inputSchema of %s does not compile: %v", req.Definition, err), interpreter.ErrConfiguration, nil)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if fields := interpreter.ValidateInput(schema, raw); len(fields) > 0 {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the input does not match the inputSchema of %s", req.Definition), interpreter.ErrValidation, nil, fields)
	}
	return m, nil
}

// LoopStep decides, after req.Done iterations of a loop node, whether its
// until holds (last = the last iteration's output, iteration = req.Done)
// and, when it does not, evaluates the next iteration's input for a
// definition body (iteration = req.Done+1), checked against the body
// definition's inputSchema. Before the first iteration (Done 0) until is
// not evaluated.
func (a *Activities) LoopStep(ctx context.Context, req interpreter.LoopStepRequest) (interpreter.LoopStep, error) {
	if req.Done > 0 {
		req.Scope.Vars = map[string]any{expr.VarIteration: req.Done, expr.VarLast: req.Last}
		done, err := a.Expr.EvalBool(ctx, req.Until, scopeVars(req.Scope))
		if err != nil {
			return interpreter.LoopStep{}, exprError("loop", "until", err)
		}
		if done {
			return interpreter.LoopStep{Done: true}, nil
		}
	}
	if req.Definition == "" {
		return interpreter.LoopStep{}, nil
	}
	req.Scope.Vars = map[string]any{expr.VarIteration: req.Done + 1, expr.VarLast: req.Last}
	var input map[string]any
	if len(req.Input) == 0 {
		input = map[string]any{expr.VarIteration: req.Done + 1, expr.VarLast: req.Last}
	}
	input, err := a.CallInput(ctx, interpreter.CallInputRequest{
		Mapping: req.Input, Scope: req.Scope, Definition: req.Definition, InputSchema: req.InputSchema, Default: input,
	})
	if err != nil {
		return interpreter.LoopStep{}, err
	}
	return interpreter.LoopStep{Input: input}, nil
}

// MapItems evaluates a map node's items: a list of at most req.MaxItems
// elements, else a non-retryable ErrTooManyItems.
func (a *Activities) MapItems(ctx context.Context, req interpreter.MapItemsRequest) ([]any, error) {
	v, err := a.Expr.Eval(ctx, req.Expression, scopeVars(req.Scope))
	if err != nil {
		return nil, exprError("map", "items", err)
	}
	capped, err := a.capOutput("map items", v)
	if err != nil {
		return nil, err
	}
	items, ok := capped.([]any)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("map: items %q is %s, want a list", req.Expression, problem.ValueTypeName(capped)), interpreter.ErrExpression, nil)
	}
	if len(items) > req.MaxItems {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("map: items has %d elements; the node's maxItems is %d", len(items), req.MaxItems), interpreter.ErrTooManyItems, nil)
	}
	return items, nil
}
