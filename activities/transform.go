package activities

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeTransform builds an object from CEL expressions.
const TypeTransform = "transform"

// TransformConfig is the config of a transform node: each key of the output
// is the value of its expression.
//
//	{"mapping": {"total": "input.quantity * input.price", "email": "input.email.lowerAscii()"}}
type TransformConfig struct {
	Mapping map[string]string `json:"mapping"`
}

// transformNode is the transform node type; a node's output is the mapped
// object.
func transformNode(a *Activities) spec[TransformConfig, TransformConfig] {
	return spec[TransformConfig, TransformConfig]{Name: TypeTransform, Kind: interpreter.KindPure,
		ConfigSchema: transformConfigSchema, Compile: compileTransform, Run: a.transform}
}

func (a *Activities) transform(ctx context.Context, node interpreter.Node, cfg TransformConfig, vars map[string]any) (any, string, error) {
	out, err := a.evalMapping(ctx, cfg.Mapping, vars, fmt.Sprintf("node %q", node.ID), "mapping.")
	if err != nil {
		return nil, "", err
	}
	return out, interpreter.OutcomeSuccess, nil
}

// evalMapping evaluates {key: CEL} into an object. Keys are visited sorted,
// so the first error reported is always the same one.
func (a *Activities) evalMapping(ctx context.Context, mapping map[string]string, vars map[string]any, subject, fieldPrefix string) (map[string]any, error) {
	out := make(map[string]any, len(mapping))
	for _, key := range slices.Sorted(maps.Keys(mapping)) {
		v, err := a.Expr.Eval(ctx, mapping[key], vars)
		if err != nil {
			return nil, exprError(subject, fieldPrefix+key, err)
		}
		out[key] = v
	}
	return out, nil
}

// compileTransform checks a transform config, reporting every problem (in
// key order).
func compileTransform(cfg TransformConfig, c *compiling) TransformConfig {
	if len(cfg.Mapping) == 0 {
		c.Add("mapping", interpreter.CodeRequired, "mapping needs at least one key")
	}
	c.expressions("mapping", "key", cfg.Mapping)
	return cfg
}

// transformConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const transformConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["mapping"],
	"properties": {
		"mapping": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string", "description": "CEL"}}
	}
}`
