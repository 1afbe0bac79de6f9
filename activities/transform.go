package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

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

// TransformNodeType describes the transform node type.
func TransformNodeType() interpreter.NodeType {
	return interpreter.NodeType{
		Name: TypeTransform,
		Kind: interpreter.KindPure,
		CheckConfig: func(config json.RawMessage, exprs interpreter.ExprChecker) []interpreter.Problem {
			_, problems := compileTransform(config, exprs)
			return problems
		},
	}
}

// Transform runs a transform node; its output is the mapped object.
func (a *Activities) Transform(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
	return a.runNode(ctx, req, a.transform)
}

func (a *Activities) transform(ctx context.Context, node interpreter.Node, vars map[string]any) (any, string, error) {
	cfg, problems := compileTransform(node.Config, a.checker())
	if len(problems) > 0 {
		return nil, "", configError(node, problems)
	}
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

// compileTransform decodes and checks a transform config, reporting every
// problem (in key order).
func compileTransform(raw json.RawMessage, exprs interpreter.ExprChecker) (TransformConfig, []interpreter.Problem) {
	var cfg TransformConfig
	if p := decodeConfig(raw, &cfg); p != nil {
		return cfg, []interpreter.Problem{*p}
	}
	ps := &problems{exprs: exprs}
	if len(cfg.Mapping) == 0 {
		ps.add("mapping", interpreter.CodeRequired, "mapping needs at least one key")
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Mapping)) {
		if strings.TrimSpace(key) == "" {
			ps.add("mapping", interpreter.CodeInvalidConfig, "mapping has an empty key")
			continue
		}
		ps.expression("mapping."+key, cfg.Mapping[key])
	}
	return cfg, ps.list
}
