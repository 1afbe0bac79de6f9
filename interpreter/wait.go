package interpreter

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// WaitConfig is the config of a wait node. Exactly one of Duration, Until and
// Signal is set; Timeout only goes with Signal.
type WaitConfig struct {
	Duration string `json:"duration,omitempty"` // Go duration: a durable timer
	Until    string `json:"until,omitempty"`    // CEL timestamp (or RFC 3339 string): a timer to that instant
	Signal   string `json:"signal,omitempty"`   // signal name: the node's output is the signal's JSON payload
	Timeout  string `json:"timeout,omitempty"`  // with Signal: `on: timeout` edges fire when it passes
}

// WaitNodeType is the name of the wait node type.
const WaitNodeType = "wait"

func waitNodeType() NodeType {
	return NodeType{
		Name:        WaitNodeType,
		Kind:        KindWorkflow,
		Outcomes:    []string{OutcomeTimeout},
		OutcomesOf:  waitOutcomes,
		CheckConfig: configCheck("wait", checkWaitConfig),
	}
}

// waitOutcomes: only a signal wait with a timeout can time out; a timer
// wait ends when its timer fires, which is success.
func waitOutcomes(raw json.RawMessage) []string {
	c, err := decodeConfig[WaitConfig](raw, "wait")
	if err != nil || c.Signal == "" || c.Timeout == "" {
		return nil
	}
	return []string{OutcomeTimeout}
}

func checkWaitConfig(c WaitConfig, l *problem.List, exprs ExprChecker) {
	set := 0
	for _, s := range []string{c.Duration, c.Until, c.Signal} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		l.Add("", CodeInvalidConfig, "a wait node needs exactly one of duration, until or signal")
	}
	l.Duration("duration", c.Duration)
	if c.Until != "" {
		if _, err := time.Parse(time.RFC3339, c.Until); err != nil {
			l.Expression("until", c.Until, exprs)
		}
	}
	if c.Signal != "" && !problem.Name.Valid(c.Signal) {
		l.Add("signal", CodeInvalidConfig, "%q is not a signal name (%s; it appears in the signal URL)", c.Signal, problem.Name.Hint)
	}
	if c.Timeout != "" && c.Signal == "" {
		l.Add("timeout", CodeInvalidConfig, "timeout only applies to a signal wait")
	}
	l.Duration("timeout", c.Timeout)
}

// wait carries out a wait node in the workflow: a durable timer, or a
// signal with an optional timeout. It never sleeps in an activity. While it
// waits for a signal, st says so (the nodes query shows "waiting").
func wait(ctx workflow.Context, req NodeRequest, st *NodeState) (NodeResult, error) {
	n := req.Node
	// Decoding JSON into a struct is deterministic. workflowcheck flags it
	// only because the runtime's allocator, deep inside encoding/json, may
	// start the garbage collector's goroutines.
	cfg, bad := decodeConfig[WaitConfig](n.Config, "wait") //workflowcheck:ignore
	if bad != nil {
		return NodeResult{}, temporal.NewNonRetryableApplicationError("wait config: "+bad.Error(), ErrConfiguration, nil)
	}
	timerOpts := workflow.TimerOptions{Summary: n.ID}
	result := NodeResult{Outcome: OutcomeSuccess}
	switch {
	case cfg.Duration != "":
		d, _ := time.ParseDuration(cfg.Duration)
		if err := workflow.NewTimerWithOptions(ctx, d, timerOpts).Get(ctx, nil); err != nil {
			return result, err
		}
		result.Output = map[string]any{"waited": cfg.Duration}
	case cfg.Until != "":
		until, err := time.Parse(time.RFC3339, cfg.Until)
		if err != nil {
			err = helperActivity(ctx, UntilActivity, n.ID+": until", UntilRequest{Expression: cfg.Until, Scope: req.Scope}).Get(ctx, &until)
			if err != nil {
				return result, err
			}
		}
		if d := until.Sub(workflow.Now(ctx)); d > 0 {
			if err := workflow.NewTimerWithOptions(ctx, d, timerOpts).Get(ctx, nil); err != nil {
				return result, err
			}
		}
		result.Output = map[string]any{"until": until.UTC().Format(time.RFC3339Nano)}
	default:
		st.Status = StatusWaiting
		payload, timedOut, err := receiveSignal(ctx, cfg, timerOpts)
		if err != nil {
			return result, err
		}
		st.Status = StatusRunning
		if timedOut {
			if len(EdgesOn(req.Edges, OutcomeTimeout)) == 0 {
				return result, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("no %q signal within %s", cfg.Signal, cfg.Timeout), ErrWaitTimeout, nil)
			}
			result.Outcome = OutcomeTimeout
		} else {
			result.Output = payload
		}
	}
	req.Scope.Nodes[n.ID] = result.Output
	fired, err := decideEdges(ctx, ctx, n.ID, result.Outcome, req.Edges, req.Scope)
	result.Fired = fired
	return result, err
}

// receiveSignal waits for the named signal, its timeout, or cancellation.
// A signal sent before the wait began is buffered by Temporal and taken here.
func receiveSignal(ctx workflow.Context, cfg WaitConfig, timerOpts workflow.TimerOptions) (payload any, timedOut bool, err error) {
	sel := workflow.NewSelector(ctx)
	received := false
	sel.AddReceive(workflow.GetSignalChannel(ctx, cfg.Signal), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &payload)
		received = true
	})
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	if cfg.Timeout != "" {
		d, _ := time.ParseDuration(cfg.Timeout)
		sel.AddFuture(workflow.NewTimerWithOptions(timerCtx, d, timerOpts), func(f workflow.Future) {
			timedOut = f.Get(timerCtx, nil) == nil
		})
	}
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	if !received && !timedOut {
		return nil, false, temporal.NewCanceledError("wait canceled")
	}
	return payload, timedOut, nil
}
