package expr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/workflow-backend/workflow-backend/internal/problem"
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
// mismatch, a division by zero, a limit (see LimitError), a result of the
// wrong type. Evaluation is deterministic, so running it again would fail
// again: callers report it as non-retryable. A context cancellation is NOT
// an EvalError (Eval returns the context's error), because a retry may well
// succeed.
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
	if errors.Is(e.Err, ErrCostLimit) || errors.Is(e.Err, ErrValueLimit) {
		return true
	}
	msg := e.Err.Error()
	return strings.Contains(msg, "division by zero") || strings.Contains(msg, "modulus by zero")
}

// ErrCostLimit is wrapped by the EvalError of an evaluation that exceeded,
// or one of whose calls would have exceeded, Limits.CostLimit.
var ErrCostLimit = errors.New("cost limit exceeded")

// ErrValueLimit is wrapped by the EvalError of an evaluation that would have
// built a value over Limits.MaxValueBytes, or whose result is over it.
var ErrValueLimit = errors.New("value size limit exceeded")

// Settings that raise the limits, as the configuration names them; limit
// errors name the one to raise.
const (
	CostLimitSetting     = "EXPR_COST_LIMIT"
	MaxValueBytesSetting = "EXPR_MAX_VALUE_BYTES"
)

// LimitError is an evaluation stopped by one of its limits before it did
// the work or built the value that would exceed it. Its message says what
// would have exceeded which limit and names the setting; errors.Is matches
// ErrCostLimit or ErrValueLimit.
//
// It is deliberately not a CEL error value once Eval returns it: a limit is
// the expression's doing, never the data's.
type LimitError struct {
	limit   error
	message string
}

func (e *LimitError) Error() string { return e.message }

func (e *LimitError) Unwrap() error { return e.limit }

// maxErrorText bounds the text of a runtime error kept in an EvalError:
// CEL quotes values in some messages ("no such key: …"), and a value may be
// megabytes long.
const maxErrorText = 1000

// briefError shortens the text of an error, keeping it for errors.As.
type briefError struct{ err error }

func (b briefError) Error() string {
	msg := b.err.Error()
	if len(msg) <= maxErrorText {
		return msg
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + fmt.Sprintf("… (%d bytes more)", len(msg)-cut)
}

func (b briefError) Unwrap() error { return b.err }

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
// *CompileError; a failed evaluation an *EvalError (a *LimitError inside
// when a limit stopped it); a cancelled ctx its error.
func (e *Env) Eval(ctx context.Context, src string, vars map[string]any) (any, error) {
	prg, err := e.program(src)
	if err != nil {
		return nil, &EvalError{Expr: src, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("expression %s: %w", quote(src), err)
	}
	m := &meter{ctx: ctx, g: e.guards}
	val, _, err := prg.ContextEval(ctx, &activation{vars: vars, meter: m})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("expression %s: %w", quote(src), ctxErr)
		}
		if m.stopped != nil {
			return nil, &EvalError{Expr: src, Err: m.stopped}
		}
		return nil, &EvalError{Expr: src, Err: briefError{err}}
	}
	out, err := toNative(val, e.limits.MaxValueBytes)
	if err != nil {
		return nil, &EvalError{Expr: src, Err: briefError{err}}
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
		return false, &EvalError{Expr: src, Err: fmt.Errorf("result is %s, want a bool", problem.ValueTypeName(v))}
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
		return "", &EvalError{Expr: src, Err: fmt.Errorf("result is %s, want a string", problem.ValueTypeName(v))}
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
	return time.Time{}, &EvalError{Expr: src, Err: fmt.Errorf("result is %s, want a timestamp", problem.ValueTypeName(v))}
}

// formatBytes writes a size for a message: "512 bytes", "2 MiB", "160.3 GiB".
func formatBytes(n uint64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v := float64(n) / 1024
	unit := 0
	for v >= 1024 && unit < len(units)-1 {
		v /= 1024
		unit++
	}
	return strconv.FormatFloat(float64(int64(v*10+0.5))/10, 'f', -1, 64) + " " + units[unit]
}

// formatCount writes a count with thousands separators: "1,048,576".
func formatCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}
