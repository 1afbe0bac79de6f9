package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeCondition branches on a CEL bool: its edges say `on: "true"` or
// `on: "false"`.
const TypeCondition = "condition"

// ConditionConfig is the config of a condition node.
//
//	{"expression": "input.amount >= 1000"}
type ConditionConfig struct {
	Expression string `json:"expression"`
}

// ConditionNodeType describes the condition node type.
func ConditionNodeType() interpreter.NodeType {
	return interpreter.NodeType{
		Name:     TypeCondition,
		Kind:     interpreter.KindPure,
		Outcomes: []string{interpreter.OutcomeTrue, interpreter.OutcomeFalse},
		CheckConfig: func(config json.RawMessage, exprs interpreter.ExprChecker) []interpreter.Problem {
			_, problems := compileCondition(config, exprs)
			return problems
		},
	}
}

// Condition runs a condition node. Its outcome is OutcomeTrue or
// OutcomeFalse and its output {"result": bool}.
func (a *Activities) Condition(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
	return a.runNode(ctx, req, a.condition)
}

func (a *Activities) condition(ctx context.Context, node interpreter.Node, vars map[string]any) (any, string, error) {
	cfg, problems := compileCondition(node.Config, a.checker())
	if len(problems) > 0 {
		return nil, "", configError(node, problems)
	}
	result, err := a.Expr.EvalBool(ctx, cfg.Expression, vars)
	if err != nil {
		return nil, "", exprError(fmt.Sprintf("node %q", node.ID), "expression", err)
	}
	outcome := interpreter.OutcomeFalse
	if result {
		outcome = interpreter.OutcomeTrue
	}
	return map[string]any{"result": result}, outcome, nil
}

func compileCondition(raw json.RawMessage, exprs interpreter.ExprChecker) (ConditionConfig, []interpreter.Problem) {
	var cfg ConditionConfig
	if p := decodeConfig(raw, &cfg); p != nil {
		return cfg, []interpreter.Problem{*p}
	}
	ps := &problems{exprs: exprs}
	ps.expression("expression", cfg.Expression)
	return cfg, ps.list
}
