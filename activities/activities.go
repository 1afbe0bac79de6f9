// Package activities holds one Temporal activity per node type, and the
// interpreter's helper activities (edges, until, output).
//
// Each node type is one spec in its own file (see spec and the list in
// nodeTypes). Every node activity has the same frame (see runNode): it
// receives an interpreter.NodeRequest, compiles the node's config (once per
// definition version), runs its node type's logic, caps the output's JSON
// size, decides which outgoing edges fire (edge conditions are CEL, and CEL
// never runs in workflow code) and returns an interpreter.NodeResult.
//
// Failures are classified with the error types of package interpreter, all
// non-retryable because running the node again would fail the same way:
// ErrValidation, ErrBusiness, ErrExpression (a CEL expression failed at run
// time), ErrConfiguration (a config that registration should have rejected)
// and ErrPayloadTooBig. Anything else an activity returns (a cancelled context
// for instance) is left for the retry policy to judge.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Activities holds what every activity needs. Register them with
// RegisterPure and RegisterIO; never call them outside an activity context.
type Activities struct {
	// Expr compiles and evaluates expressions. Required.
	Expr *expr.Env
	// MaxOutputBytes caps the JSON size of a node's output and of the
	// execution output. Outputs are recorded in the workflow history (2 MB
	// per payload, 50 MB per run), and every later node carries them in its
	// scope: big data should travel as references. Optional: default
	// NODE_OUTPUT_MAX_BYTES's (internal/config).
	MaxOutputBytes int

	configsOnce     sync.Once
	compiledConfigs *configCache // see configs
}

func (a *Activities) maxOutputBytes() int {
	if a.MaxOutputBytes > 0 {
		return a.MaxOutputBytes
	}
	return config.Defaults().NodeOutputMax
}

// nodeLogic is the part of a node activity that differs per node type: it
// returns the node's output and outcome (OutcomeSuccess unless the type has
// its own outcomes).
type nodeLogic func(ctx context.Context, node interpreter.Node, vars map[string]any) (output any, outcome string, err error)

// runNode is the common frame of every node activity: logic, output cap,
// fired edges, attempt.
func (a *Activities) runNode(ctx context.Context, req interpreter.NodeRequest, logic nodeLogic) (interpreter.NodeResult, error) {
	vars := scopeVars(req.Scope)
	out, outcome, err := logic(ctx, req.Node, vars)
	if err != nil {
		return interpreter.NodeResult{}, err
	}
	out, err = a.capOutput(fmt.Sprintf("node %q", req.Node.ID), out)
	if err != nil {
		return interpreter.NodeResult{}, err
	}
	// Edge conditions may read the node's own output as nodes.<id>.
	fired, err := a.fire(ctx, outcome, req.Edges, withNode(vars, req.Node.ID, out))
	if err != nil {
		return interpreter.NodeResult{}, err
	}
	activity.GetLogger(ctx).Debug("node finished",
		"nodeId", req.Node.ID, "nodeType", req.Node.Type, "outcome", outcome, "fired", fired)
	return interpreter.NodeResult{
		Output:  out,
		Outcome: outcome,
		Fired:   fired,
		Attempt: activity.GetInfo(ctx).Attempt,
	}, nil
}

// fire returns the ids of the edges that fire, in definition order: the
// edges outcome takes (interpreter.EdgesOn) whose Condition is empty or
// true.
func (a *Activities) fire(ctx context.Context, outcome string, edges []interpreter.Edge, vars map[string]any) ([]string, error) {
	fired := []string{}
	for _, e := range interpreter.EdgesOn(edges, outcome) {
		if e.Condition != "" {
			ok, err := a.Expr.EvalBool(ctx, e.Condition, vars)
			if err != nil {
				return nil, exprError(fmt.Sprintf("edge %q from node %q", e.ID, e.Source), "condition", err)
			}
			if !ok {
				continue
			}
		}
		fired = append(fired, e.ID)
	}
	return fired, nil
}

// capOutput measures v as JSON and returns it as the JSON-decoded value the
// next node will see (numbers become float64), or ErrPayloadTooBig.
// Normalising here means an edge condition reads the output exactly as any
// later expression will.
func (a *Activities) capOutput(what string, v any) (any, error) {
	// Measured before it is marshalled: values can share elements (a
	// transform mapping many keys to one big input string), and marshalling
	// writes every copy.
	if _, over := expr.JSONSize(v, uint64(a.maxOutputBytes())); over {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: output is over %d bytes of JSON; the limit is %d (pass references to big data, not the data)",
				what, a.maxOutputBytes(), a.maxOutputBytes()),
			interpreter.ErrPayloadTooBig, nil)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: output is not JSON: %v", what, err), interpreter.ErrConfiguration, nil)
	}
	if limit := a.maxOutputBytes(); len(data) > limit {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: output is %d bytes of JSON; the limit is %d (pass references to big data, not the data)",
				what, len(data), limit),
			interpreter.ErrPayloadTooBig, nil)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: decode output: %w", what, err)
	}
	return out, nil
}

// scopeVars builds the variables of an expression from a scope. Activity
// inputs arrive JSON-decoded, so numbers are float64 and absent maps are nil;
// nil maps become empty ones so `has(nodes.x)` is false rather than an error.
func scopeVars(s interpreter.Scope) map[string]any {
	vars := map[string]any{
		expr.VarInput:  s.Input,
		expr.VarNodes:  orEmpty(s.Nodes),
		expr.VarErrors: orEmpty(s.Errors),
		expr.VarExecution: map[string]any{
			"id":           s.Execution.ID,
			"definitionId": s.Execution.DefinitionID,
			"version":      s.Execution.Version,
			"startedAt":    s.Execution.StartedAt, // a CEL timestamp
		},
	}
	// A loop or map body's variables (item, index, iteration, last).
	for _, name := range expr.BodyVariables {
		if v, ok := s.Vars[name]; ok {
			vars[name] = v
		}
	}
	return vars
}

// withNode returns a copy of vars where nodes.<id> is output. The caller's
// maps are not modified.
func withNode(vars map[string]any, id string, output any) map[string]any {
	nodes := map[string]any{}
	if old, ok := vars[expr.VarNodes].(map[string]any); ok {
		for k, v := range old {
			nodes[k] = v
		}
	}
	nodes[id] = output
	return with(vars, expr.VarNodes, nodes)
}

// with returns a shallow copy of vars with name bound to v.
func with(vars map[string]any, name string, v any) map[string]any {
	out := make(map[string]any, len(vars)+1)
	for k, x := range vars {
		out[k] = x
	}
	out[name] = v
	return out
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// exprError classifies an expression failure. An *expr.EvalError (the
// expression itself failed) becomes a non-retryable ErrExpression naming the
// subject (a node, an edge) and the config field; anything else, such as a
// cancelled context, is returned as it is.
func exprError(subject, field string, err error) error {
	var evalErr *expr.EvalError
	if !errors.As(err, &evalErr) {
		return err
	}
	// No cause: the message says it all, and the interpreter reports the
	// innermost message of an error chain.
	// e.g. node "shape": mapping.total "input.qty * input.name": no such overload: double * string
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s: %s %s: %v", subject, field, evalErr.Quoted(), evalErr.Err), interpreter.ErrExpression, nil)
}

// configError reports a node whose config is unusable at run time (normally
// caught at registration).
func configError(node interpreter.Node, problems []interpreter.Problem) error {
	msg := fmt.Sprintf("node %q (%s): invalid config", node.ID, node.Type)
	for i, p := range problems {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		if p.Path != "" {
			msg += sep + p.Path + ": " + p.Message
		} else {
			msg += sep + p.Message
		}
	}
	return temporal.NewNonRetryableApplicationError(msg, interpreter.ErrConfiguration, nil, problems)
}
