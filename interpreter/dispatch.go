package interpreter

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Defaults for nodes that set no retry or timeout (README, "Retries and timeouts"): nothing
// retries forever.
const (
	pureMaxAttempts     = 3
	ioMaxAttempts       = 10
	pureStartToClose    = 10 * time.Second
	ioStartToClose      = 30 * time.Second
	ioScheduleToClose   = time.Hour
	defaultInitialRetry = time.Second
	defaultMaximumRetry = time.Minute
	defaultBackoff      = 2.0
	helperStartToClose  = 10 * time.Second
	helperMaxAttempts   = 3
)

// nonRetryable lists error types that no retry can fix.
var nonRetryable = []string{ErrValidation, ErrBusiness, ErrExpression, ErrConfiguration, ErrPayloadTooBig}

// retryPolicy merges a node's retry settings over its kind's defaults.
// Durations were validated at registration, so parse errors cannot happen
// here; a zero value keeps the default.
func retryPolicy(n Node, kind Kind) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:        defaultInitialRetry,
		BackoffCoefficient:     defaultBackoff,
		MaximumInterval:        defaultMaximumRetry,
		MaximumAttempts:        pureMaxAttempts,
		NonRetryableErrorTypes: nonRetryable,
	}
	if kind == KindIO {
		p.MaximumAttempts = ioMaxAttempts
	}
	if r := n.Retry; r != nil {
		if r.MaximumAttempts > 0 {
			p.MaximumAttempts = r.MaximumAttempts
		}
		if d, err := time.ParseDuration(r.InitialInterval); err == nil && d > 0 {
			p.InitialInterval = d
		}
		if r.BackoffCoefficient >= 1 {
			p.BackoffCoefficient = r.BackoffCoefficient
		}
		if d, err := time.ParseDuration(r.MaximumInterval); err == nil && d > 0 {
			p.MaximumInterval = d
		}
	}
	if p.MaximumInterval < p.InitialInterval {
		p.MaximumInterval = p.InitialInterval
	}
	return p
}

func startToClose(n Node, fallback time.Duration) time.Duration {
	if d, err := time.ParseDuration(n.Timeout); err == nil && d > 0 {
		return d
	}
	return fallback
}

// nodeActivity schedules a node type's activity and returns its future:
// pure nodes as local activities unless "execution": "remote", I/O nodes on
// the I/O task queue. The summary carries the node id, so the Web UI reads
// as the graph.
func nodeActivity(ctx workflow.Context, n Node, kind Kind, req NodeRequest) workflow.Future {
	summary := n.ID
	if n.Label != "" {
		summary = n.ID + ": " + n.Label
	}
	if !scheduledRemotely(n, kind) {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: startToClose(n, pureStartToClose),
			RetryPolicy:         retryPolicy(n, kind),
			Summary:             summary,
		})
		return workflow.ExecuteLocalActivity(lctx, n.Type, req)
	}
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: startToClose(n, pureStartToClose),
		RetryPolicy:         retryPolicy(n, kind),
		Summary:             summary,
		ActivityID:          n.ID,
	}
	if kind == KindIO {
		opts.TaskQueue = workflow.GetInfo(ctx).TaskQueueName + IOTaskQueueSuffix
		opts.StartToCloseTimeout = startToClose(n, ioStartToClose)
		opts.ScheduleToCloseTimeout = ioScheduleToClose
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), n.Type, req)
}

// helperActivity runs one of the interpreter's own local activities (edges,
// until, output): expression evaluation never happens in workflow code.
func helperActivity(ctx workflow.Context, name, summary string, req any) workflow.Future {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: helperStartToClose,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        defaultInitialRetry,
			BackoffCoefficient:     defaultBackoff,
			MaximumAttempts:        helperMaxAttempts,
			NonRetryableErrorTypes: nonRetryable,
		},
		Summary: summary,
	})
	return workflow.ExecuteLocalActivity(lctx, name, req)
}
