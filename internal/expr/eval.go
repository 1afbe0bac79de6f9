package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/interpreter"
)

// CompileError is an expression that does not parse or type-check, or is too
// long. Error returns CEL's message alone (it already quotes the offending
// source with a caret), which is what a registration problem shows.
type CompileError struct {
	Expr    string
	Message string
}

func (e *CompileError) Error() string { return e.Message }

// EvalError is an expression that failed at run time: a missing key, a type
// mismatch, a division by zero, the cost limit, a result of the wrong type.
// Evaluation is deterministic, so running it again would fail again: callers
// report it as non-retryable. A context cancellation is NOT an EvalError (Eval
// returns the context's error), because a retry may well succeed.
type EvalError struct {
	Expr string
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("expression %s: %v", quote(e.Expr), e.Err)
}

// Quoted returns the expression quoted for a message, shortened when long.
func (e *EvalError) Quoted() string { return quote(e.Expr) }

func (e *EvalError) Unwrap() error { return e.Err }

// ExpressionFault reports an error that comes from the expression itself
// rather than from the data it was given: a limit (cost, size) it ran
// into, or a division or modulus by zero. A validation rule reports other
// errors (a value of the wrong type or shape) as the input's fault.
func (e *EvalError) ExpressionFault() bool {
	if errors.Is(e.Err, ErrCostLimit) || errors.Is(e.Err, ErrValueTooLarge) || errors.Is(e.Err, ErrTimeLimit) {
		return true
	}
	msg := e.Err.Error()
	return strings.Contains(msg, "division by zero") || strings.Contains(msg, "modulus by zero")
}

// ErrTimeLimit is wrapped by the EvalError of an evaluation stopped after
// Limits.MaxDuration.
var ErrTimeLimit = errors.New("time limit exceeded")

// ErrCostLimit is wrapped by the EvalError of an evaluation aborted because it
// exceeded Limits.CostLimit.
var ErrCostLimit = errors.New("cost limit exceeded")

// quote shortens long expressions so error messages stay readable.
func quote(src string) string {
	const max = 120
	if r := []rune(src); len(r) > max {
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", src)
}

// Eval evaluates src with vars bound (missing variables take their defaults,
// see the package comment) and returns the result as plain Go values (see
// toNative). A src that does not compile yields an *EvalError wrapping the
// *CompileError; a failed evaluation an *EvalError; a cancelled ctx its error.
func (e *Env) Eval(ctx context.Context, src string, vars map[string]any) (any, error) {
	prg, err := e.program(src)
	if err != nil {
		return nil, &EvalError{Expr: src, Err: err}
	}
	if vars == nil {
		vars = map[string]any{}
	}
	evalCtx, cancel := context.WithTimeout(ctx, e.limits.MaxDuration)
	defer cancel()
	val, _, err := prg.ContextEval(evalCtx, vars)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("expression %s: %w", quote(src), ctxErr)
		}
		if evalCtx.Err() != nil {
			return nil, &EvalError{Expr: src, Err: fmt.Errorf("%w: the evaluation ran longer than %s (EXPR_MAX_DURATION)", ErrTimeLimit, e.limits.MaxDuration)}
		}
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			return nil, &EvalError{Expr: src, Err: fmt.Errorf("%w (limit %d, EXPR_COST_LIMIT)", ErrCostLimit, e.limits.CostLimit)}
		}
		return nil, &EvalError{Expr: src, Err: err}
	}
	// Measured before it is converted: a result of shared references
	// (a list of a thousand times one big string) is small in CEL and
	// huge as Go values and JSON.
	if size := valueSize(val, e.limits.MaxValueBytes); size > e.limits.MaxValueBytes {
		return nil, &EvalError{Expr: src, Err: fmt.Errorf("%w: the result is over %s as JSON; the limit is %s (EXPR_MAX_VALUE_BYTES)",
			ErrValueTooLarge, formatBytes(size), formatBytes(e.limits.MaxValueBytes))}
	}
	out, err := toNative(val)
	if err != nil {
		return nil, &EvalError{Expr: src, Err: err}
	}
	return out, nil
}

// EvalBool evaluates src and requires a bool result.
func (e *Env) EvalBool(ctx context.Context, src string, vars map[string]any) (bool, error) {
	v, err := e.Eval(ctx, src, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &EvalError{Expr: src, Err: fmt.Errorf("result is %s, want a bool", typeName(v))}
	}
	return b, nil
}

// EvalString evaluates src and requires a string result.
func (e *Env) EvalString(ctx context.Context, src string, vars map[string]any) (string, error) {
	v, err := e.Eval(ctx, src, vars)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", &EvalError{Expr: src, Err: fmt.Errorf("result is %s, want a string", typeName(v))}
	}
	return s, nil
}

// EvalTime evaluates src and requires a timestamp: a CEL timestamp, or a
// string in RFC 3339 format (how a timestamp reads after a JSON round trip).
func (e *Env) EvalTime(ctx context.Context, src string, vars map[string]any) (time.Time, error) {
	v, err := e.Eval(ctx, src, vars)
	if err != nil {
		return time.Time{}, err
	}
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		parsed, perr := time.Parse(time.RFC3339Nano, t)
		if perr != nil {
			return time.Time{}, &EvalError{Expr: src, Err: fmt.Errorf("result %q is not an RFC 3339 timestamp", t)}
		}
		return parsed, nil
	}
	return time.Time{}, &EvalError{Expr: src, Err: fmt.Errorf("result is %s, want a timestamp", typeName(v))}
}

// typeName names the JSON type of a converted value, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case int64, uint64, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	case time.Time:
		return "a timestamp"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}
