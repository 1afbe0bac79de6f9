package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeValidation checks fields of the input (or of a CEL target) against
// rules and reports every failure at once.
const TypeValidation = "validation"

// ValidationConfig is the config of a validation node.
//
//	{"target": "nodes.fetch.body",            // optional CEL, default: input
//	 "rules": [{"field": "email", "operator": "email", "message": "Invalid email"},
//	           {"field": "address.zip", "operator": "pattern", "value": "^[0-9]{5}$"}]}
type ValidationConfig struct {
	Rules  []ValidationRule `json:"rules"`
	Target string           `json:"target,omitempty"`
}

// ValidationRule is one check on one field.
//
// Field is a dotted path into the target ("address.zip"); a segment that is a
// number indexes a list ("items.0.id"). Operators and their value:
//
//	required            field present, not null, not ""      (value: omitted or true)
//	email               a plain address "user@example.com"   (value: omitted or true)
//	minLength/maxLength string length in characters, or list length (value: integer >= 0)
//	pattern             Go regexp (RE2), unanchored: write ^…$  (value: string)
//	min/max             number bounds, inclusive              (value: number)
//	oneOf               equal to one of the values            (value: list)
//	type                string|number|integer|boolean|object|array|null (value: string)
//	expr                CEL bool expression; `value` holds the field (value: string)
//
// A field that is absent or null skips every rule but required. Message
// replaces the rule's default message.
type ValidationRule struct {
	Field    string          `json:"field"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value,omitempty"`
	Message  string          `json:"message,omitempty"`
}

// validationNode is the validation node type. On success a node's output is
// the validated target (the input by default), so later nodes can read
// nodes.<id>.<field>. On failure it returns a non-retryable ErrValidation
// whose details are []interpreter.FieldError, one per failed rule, in rule
// order.
func validationNode(a *Activities) spec[ValidationConfig, validation] {
	return spec[ValidationConfig, validation]{
		Name:         TypeValidation,
		Kind:         interpreter.KindPure,
		ConfigSchema: validationConfigSchema,
		Compile:      compileValidation,
		// Without a target the node checks, and outputs, the whole input.
		ImplicitReads: func(cfg ValidationConfig) []string {
			if cfg.Target == "" {
				return []string{expr.VarInput}
			}
			return nil
		},
		Run: a.validate,
	}
}

// validation is a checked config, ready to run.
type validation struct {
	target string // CEL; "" means input
	rules  []rule
}

// rule is a checked ValidationRule.
type rule struct {
	index   int
	field   string
	path    []string
	op      string
	message string
	check   ruleCheck // nil for required
}

// ruleCheck tests a present, non-null field value. It returns "" when the
// value passes, else the default failure message; err is only a cancelled
// evaluation (expr rules: an expression that fails on the value fails the
// rule).
type ruleCheck func(ctx context.Context, a *Activities, v any, vars map[string]any) (msg string, err error)

func (a *Activities) validate(ctx context.Context, node interpreter.Node, cfg validation, vars map[string]any) (any, string, error) {
	target := vars["input"]
	if cfg.target != "" {
		v, err := a.Expr.Eval(ctx, cfg.target, vars)
		if err != nil {
			return nil, "", exprError(fmt.Sprintf("node %q", node.ID), "target", err)
		}
		// Give the rules the JSON shape later nodes will see (CEL ints
		// become float64, and so on).
		if target, err = a.capOutput(fmt.Sprintf("node %q: target", node.ID), v); err != nil {
			return nil, "", err
		}
	}

	var failures []interpreter.FieldError
	for _, r := range cfg.rules {
		v, present := interpreter.LookupPath(target, r.path)
		present = present && v != nil
		var msg string
		switch {
		case r.op == opRequired:
			if !present || v == "" {
				msg = "is required"
			}
		case !present:
			continue // optional and absent
		default:
			var err error
			msg, err = r.check(ctx, a, v, vars)
			if err != nil {
				// The expression's own fault (a definition error), or a
				// cancelled evaluation.
				return nil, "", exprError(fmt.Sprintf("node %q", node.ID), fmt.Sprintf("rules[%d] (field %s)", r.index, r.field), err)
			}
		}
		if msg == "" {
			continue
		}
		if r.message != "" {
			msg = r.message
		}
		failures = append(failures, interpreter.FieldError{Field: r.field, Message: msg})
	}
	if len(failures) > 0 {
		return nil, "", validationError(node, failures)
	}
	return target, interpreter.OutcomeSuccess, nil
}

// validationError is the non-retryable ErrValidation of a node, its message
// listing every failure, its details the []interpreter.FieldError.
func validationError(node interpreter.Node, failures []interpreter.FieldError) error {
	parts := make([]string, len(failures))
	for i, f := range failures {
		parts[i] = f.Field + ": " + f.Message
	}
	msg := fmt.Sprintf("validation failed: %s", strings.Join(parts, "; "))
	return temporal.NewNonRetryableApplicationError(msg, interpreter.ErrValidation, nil, failures)
}

// compileValidation checks a validation config, reporting every problem.
func compileValidation(cfg ValidationConfig, c *compiling) validation {
	out := validation{target: cfg.Target}
	if cfg.Target != "" {
		c.expression("target", cfg.Target)
	}
	if len(cfg.Rules) == 0 {
		c.Add("rules", interpreter.CodeRequired, "at least one rule is required")
	}
	for i, r := range cfg.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		compiled := rule{index: i, field: r.Field, op: r.Operator, message: r.Message}
		if path, ok := parseFieldPath(r.Field); ok {
			compiled.path = path
		} else if r.Field == "" {
			c.Add(at+".field", interpreter.CodeRequired, "field is required")
		} else {
			c.Add(at+".field", interpreter.CodeInvalidConfig, "field %q is not a dotted path such as address.zip", r.Field)
		}
		if r.Operator == "" {
			c.Add(at+".operator", interpreter.CodeRequired, "operator is required")
		} else {
			compiled.check = compileOperator(c, at, r)
		}
		out.rules = append(out.rules, compiled)
	}
	return out
}

// parseFieldPath splits "address.zip" into its segments.
func parseFieldPath(field string) ([]string, bool) {
	if field == "" {
		return nil, false
	}
	path := strings.Split(field, ".")
	for _, seg := range path {
		if seg == "" {
			return nil, false
		}
	}
	return path, true
}

// validationConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const validationConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["rules"],
	"properties": {
		"rules": {"type": "array", "minItems": 1, "items": {
			"type": "object",
			"additionalProperties": false,
			"required": ["field", "operator"],
			"properties": {
				"field": {"type": "string", "minLength": 1, "description": "A path in the target: email, address.city, items[0].qty"},
				"operator": {"enum": ["required", "email", "minLength", "maxLength", "pattern", "min", "max", "oneOf", "type", "expr"]},
				"value": {"description": "The operator's argument: a number, a pattern, a list (oneOf), a type name, a CEL bool over value (expr)"},
				"message": {"type": "string"}
			}
		}},
		"target": {"type": "string", "description": "CEL: the value to check; default the input"}
	}
}`
