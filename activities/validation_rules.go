package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Validation operators.
const (
	opRequired  = "required"
	opEmail     = "email"
	opMinLength = "minLength"
	opMaxLength = "maxLength"
	opPattern   = "pattern"
	opMin       = "min"
	opMax       = "max"
	opOneOf     = "oneOf"
	opType      = "type"
	opExpr      = "expr"
)

func operatorNames() []string {
	return []string{opRequired, opEmail, opMinLength, opMaxLength, opPattern, opMin, opMax, opOneOf, opType, opExpr}
}

// typeNames are the values of a `type` rule.
func typeNames() []string {
	return []string{"string", "number", "integer", "boolean", "object", "array", "null"}
}

// typeValues maps the values of a `type` rule to problem.ValueTypeName's
// name of a matching value ("integer", a whole number, is checked apart).
var typeValues = map[string]string{
	"string": "a string", "number": "a number", "boolean": "a boolean",
	"object": "an object", "array": "a list", "null": "null",
}

// compileOperator checks a rule's operator and value and returns the check to
// run (nil for required, which validate handles itself, and on problems).
func compileOperator(c *compiling, at string, r ValidationRule) ruleCheck {
	valuePath := at + ".value"
	hasValue := len(bytes.TrimSpace(r.Value)) > 0 && string(bytes.TrimSpace(r.Value)) != "null"
	switch r.Operator {
	case opRequired, opEmail:
		// A value is meaningless here; `true` is tolerated ("required: true").
		if hasValue && string(bytes.TrimSpace(r.Value)) != "true" {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator %s takes no value", r.Operator)
		}
		if r.Operator == opEmail {
			return checkEmail
		}
		return nil

	case opMinLength, opMaxLength:
		var n float64
		if !hasValue || json.Unmarshal(r.Value, &n) != nil || n < 0 || n != math.Trunc(n) {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator %s needs a value that is an integer >= 0", r.Operator)
			return nil
		}
		return checkLength(r.Operator == opMinLength, int(n))

	case opPattern:
		var src string
		if !hasValue || json.Unmarshal(r.Value, &src) != nil || src == "" {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator pattern needs a value that is a regular expression string")
			return nil
		}
		re, err := regexp.Compile(src)
		if err != nil {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "invalid pattern: %v", err)
			return nil
		}
		return checkPattern(re)

	case opMin, opMax:
		var bound float64
		if !hasValue || json.Unmarshal(r.Value, &bound) != nil {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator %s needs a value that is a number", r.Operator)
			return nil
		}
		return checkBound(r.Operator == opMin, bound)

	case opOneOf:
		var options []any
		if !hasValue || json.Unmarshal(r.Value, &options) != nil || len(options) == 0 {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator oneOf needs a value that is a non-empty list")
			return nil
		}
		return checkOneOf(options)

	case opType:
		var name string
		if !hasValue || json.Unmarshal(r.Value, &name) != nil || !slices.Contains(typeNames(), name) {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator type needs a value that is one of %s",
				strings.Join(typeNames(), ", "))
			return nil
		}
		return checkType(name)

	case opExpr:
		var src string
		if !hasValue || json.Unmarshal(r.Value, &src) != nil {
			c.Add(valuePath, interpreter.CodeInvalidConfig, "operator expr needs a value that is a CEL expression string")
			return nil
		}
		c.expression(valuePath, src)
		return checkExpr(src)
	}
	c.Add(at+".operator", interpreter.CodeInvalidConfig, "unknown operator %q; known operators: %s",
		r.Operator, strings.Join(operatorNames(), ", "))
	return nil
}

func checkEmail(_ context.Context, _ *Activities, v any, _ map[string]any) (string, error) {
	const msg = "must be a valid email address"
	s, ok := v.(string)
	if !ok || !validEmail(s) {
		return msg, nil
	}
	return "", nil
}

// validEmail accepts a bare address (no display name, no angle brackets)
// whose domain has a dot: what a sign-up form means by "an email".
func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

func checkLength(isMin bool, n int) ruleCheck {
	return func(_ context.Context, _ *Activities, v any, _ map[string]any) (string, error) {
		var length int
		var unit string
		switch t := v.(type) {
		case string:
			length, unit = utf8.RuneCountInString(t), "characters long"
		case []any:
			length, unit = len(t), "items"
		default:
			return "must be a string or a list", nil
		}
		if isMin && length < n {
			if unit == "items" {
				return fmt.Sprintf("must contain at least %d items", n), nil
			}
			return fmt.Sprintf("must be at least %d characters long", n), nil
		}
		if !isMin && length > n {
			if unit == "items" {
				return fmt.Sprintf("must contain at most %d items", n), nil
			}
			return fmt.Sprintf("must be at most %d characters long", n), nil
		}
		return "", nil
	}
}

func checkPattern(re *regexp.Regexp) ruleCheck {
	return func(_ context.Context, _ *Activities, v any, _ map[string]any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "must be a string", nil
		}
		if !re.MatchString(s) {
			return fmt.Sprintf("must match the pattern %s", re.String()), nil
		}
		return "", nil
	}
}

func checkBound(isMin bool, bound float64) ruleCheck {
	return func(_ context.Context, _ *Activities, v any, _ map[string]any) (string, error) {
		n, ok := number(v)
		if !ok {
			return "must be a number", nil
		}
		if isMin && n < bound {
			return fmt.Sprintf("must be at least %s", formatNumber(bound)), nil
		}
		if !isMin && n > bound {
			return fmt.Sprintf("must be at most %s", formatNumber(bound)), nil
		}
		return "", nil
	}
}

func checkOneOf(options []any) ruleCheck {
	return func(_ context.Context, _ *Activities, v any, _ map[string]any) (string, error) {
		for _, o := range options {
			if sameJSON(v, o) {
				return "", nil
			}
		}
		names := make([]string, len(options))
		for i, o := range options {
			b, _ := json.Marshal(o)
			names[i] = string(b)
		}
		return "must be one of " + strings.Join(names, ", "), nil
	}
}

func checkType(name string) ruleCheck {
	return func(_ context.Context, _ *Activities, v any, _ map[string]any) (string, error) {
		if problem.ValueTypeName(v) == typeValues[name] || (name == "integer" && isInteger(v)) {
			return "", nil
		}
		if name == "null" {
			return "must be null", nil
		}
		article := "a"
		if name == "integer" || name == "object" || name == "array" {
			article = "an"
		}
		return fmt.Sprintf("must be %s %s", article, name), nil
	}
}

// checkExpr evaluates a CEL bool expression with `value` bound to the field's
// value, besides the usual variables. An expression that fails on the value
// (`size(bytes(value))` given a number, `value.matches(…)` given a list)
// fails the rule: it compiled at registration, so what broke it is the
// input, and bad input must be a 400 listing the field. An error that is
// the expression's own fault (a division by zero, the cost or size limit)
// is returned, and fails the node as a definition error.
func checkExpr(src string) ruleCheck {
	return func(ctx context.Context, a *Activities, v any, vars map[string]any) (string, error) {
		ok, err := a.Expr.EvalBool(ctx, src, with(vars, expr.VarValue, v))
		var evalErr *expr.EvalError
		if errors.As(err, &evalErr) && !evalErr.ExpressionFault() {
			return "is invalid", nil
		}
		if err != nil {
			return "", err
		}
		if !ok {
			return "is invalid", nil
		}
		return "", nil
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

func isInteger(v any) bool {
	n, ok := number(v)
	return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
}

// sameJSON compares two decoded JSON values, numbers by value.
func sameJSON(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func formatNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
