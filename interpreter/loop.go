package interpreter

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// LoopConfig is the config of a loop node: it runs Body, then evaluates
// Until, and repeats until Until holds or MaxIterations ran (an error),
// sleeping Delay between iterations (the polling pattern).
type LoopConfig struct {
	Body Body `json:"body"`
	// Input of a definition body, per iteration: key -> CEL over the
	// loop's scope plus iteration and last. Default {"iteration", "last"}.
	// A node body reads the scope directly.
	Input map[string]string `json:"input,omitempty"`
	// Until is CEL, evaluated after each iteration with last = its output
	// and iteration = the iterations done.
	Until         string `json:"until"`
	MaxIterations int    `json:"maxIterations"`
	Delay         string `json:"delay,omitempty"` // Go duration: a durable timer between iterations
}

// LoopNodeType is the name of the loop node type.
const LoopNodeType = "loop"

// MaxLoopIterations is the ceiling of a loop's maxIterations. Each
// iteration costs a handful of history events (the body, the until step,
// the delay's timer and a workflow task): a loop this long needs the
// continue-as-new of long runs.
const MaxLoopIterations = 10_000

func loopNodeType(reg *Registry) NodeType {
	return NodeType{
		Name:         LoopNodeType,
		Kind:         KindWorkflow,
		ConfigSchema: json.RawMessage(loopConfigSchema),
		CheckConfig: configCheck("loop", func(c LoopConfig, l *problem.List, exprs ExprChecker) {
			checkLoopConfig(reg, c, l, exprs)
		}),
		ImplicitReads: func(raw json.RawMessage) []string {
			c, err := decodeConfig[LoopConfig](raw, "loop")
			if err != nil {
				return nil
			}
			return bodyImplicitReads(reg, c.Body)
		},
	}
}

func checkLoopConfig(reg *Registry, c LoopConfig, l *problem.List, exprs ExprChecker) {
	switch {
	case c.MaxIterations == 0:
		l.Add("maxIterations", CodeRequired, "a loop needs maxIterations, its bound (at most %d)", MaxLoopIterations)
	case c.MaxIterations < 1 || c.MaxIterations > MaxLoopIterations:
		l.Add("maxIterations", CodeInvalidConfig, "maxIterations must be from 1 to %d", MaxLoopIterations)
	}
	l.Expression("until", c.Until, exprs)
	l.Duration("delay", c.Delay)
	if c.Body.Node != nil && len(c.Input) > 0 {
		l.Add("input", CodeInvalidConfig, "input goes with a definition body; a node body reads the scope (iteration, last, input, nodes) directly")
	} else {
		l.Expressions("input", "key", c.Input, exprs)
	}
	checkBody(reg, c.Body, l.Under("body"), exprs)
}

// loopProgress is where a loop is: the iterations done and the last one's
// output. A loop runs from a progress (runLoop), so a run continued as new
// at an iteration boundary can carry it and resume.
type loopProgress struct {
	Iteration int `json:"iteration"`
	Last      any `json:"last"`
}

// loop carries out a loop node in the workflow. Its output is
// {"iterations": n, "last": the last iteration's output}.
// A loop parked by a continue-as-new (see parking) resumes from its
// progress in the next run.
func (r *run) loop(ctx workflow.Context, req NodeRequest, park *parking) (NodeResult, error) {
	n := req.Node
	result := NodeResult{Outcome: OutcomeSuccess}
	cfg, bad := decodeConfig[LoopConfig](n.Config, "loop") //workflowcheck:ignore (see wait)
	if bad != nil {
		return result, temporal.NewNonRetryableApplicationError("loop config: "+bad.Error(), ErrConfiguration, nil)
	}
	var from loopProgress
	if _, err := park.Resume(&from); err != nil {
		return result, err
	}
	p, err := r.runLoop(ctx, req, cfg, from, park)
	if err != nil {
		return result, err
	}
	result.Output = map[string]any{"iterations": p.Iteration, "last": p.Last}
	req.Scope.Nodes[n.ID] = result.Output
	fired, err := decideEdges(ctx, ctx, n.ID, result.Outcome, req.Edges, req.Scope)
	result.Fired = fired
	return result, err
}

// runLoop runs the loop from progress from (iterations already done, and
// the last one's output) until its until holds, and returns the progress
// then. Every decision (until, the next input) is the loop_step helper
// activity's; between iterations it sleeps on a durable timer. An error is
// the body's, a step's, or ErrLoopExhausted after maxIterations.
//
// Resuming is starting from a progress: a run continued as new at an
// iteration boundary carries p (the loop's node request and p are all it
// needs) and calls runLoop with it; the next run first decides until for
// p, then sleeps the delay, then runs iteration p.Iteration+1, exactly as
// the uninterrupted loop would.
//
// At the top of each iteration it asks park whether the run is continuing
// as new (its history budget: a loop of thousands of iterations would
// outgrow one run): it then parks with p, and the next run resumes there.
func (r *run) runLoop(ctx workflow.Context, req NodeRequest, cfg LoopConfig, from loopProgress, park *parking) (loopProgress, error) {
	n := req.Node
	var def Definition
	if cfg.Body.Definition != "" {
		var err error
		if def, err = r.bodyDefinition(cfg.Body, n.ID); err != nil {
			return from, err
		}
	}
	delay, _ := time.ParseDuration(cfg.Delay) // validated at registration
	p := from
	for {
		// At least one iteration per run, so a run that starts over its
		// budget still moves on.
		if p.Iteration > from.Iteration && park.ShouldPark(ctx) {
			return p, park.Park(p)
		}
		step, err := r.loopStep(ctx, req, cfg, def, p)
		if err != nil || step.Done {
			return p, err
		}
		if p.Iteration >= cfg.MaxIterations {
			return p, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("loop %s: until %q still false after %d iterations (maxIterations)", n.ID, cfg.Until, p.Iteration), ErrLoopExhausted, nil)
		}
		if p.Iteration > 0 && delay > 0 {
			if err := workflow.NewTimerWithOptions(ctx, delay, workflow.TimerOptions{Summary: n.ID + ": delay"}).Get(ctx, nil); err != nil {
				return p, err
			}
		}
		next := p.Iteration + 1
		out, err := r.runBody(ctx, cfg.Body, bodyRun{
			Owner: req, N: next,
			Vars:  map[string]any{"iteration": next, "last": p.Last},
			Input: step.Input,
		})
		if err != nil {
			return p, err
		}
		p = loopProgress{Iteration: next, Last: out}
	}
}

// loopStep asks the loop_step activity whether the loop is done and, if
// not, for the next definition body's input. Before the first iteration
// there is nothing to decide: no activity runs unless an input must be
// evaluated or checked.
func (r *run) loopStep(ctx workflow.Context, req NodeRequest, cfg LoopConfig, def Definition, p loopProgress) (LoopStep, error) {
	var step LoopStep
	needsInput := cfg.Body.Definition != "" && (len(cfg.Input) > 0 || len(def.InputSchema) > 0)
	if p.Iteration == 0 && !needsInput {
		if cfg.Body.Definition != "" {
			step.Input = map[string]any{"iteration": 1, "last": nil}
		}
		return step, nil
	}
	lreq := LoopStepRequest{Until: cfg.Until, Done: p.Iteration, Last: p.Last, Scope: req.Scope}
	if cfg.Body.Definition != "" {
		lreq.Input, lreq.InputSchema = cfg.Input, def.InputSchema
		lreq.Definition = def.ID + "@" + def.Version
	}
	err := helperActivity(ctx, LoopStepActivity, fmt.Sprintf("%s: step %d", req.Node.ID, p.Iteration), lreq).Get(ctx, &step)
	if err == nil && !step.Done && cfg.Body.Definition != "" && step.Input == nil {
		step.Input = map[string]any{"iteration": p.Iteration + 1, "last": p.Last}
	}
	return step, err
}

// loopConfigSchema is the JSON Schema of LoopConfig (DefinitionSchema).
var loopConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["body", "until", "maxIterations"],
	"properties": {
		"body": ` + bodySchema + `,
		"input": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}},
		"until": {"type": "string", "description": "CEL over last and iteration"},
		"maxIterations": {"type": "integer", "minimum": 1, "maximum": ` + fmt.Sprint(MaxLoopIterations) + `},
		"delay": {"type": "string", "description": "Go duration between iterations"}
	}
}`
