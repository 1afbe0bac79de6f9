package interpreter

import "go.temporal.io/sdk/workflow"

// compensation is the phase an execution enters when it is canceled. The
// nodes the cancel interrupts fail; their error edges are still decided and
// fire, and the nodes those edges reach, and the nodes downstream of them,
// still run: that is how a definition undoes what it did (a refund after a
// charge). Every other node is skipped, and the execution ends canceled.
//
// The work of this phase runs in one context that the cancel does not
// reach, created the first time it is needed.
type compensation struct {
	// execution is the execution's own context: a cancel request cancels it.
	execution workflow.Context
	// ctx is disconnected from execution; nil until first needed.
	ctx workflow.Context
	// reached marks the nodes compensation runs, by position in
	// Definition.Nodes.
	reached []bool
}

func newCompensation(execution workflow.Context, nodes int) *compensation {
	return &compensation{execution: execution, reached: make([]bool, nodes)}
}

// canceled reports whether the execution was canceled: from then on only
// compensation runs.
func (c *compensation) canceled() bool { return c.execution.Err() != nil }

// shield returns ctx, or the compensation context once ctx is canceled:
// deciding an interrupted node's error edges and starting the nodes they
// reach must happen despite the cancel. Only scheduling uses the returned
// context; a coroutine still blocks on its own ctx, which names it to the
// SDK's scheduler.
func (c *compensation) shield(ctx workflow.Context) workflow.Context {
	if ctx.Err() == nil {
		return ctx
	}
	if c.ctx == nil {
		c.ctx, _ = workflow.NewDisconnectedContext(c.execution)
	}
	return c.ctx
}

// follow records that an edge from node from to node to fired. Its target
// runs in compensation when from failed after the cancel (it was
// interrupted) or itself ran in compensation.
func (c *compensation) follow(from, to int, failed bool) {
	if (failed && c.canceled()) || c.reached[from] {
		c.reached[to] = true
	}
}

// admits reports whether a node that is ready may start: every ready node
// before a cancel, only the nodes compensation reached after it.
func (c *compensation) admits(node int) bool {
	return !c.canceled() || c.reached[node]
}
