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
		Name:         WaitNodeType,
		Kind:         KindWorkflow,
		Outcomes:     []string{OutcomeTimeout},
		OutcomesOf:   waitOutcomes,
		ConfigSchema: json.RawMessage(waitConfigSchema),
		CheckConfig:  configCheck(WaitNodeType, checkWaitConfig),
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

// waitProgress is what a wait node parked at a continue-as-new boundary
// carries into the next run: the instant its timer ends or its signal's
// timeout passes, so the wait goes on to the same deadline.
type waitProgress struct {
	Deadline *time.Time `json:"deadline,omitempty"`
}

// wait carries out a wait node in the workflow: a durable timer, or a
// signal with an optional timeout. It never sleeps in an activity. While it
// waits for a signal, st says so (the nodes query shows "waiting"). When
// the run drains it parks with its deadline (see parking); a signal a
// former run received and no wait consumed is taken first.
func (r *run) wait(ctx workflow.Context, req NodeRequest, st *NodeState, park *parking) (NodeResult, error) {
	n := req.Node
	// Decoding JSON into a struct is deterministic. workflowcheck flags it
	// only because the runtime's allocator, deep inside encoding/json, may
	// start the garbage collector's goroutines.
	cfg, bad := decodeConfig[WaitConfig](n.Config, "wait") //workflowcheck:ignore
	if bad != nil {
		return NodeResult{}, temporal.NewNonRetryableApplicationError("wait config: "+bad.Error(), ErrConfiguration, nil)
	}
	var from waitProgress
	resumed, err := park.Resume(&from)
	if err != nil {
		return NodeResult{}, err
	}
	timerOpts := workflow.TimerOptions{Summary: n.ID}
	result := NodeResult{Outcome: OutcomeSuccess}
	switch {
	case cfg.Duration != "" || cfg.Until != "":
		var deadline time.Time
		switch {
		case resumed && from.Deadline != nil:
			deadline = *from.Deadline
		case cfg.Duration != "":
			d, _ := time.ParseDuration(cfg.Duration)
			deadline = workflow.Now(ctx).Add(d)
		default:
			until, err := time.Parse(time.RFC3339, cfg.Until)
			if err != nil {
				err = helperActivity(ctx, UntilActivity, n.ID+": until", UntilRequest{Expression: cfg.Until, Scope: req.Scope}).Get(ctx, &until)
				if err != nil {
					return result, err
				}
			}
			deadline = until
		}
		parked, err := sleepUntil(ctx, deadline, timerOpts, park)
		if err != nil {
			return result, err
		}
		if parked {
			return result, park.Park(waitProgress{Deadline: &deadline})
		}
		if cfg.Duration != "" {
			result.Output = map[string]any{"waited": cfg.Duration}
		} else {
			result.Output = map[string]any{"until": deadline.UTC().Format(time.RFC3339Nano)}
		}
	default:
		var deadline *time.Time
		switch {
		case resumed:
			deadline = from.Deadline
		case cfg.Timeout != "":
			d, _ := time.ParseDuration(cfg.Timeout)
			deadline = timePtr(workflow.Now(ctx).Add(d))
		}
		st.Status = StatusWaiting
		payload, end, err := r.receiveSignal(ctx, cfg.Signal, deadline, timerOpts, park)
		if err != nil {
			return result, err
		}
		if end == waitParked {
			return result, park.Park(waitProgress{Deadline: deadline})
		}
		st.Status = StatusRunning
		if end == waitTimedOut {
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

// sleepUntil waits on a durable timer until deadline (at once when it has
// passed), or until the run drains (parked true).
func sleepUntil(ctx workflow.Context, deadline time.Time, timerOpts workflow.TimerOptions, park *parking) (parked bool, err error) {
	d := deadline.Sub(workflow.Now(ctx))
	if d <= 0 {
		return false, nil
	}
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimerWithOptions(ctx, d, timerOpts), func(f workflow.Future) { err = f.Get(ctx, nil) })
	// The timer is left as it is when the wait parks: the run ends with
	// the next command, and the next run starts its own.
	sel.AddFuture(park.Ready(), func(workflow.Future) { parked = true })
	sel.Select(ctx)
	return parked, err
}

// How a signal wait ended, unless canceled.
type waitEnd int

const (
	waitSignaled waitEnd = iota + 1
	waitTimedOut
	waitParked
)

// receiveSignal waits for the named signal, its timeout (deadline; nil:
// none), the run's drain, or cancellation. A signal a former run carried is
// taken first; one sent before the wait began is buffered by Temporal and
// taken here.
func (r *run) receiveSignal(ctx workflow.Context, name string, deadline *time.Time, timerOpts workflow.TimerOptions, park *parking) (payload any, end waitEnd, err error) {
	if payload, ok := r.takeCarried(name); ok {
		return payload, waitSignaled, nil
	}
	ch := workflow.GetSignalChannel(ctx, name)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &payload)
		end = waitSignaled
	})
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	if deadline != nil {
		d := deadline.Sub(workflow.Now(ctx))
		if d <= 0 {
			// The timeout passed while the execution moved to this run:
			// only a signal already here counts.
			cancelTimer()
			if ch.ReceiveAsync(&payload) {
				return payload, waitSignaled, nil
			}
			return nil, waitTimedOut, nil
		}
		sel.AddFuture(workflow.NewTimerWithOptions(timerCtx, d, timerOpts), func(f workflow.Future) {
			if f.Get(timerCtx, nil) == nil {
				end = waitTimedOut
			}
		})
	}
	sel.AddFuture(park.Ready(), func(workflow.Future) { end = waitParked })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	if end != waitParked {
		// A parked wait leaves its timeout timer: the run ends with the
		// next command.
		cancelTimer()
	}
	if end == 0 {
		return nil, 0, temporal.NewCanceledError("wait canceled")
	}
	return payload, end, nil
}

// waitConfigSchema is the JSON Schema of WaitConfig (DefinitionSchema).
const waitConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"properties": {
		"duration": {"type": "string", "description": "Go duration: a durable timer, e.g. 24h"},
		"until": {"type": "string", "description": "RFC 3339 instant or CEL timestamp: a timer to that instant"},
		"signal": {"type": "string", "pattern": "^([A-Za-z_][A-Za-z0-9_]*)?$", "description": "The signal to wait for; the node's output is its payload"},
		"timeout": {"type": "string", "description": "Go duration (signal only): then the on: timeout edges fire"}
	},
	"$comment": "Registration reads an empty string as not set: so do the alternatives below.",
	"oneOf": [
		{"required": ["duration"], "properties": {"duration": {"minLength": 1}}},
		{"required": ["until"], "properties": {"until": {"minLength": 1}}},
		{"required": ["signal"], "properties": {"signal": {"minLength": 1}}}
	],
	"if": {"required": ["timeout"], "properties": {"timeout": {"minLength": 1}}},
	"then": {"required": ["signal"], "properties": {"signal": {"minLength": 1}}}
}`
