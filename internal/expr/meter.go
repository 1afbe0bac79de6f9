package expr

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"golang.org/x/crypto/bcrypt"
)

// meter is the budget of one evaluation (see guard.go). The program plan
// charges it; it stops the evaluation, by cel-go's own cancellation panic,
// as soon as a charge would exceed Limits.CostLimit or a call would make a
// value over Limits.MaxValueBytes, and when the evaluation's context ends.
// One goroutine uses it.
type meter struct {
	ctx    context.Context
	g      *guards
	spent  uint64
	hashes int
	// charges counts charges, to look at the context every few.
	charges uint64
	// stopped is why the meter stopped the evaluation.
	stopped *LimitError
}

const (
	// meterVar is the variable the meter is bound to in an evaluation's
	// activation; '@' cannot start an identifier, so no expression can
	// read it.
	meterVar = "@meter"
	// contextEvery is how many charges pass between two looks at the
	// context: a cancelled evaluation stops within microseconds, or within
	// one call (at most the cost limit's worth of work, or one hash).
	contextEvery = 64
	// hashesPerEvaluation bounds bcrypt work per evaluation: about 200 ms of
	// one core each.
	hashesPerEvaluation = 4
)

// charge adds units to what the evaluation has spent.
func (m *meter) charge(units uint64) {
	m.spent = satAdd(m.spent, units)
	if m.spent > m.g.limits.CostLimit {
		m.stop(&LimitError{limit: ErrCostLimit, message: fmt.Sprintf(
			"cost limit exceeded: the evaluation would spend more than %s (%s)", formatCount(m.g.limits.CostLimit), CostLimitSetting)})
	}
	m.charges++
	if m.charges%contextEvery == 0 {
		m.checkContext()
	}
}

// chargeCall charges a bounded call before it runs, or stops the
// evaluation if its bound is over a limit. It returns a non-nil error
// value when the call must return it instead of running.
func (m *meter) chargeCall(name string, b boundFunc, args []ref.Val) ref.Val {
	m.checkContext()
	bd, refused := b(m.g.limits, args)
	if refused != nil {
		m.charge(satAdd(bd.probe, 1))
		return refused
	}
	if err := m.g.limits.check(name, bd, m.spent); err != nil {
		m.stop(err)
	}
	m.charge(bd.cost())
	return nil
}

func (m *meter) checkContext() {
	select {
	case <-m.ctx.Done():
		panic(interpreter.EvalCancelledError{Cause: interpreter.ContextCancelled, Message: "operation cancelled"})
	default:
	}
}

// stop ends the evaluation with err. cel-go's Eval recovers its own
// cancellation panic and returns it; Eval then reports m.stopped.
func (m *meter) stop(err *LimitError) {
	m.stopped = err
	panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded, Message: err.Error()})
}

// hash is hashPassword: at most hashesPerEvaluation per evaluation, one
// bcrypt at a time per core, waiting for a core no longer than the
// evaluation's context.
func (m *meter) hash(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.NewErr("hashPassword: expected a string")
	}
	if m.hashes >= hashesPerEvaluation {
		m.stop(&LimitError{limit: ErrCostLimit, message: fmt.Sprintf(
			"hashPassword: an evaluation may hash at most %d passwords (each takes about 200 ms of a core)", hashesPerEvaluation)})
	}
	m.hashes++
	select {
	case m.g.hashSlots <- struct{}{}:
	case <-m.ctx.Done():
		m.checkContext()
	}
	defer func() { <-m.g.hashSlots }()
	hash, err := bcrypt.GenerateFromPassword([]byte(s), BcryptCost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return types.NewErr("hashPassword: the password is longer than 72 bytes")
	}
	if err != nil {
		// The error never carries the password.
		return types.NewErr("hashPassword: %v", err)
	}
	return types.String(hash)
}

// meterOf finds the evaluation's meter from anywhere in its plan.
func meterOf(frame *interpreter.ExecutionFrame) *meter {
	if v, ok := frame.ResolveName(meterVar); ok {
		if m, ok := v.(*meter); ok {
			return m
		}
	}
	// Only Eval runs programs, and it always binds a meter.
	panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded, Message: "expression evaluated without a meter"})
}

// activation binds an evaluation's variables and its meter.
type activation struct {
	vars  map[string]any
	meter *meter
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	if name == meterVar {
		return a.meter, true
	}
	v, ok := a.vars[name]
	return v, ok
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }
