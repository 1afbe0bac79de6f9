package interpreter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Interpreter is the one workflow type that runs every definition. It only
// schedules: node logic and every expression run in activities.
type Interpreter struct {
	registry *Registry
	// reorderReady, when set, reorders the nodes that become ready together
	// before they start (definition order otherwise). The order is the
	// order of their commands in history, so any change to it breaks
	// replay: only tests set it, to prove that the recorded histories catch
	// such a change.
	reorderReady func(ready []int)
}

// New returns the interpreter for the node types in registry.
func New(registry *Registry) *Interpreter {
	return &Interpreter{registry: registry}
}

// WorkflowRegistry is the part of worker.Worker the interpreter needs.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers the workflow under WorkflowName.
func (i *Interpreter) Register(r WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(i.Run, workflow.RegisterOptions{Name: WorkflowName})
}

// Run executes the definition carried in the input.
func (i *Interpreter) Run(ctx workflow.Context, in ExecutionInput) (any, error) {
	if in.Batch != nil {
		// A batch of a map node's items (map.go), not a graph: it has no
		// nodes of its own to show (the API reads it as any execution).
		err := workflow.SetQueryHandler(ctx, NodesQuery, func() ([]NodeState, error) { return []NodeState{}, nil })
		if err != nil {
			return nil, err
		}
		r := &run{registry: i.registry, called: in.Called, info: in.Batch.Scope.Execution}
		return r.runBatch(ctx, in.Batch)
	}
	r := newRun(ctx, i.registry, in)
	r.reorderReady = i.reorderReady
	if in.Resume != nil {
		// A run continued from a former one (continueasnew.go).
		if err := r.restore(in.Resume); err != nil {
			return nil, err
		}
	}
	if err := workflow.SetQueryHandler(ctx, NodesQuery, r.states); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, ExecutionQuery, func() (ExecutionInfo, error) { return r.info, nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, SnapshotQuery, r.snapshotQuery); err != nil {
		return nil, err
	}
	if err := r.registerResponseHandlers(ctx); err != nil {
		return nil, err
	}
	out, err := r.execute(ctx)
	r.endResponse(ctx)
	return out, err
}

// completion is what a node's coroutine reports to the scheduler.
type completion struct {
	Node   int
	Result NodeResult
	Err    error
	// Parked is the progress of a node that parked for the next run
	// (continueasnew.go); nil when the node finished.
	Parked json.RawMessage
}

// run is the state of one execution.
type run struct {
	g        *graph
	registry *Registry
	input    any
	reads    *Reads // nil: every node gets the whole scope
	called   []Definition
	info     ExecutionInfo
	nodes    []nodeRun
	edges    []int
	running  int
	done     workflow.Channel
	comp     *compensation
	response *Response // the first respond node's answer (respond.go)
	ended    bool      // execute returned: a waiting ResponseUpdate answers Responded false

	// Continuing as new (continueasnew.go).
	in       ExecutionInput // what the next run is given, with a Snapshot
	budget   *RunBudget
	resumed  bool // the run continues a former one
	draining bool // no node starts; long workflow-side nodes park
	// continuing: the run is about to continue as new; a waiting
	// ResponseUpdate answers Continued.
	continuing bool
	// parkReady is ready once the run drains (parking.Ready).
	parkReady    workflow.Future
	setParkReady workflow.Settable
	// inbox holds signals a former run received and no wait node consumed.
	inbox []CarriedSignal
	// reorderReady: see Interpreter.
	reorderReady func(ready []int)
}

func newRun(ctx workflow.Context, registry *Registry, in ExecutionInput) *run {
	def := in.Definition
	wfInfo := workflow.GetInfo(ctx)
	r := &run{
		g:        newGraph(&def),
		registry: registry,
		input:    in.Input,
		called:   in.Called,
		info: ExecutionInfo{
			ID:           wfInfo.WorkflowExecution.ID,
			DefinitionID: def.ID,
			Version:      def.Version,
			StartedAt:    wfInfo.WorkflowStartTime,
		},
		nodes: make([]nodeRun, len(def.Nodes)),
		edges: make([]int, len(def.Edges)),
		// A node has at most one completion in flight (a parked node is
		// started again only after its completion was received), so sends
		// never block.
		done:   workflow.NewBufferedChannel(ctx, len(def.Nodes)),
		comp:   newCompensation(ctx, len(def.Nodes)),
		in:     in,
		budget: in.RunBudget,
	}
	r.in.Resume = nil
	r.parkReady, r.setParkReady = workflow.NewFuture(ctx)
	for i, n := range def.Nodes {
		r.nodes[i].ID, r.nodes[i].Type, r.nodes[i].Status = n.ID, n.Type, StatusPending
	}
	if in.Reads != nil && len(in.Reads.Nodes) == len(def.Nodes) {
		r.reads = in.Reads
	}
	return r
}

// execute runs the definition: it starts the start node (or, in a run
// continued from a former one, the parked nodes and those found ready) and
// then, as each node completes, decides its edges and starts the nodes that
// became ready, until no node runs. A cancel turns the rest of the run into
// compensation. At a node boundary over the run's budget the run drains and
// continues as new (continueasnew.go).
func (r *run) execute(ctx workflow.Context) (any, error) {
	if r.resumed {
		r.resumeParked(ctx)
		r.propagate(ctx)
	} else {
		start, ok := r.g.index[r.g.def.StartNode]
		if !ok {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("startNode %q is not a node of the definition", r.g.def.StartNode), ErrConfiguration, nil)
		}
		r.startNode(ctx, start)
	}
	for {
		for r.running > 0 {
			var c completion
			r.done.Receive(ctx, &c)
			if c.Parked != nil {
				r.running--
				r.nodes[c.Node].progress = c.Parked
			} else if err := r.complete(ctx, c); err != nil {
				r.skipUndecided(ctx)
				return nil, err
			}
			switch {
			case r.draining && r.comp.canceled():
				r.abandonDrain(ctx)
			case r.draining:
				// Nodes found ready stay pending: the next run starts them.
			default:
				// Decided before propagate: a draining run starts no
				// node found ready at this boundary.
				r.considerDrain(ctx)
				if !r.draining {
					r.propagate(ctx)
				}
			}
		}
		if !r.draining {
			break
		}
		if r.finishDrain(ctx) {
			return nil, r.continueAsNew(ctx)
		}
	}
	r.skipUndecided(ctx)
	if r.comp.canceled() {
		return nil, temporal.NewCanceledError("execution canceled")
	}
	return r.output(ctx)
}

// startNode runs node i in its own coroutine; the coroutine reports through
// r.done. Coroutines are scheduled deterministically by the SDK, so several
// nodes started in one workflow task (parallel branches) begin together.
func (r *run) startNode(ctx workflow.Context, i int) {
	st := &r.nodes[i]
	st.Status = StatusRunning
	st.StartedAt = timePtr(workflow.Now(ctx))
	r.goNode(ctx, i, &parking{r: r})
}

// goNode runs node i in its coroutine: a fresh start, or a parked node
// resumed (its state, start time included, goes on).
func (r *run) goNode(ctx workflow.Context, i int, park *parking) {
	req := NodeRequest{Node: r.g.def.Nodes[i], Edges: r.g.outgoingEdges(i), Scope: r.nodeScope(i)}
	r.running++
	workflow.Go(ctx, func(ctx workflow.Context) {
		r.done.Send(ctx, r.runNode(ctx, i, req, park))
	})
}

// runNode carries out node i in its coroutine: the interpreter's own node
// types (wait, call, respond, loop, map) in the workflow, every other node
// type as its activity. A failed node's error edges are decided here too. A
// node that parks (see parking) reports its progress instead.
func (r *run) runNode(ctx workflow.Context, i int, req NodeRequest, park *parking) completion {
	n := req.Node
	c := completion{Node: i}
	nt, known := r.registry.Lookup(n.Type)
	switch {
	case !known:
		c.Err = temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("node %s: node type %q is not registered on this worker", n.ID, n.Type), ErrConfiguration, nil)
	case nt.Kind == KindWorkflow && n.Type == CallNodeType:
		c.Result, c.Err = r.call(ctx, req)
	case nt.Kind == KindWorkflow && n.Type == RespondNodeType:
		c.Result, c.Err = r.respond(ctx, req)
	case nt.Kind == KindWorkflow && n.Type == LoopNodeType:
		c.Result, c.Err = r.loop(ctx, req, park)
	case nt.Kind == KindWorkflow && n.Type == MapNodeType:
		c.Result, c.Err = r.mapNode(ctx, req)
	case nt.Kind == KindWorkflow:
		c.Result, c.Err = r.wait(ctx, req, &r.nodes[i].NodeState, park)
	default:
		c.Err = nodeActivity(ctx, n, nt.Kind, req).Get(ctx, &c.Result)
		if c.Err != nil {
			c.Result.Attempt = failedAttempts(c.Err, retryPolicy(n, nt.Kind))
		}
	}
	if progress, ok := parked(c.Err); ok {
		return completion{Node: i, Parked: progress}
	}
	if c.Err != nil {
		req.Scope.Errors[n.ID] = errorValue(c.Err)
		c.Result.Fired, c.Err = r.errorEdges(ctx, req, c.Err)
	}
	return c
}

// errorEdges decides which error edges of a failed node fire. When the node
// failed because the execution was canceled, they are decided in the
// compensation context, so compensation still happens. It returns the
// node's error unchanged, or the error of evaluating the edges.
func (r *run) errorEdges(ctx workflow.Context, req NodeRequest, nodeErr error) ([]string, error) {
	fired, err := decideEdges(ctx, r.comp.shield(ctx), req.Node.ID, OutcomeError, req.Edges, req.Scope)
	if err != nil {
		return nil, err
	}
	return fired, nodeErr
}

// complete records a node's completion and decides its outgoing edges. It
// returns an error when the execution must fail: a node failed and none of
// its error edges fired.
func (r *run) complete(ctx workflow.Context, c completion) error {
	r.running--
	n := r.g.def.Nodes[c.Node]
	st := &r.nodes[c.Node]
	st.FinishedAt = timePtr(workflow.Now(ctx))
	st.Attempts = max(c.Result.Attempt, 1)
	if c.Err == nil {
		st.Status = StatusCompleted
		st.output = c.Result.Output
	} else {
		st.Status = StatusFailed
		st.errInfo = errorValue(c.Err)
		st.Error = rootMessage(c.Err)
	}
	for _, ei := range r.g.outgoing[c.Node] {
		e := r.g.def.Edges[ei]
		if !slices.Contains(c.Result.Fired, e.ID) {
			r.edges[ei] = edgeDead
			continue
		}
		r.edges[ei] = edgeFired
		st.fired = true
		r.comp.follow(c.Node, r.g.index[e.Target], c.Err != nil)
	}
	if c.Err != nil && !st.fired && !r.comp.canceled() {
		return executionError(n, c.Err)
	}
	return nil
}

// propagate starts every node whose incoming edges are all decided and at
// least one fired, and skips nodes whose incoming edges are all dead, which
// kills their outgoing edges in turn (dead-path elimination). It repeats
// until nothing changes, walking nodes in definition order.
func (r *run) propagate(ctx workflow.Context) {
	for changed := true; changed; {
		changed = false
		var ready []int
		for i := range r.nodes {
			st := &r.nodes[i]
			if st.Status != StatusPending {
				continue
			}
			decided, fired := r.incomingDecided(i)
			if !decided {
				continue
			}
			changed = true
			if fired && r.comp.admits(i) {
				ready = append(ready, i)
			} else {
				r.skip(ctx, i)
			}
		}
		r.startReady(ctx, ready)
	}
}

// incomingDecided says whether every incoming edge of node i is decided,
// and whether one of them fired.
func (r *run) incomingDecided(i int) (decided, fired bool) {
	decided = true
	for _, ei := range r.g.incoming[i] {
		switch r.edges[ei] {
		case edgeUndecided:
			decided = false
		case edgeFired:
			fired = true
		}
	}
	return decided, fired
}

// startReady starts the nodes a pass of propagate found ready, in
// definition order: the order of their commands in history. Starting a node
// changes no edge, so starting them after the pass decides the same nodes
// as starting each one where it was found. After a cancel only the nodes
// compensation reached are ready, and they start in its context.
func (r *run) startReady(ctx workflow.Context, ready []int) {
	if r.reorderReady != nil {
		r.reorderReady(ready)
	}
	ctx = r.comp.shield(ctx)
	for _, i := range ready {
		r.startNode(ctx, i)
	}
}

func (r *run) skip(ctx workflow.Context, i int) {
	r.nodes[i].Status = StatusSkipped
	r.nodes[i].FinishedAt = timePtr(workflow.Now(ctx))
	for _, ei := range r.g.outgoing[i] {
		r.edges[ei] = edgeDead
	}
}

// skipUndecided marks the nodes a finished run never reached as skipped.
func (r *run) skipUndecided(ctx workflow.Context) {
	for i := range r.nodes {
		if r.nodes[i].Status == StatusPending {
			r.skip(ctx, i)
			r.nodes[i].endSkipped = true
		}
	}
}

// output builds the execution result: the definition's output mapping, or
// by default the outputs of the leaves of the run (completed nodes none of
// whose outgoing edges fired), keyed by node id.
func (r *run) output(ctx workflow.Context) (any, error) {
	if len(r.g.def.Output) > 0 {
		var out map[string]any
		scope := r.scope()
		if r.reads != nil {
			scope = r.scopeOf(r.reads.Output)
		}
		err := helperActivity(ctx, OutputActivity, "output", OutputRequest{Mapping: r.g.def.Output, Scope: scope}).Get(ctx, &out)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError("building the output failed: "+rootMessage(err), ErrExpression, nil,
				ExecutionError{Type: ErrExpression, Code: "output_failed", Message: rootMessage(err)})
		}
		return out, nil
	}
	out := map[string]any{}
	for _, st := range r.nodes {
		if st.Status == StatusCompleted && !st.fired {
			out[st.ID] = st.output
		}
	}
	return out, nil
}

// states answers the NodesQuery.
func (r *run) states() ([]NodeState, error) {
	out := make([]NodeState, len(r.nodes))
	for i, st := range r.nodes {
		out[i] = st.NodeState
	}
	return out, nil
}

// executionError is the error an execution fails with when node n failed
// with no error edge: validation and business failures keep their type so
// the API can answer 400 or the fail node's status.
func executionError(n Node, err error) error {
	e := ExecutionError{Type: ErrNodeFailed, NodeID: n.ID, NodeType: n.Type, Code: "node_failed", Message: rootMessage(err)}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case ErrValidation:
			e.Type, e.Code = ErrValidation, "validation_failed"
			if appErr.HasDetails() {
				_ = appErr.Details(&e.Fields)
			}
		case ErrBusiness:
			var b BusinessFailure
			if appErr.HasDetails() && appErr.Details(&b) == nil {
				e.Type, e.Status, e.Code, e.Message = ErrBusiness, b.Status, b.Code, b.Message
			}
		}
	}
	msg := fmt.Sprintf("node %s (%s) failed: %s", n.ID, n.Type, e.Message)
	if e.Type == ErrBusiness {
		msg = e.Message
	}
	return temporal.NewNonRetryableApplicationError(msg, e.Type, nil, e)
}
