package activities

import (
	"context"
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

// conditionNode is the condition node type. Its outcome is OutcomeTrue or
// OutcomeFalse and its output {"result": bool}.
func conditionNode(a *Activities) spec[ConditionConfig, ConditionConfig] {
	return spec[ConditionConfig, ConditionConfig]{
		Name:         TypeCondition,
		Kind:         interpreter.KindPure,
		ConfigSchema: conditionConfigSchema,
		Outcomes:     []string{interpreter.OutcomeTrue, interpreter.OutcomeFalse},
		Compile: func(cfg ConditionConfig, c *compiling) ConditionConfig {
			c.expression("expression", cfg.Expression)
			return cfg
		},
		Run: a.condition,
	}
}

func (a *Activities) condition(ctx context.Context, node interpreter.Node, cfg ConditionConfig, vars map[string]any) (any, string, error) {
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

// conditionConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const conditionConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["expression"],
	"properties": {
		"expression": {"type": "string", "minLength": 1, "description": "CEL bool: the outcome is \"true\" or \"false\""}
	}
}`
