package interpreter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A long execution (a year of daily signals, a loop of 10,000 iterations)
// spans several Temporal runs of the same workflow id. At a node boundary,
// when Temporal suggests it or the run's history reaches its RunBudget, the
// run drains and continues as new:
//
//  1. It starts no new node, from the boundary that decided it on: nodes
//     found ready stay pending, the edges that made them ready stay fired,
//     and the next run starts them.
//  2. Nodes that run in the workflow and may last long are parked: a wait
//     node stops waiting and records its deadline (see parking). Activities,
//     call nodes (their child executions) and respond nodes are waited for:
//     an activity cannot be handed to another run, and Temporal offers no
//     way for a new run to adopt a child a former run started (a child
//     keeps its own history short by continuing as new itself).
//  3. It waits for signal and update handlers to finish (the ResponseUpdate
//     answers Continued when no respond node ran yet: the API asks the next
//     run), takes every signal the wait nodes listen to that has arrived but
//     not been consumed, and continues as new with the same ExecutionInput
//     plus a Snapshot.
//
// A canceled run never continues as new: a cancel during the drain resumes
// the parked nodes in this run, where they are interrupted and compensation
// runs as usual. That is also why the compensation state (which nodes
// compensation reached) is never part of a Snapshot: it is empty until a
// cancel.

// continueAsNewChange is the workflow.GetVersion change id of draining and
// continuing as new. Histories recorded without it never drain when
// replayed. Version 1 comes with the default budget below: changing those
// numbers changes when runs drain, so it needs a version 2 (with the old
// numbers kept for version 1).
const continueAsNewChange = "continue-as-new"

const (
	defaultRunEvents = 8000    // below Temporal's 10,240-event warning
	defaultRunBytes  = 8 << 20 // below Temporal's 10 MB warning (50 MB limit)
)

// RunBudget is when one run of an execution continues as new, besides
// Temporal's own suggestion (GetContinueAsNewSuggested): at the first node
// boundary where its history has Events events or Bytes bytes. Zero fields
// take the defaults (8,000 events, 8 MiB).
//
// It travels in ExecutionInput (and so in the history), never in worker
// settings: a replay must decide at the same boundaries as the run it
// replays, whichever worker replays it.
type RunBudget struct {
	Events int `json:"events,omitempty"`
	Bytes  int `json:"bytes,omitempty"`
}

func (b *RunBudget) limits() (events, bytes int) {
	events, bytes = defaultRunEvents, defaultRunBytes
	if b != nil && b.Events > 0 {
		events = b.Events
	}
	if b != nil && b.Bytes > 0 {
		bytes = b.Bytes
	}
	return events, bytes
}

// Snapshot is the state a run hands to the next one (ExecutionInput.Resume).
type Snapshot struct {
	// StartedAt is when the execution (its first run) started: the
	// `execution.startedAt` of expressions.
	StartedAt time.Time `json:"startedAt"`
	// Nodes is aligned with Definition.Nodes.
	Nodes []NodeSnapshot `json:"nodes"`
	// Edges is aligned with Definition.Edges: 0 undecided, 1 fired, 2 dead.
	Edges []int `json:"edges"`
	// Response is what a respond node answered, so the ResponseQuery and
	// the ResponseUpdate of later runs answer the same.
	Response *Response `json:"response,omitempty"`
	// Signals arrived for the definition's wait nodes and were not consumed,
	// in arrival order: the wait nodes of the next run take them first.
	Signals []CarriedSignal `json:"signals,omitempty"`
}

// NodeSnapshot is one node carried to the next run: its state as the API
// shows it, and what later nodes may still read of it.
type NodeSnapshot struct {
	NodeState
	// Output of a completed node, pruned to what the nodes still to run and
	// the output mapping read (see Reads): the rest is dropped, so the
	// next run's history does not repeat it. The API never shows outputs
	// per node, so nothing visible changes.
	Output any `json:"output,omitempty"`
	// ErrorValue is `errors.<id>` of a failed node, when still read.
	ErrorValue map[string]any `json:"errorValue,omitempty"`
	// Fired: at least one outgoing edge fired (not a leaf of the run).
	Fired bool `json:"fired,omitempty"`
	// Progress of a parked node: what it resumes from (see parking).
	Progress json.RawMessage `json:"progress,omitempty"`
	// EndSkipped: skipped because the run ended (failed, canceled) before
	// the node was decided, not on a dead path (see RedriveSnapshot).
	EndSkipped bool `json:"endSkipped,omitempty"`
}

// CarriedSignal is a signal received by a run that ended before a wait
// node consumed it.
type CarriedSignal struct {
	Name    string `json:"name"`
	Payload any    `json:"payload"`
}

// parking is a workflow-side node's part in a continue-as-new boundary. A
// node that may last long takes one; at its safe points (while a wait node
// waits; between two iterations of a loop) it asks ShouldPark, or selects
// on Ready, and then returns Park(progress). The next run starts the node
// again with that progress, which it reads with Resume before doing
// anything else. A node that never parks is simply waited for.
//
// Wiring a node type that runs from a progress takes three lines; the loop
// node (loop.go, {iteration, last}) is wired so, parking only after at
// least one iteration in the run. A map keeps its runs short by batching
// instead (map.go) and is waited for:
//
//	// in runNode:
//	case nt.Kind == KindWorkflow && n.Type == LoopNodeType:
//		c.Result, c.Err = r.loop(ctx, req, park)
//	// in loop, before starting:
//	var from loopProgress
//	if _, err := park.Resume(&from); err != nil { return result, err }
//	// in runLoop, at the top of each iteration:
//	if park.ShouldPark(ctx) { return p, park.Park(p) }
//	// a delay between iterations: sleep with sleepUntil, and park when it
//	// says so (carry the delay's deadline in the progress to keep it)
//
// A node that parks must not have changed the scope's outputs in ways the
// progress does not hold: it is started again from the progress alone, with
// the same NodeRequest (its scope is rebuilt from the carried outputs).
type parking struct {
	r    *run
	from json.RawMessage // the progress it was parked with; nil on a fresh start
}

// ShouldPark reports whether the node should park at this safe point: the
// run is draining, or its history is over the budget now (it then starts
// draining). A node that runs many steps asks it between steps: while it
// runs alone, no other node's completion makes a boundary.
func (p *parking) ShouldPark(ctx workflow.Context) bool {
	p.r.considerDrain(ctx)
	return p.r.draining
}

// Ready is a future that becomes ready when the run starts draining, for
// nodes that block in a selector.
func (p *parking) Ready() workflow.Future { return p.r.parkReady }

// Resume decodes the progress the node was parked with into progress and
// reports whether there was one (false: a fresh start).
func (p *parking) Resume(progress any) (bool, error) {
	if p.from == nil {
		return false, nil
	}
	err := json.Unmarshal(p.from, progress) //workflowcheck:ignore (see wait)
	if err != nil {
		return false, temporal.NewNonRetryableApplicationError("the progress of a parked node: "+err.Error(), ErrConfiguration, nil)
	}
	return true, nil
}

// Park is what a node returns (as its error) to be parked with progress.
func (p *parking) Park(progress any) error {
	raw, err := json.Marshal(progress) //workflowcheck:ignore (see wait)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("the progress of a parked node: "+err.Error(), ErrConfiguration, nil)
	}
	return &parkedError{progress: raw}
}

// parkedError carries a parked node's progress from its runner to the
// scheduler; it never reaches the execution's result.
type parkedError struct{ progress json.RawMessage }

func (e *parkedError) Error() string { return "the node was parked for the next run" }

// parked reports the progress err carries when a node parked.
func parked(err error) (json.RawMessage, bool) {
	var pe *parkedError
	if errors.As(err, &pe) {
		return pe.progress, true
	}
	return nil, false
}

// considerDrain is called at each node boundary, before the nodes found
// ready start: when the run is over its budget, work is left for a next
// run, and the execution's history knows continuing as new (GetVersion;
// asked only then, so histories that never reach the budget are
// unchanged), it starts draining.
func (r *run) considerDrain(ctx workflow.Context) {
	if r.draining || r.comp.canceled() || !r.overBudget(ctx) || (r.running == 0 && !r.workLeft()) {
		return
	}
	if workflow.GetVersion(ctx, continueAsNewChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	r.draining = true
	r.setParkReady.Set(nil, nil)
}

// overBudget: Temporal suggests continuing as new, or the history reached
// the run's budget. GetInfo reads what the current workflow task started
// with, so a replay sees the same numbers.
func (r *run) overBudget(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	events, bytes := r.budget.limits()
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= events || info.GetCurrentHistorySize() >= bytes
}

// finishDrain is called when no node runs any more in a draining run: it
// lets the handlers finish and reports whether the run may continue as new.
// After a cancel it abandons the drain instead (see abandonDrain).
func (r *run) finishDrain(ctx workflow.Context) bool {
	if !r.workLeft() {
		// The nodes waited for were the last ones: the execution ends in
		// this run rather than in an empty next one.
		r.draining = false
		r.propagate(ctx)
		return false
	}
	r.continuing = true
	err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	if err == nil && !r.comp.canceled() {
		return true
	}
	r.continuing = false
	r.abandonDrain(ctx)
	return false
}

// workLeft says whether a node is parked or ready to start. When neither,
// no node can start any more (skipping a node only kills edges).
func (r *run) workLeft() bool {
	for i, n := range r.nodes {
		if n.progress != nil {
			return true
		}
		if decided, fired := r.incomingDecided(i); n.Status == StatusPending && decided && fired {
			return true
		}
	}
	return false
}

// abandonDrain ends a drain the execution's cancel interrupted: the parked
// nodes start again in this run from their progress (in the canceled
// context, so they are interrupted and their error edges decide
// compensation), and the nodes found ready meanwhile are decided.
func (r *run) abandonDrain(ctx workflow.Context) {
	r.draining = false
	r.parkReady, r.setParkReady = workflow.NewFuture(ctx)
	r.resumeParked(ctx)
	r.propagate(ctx)
}

// resumeParked starts again, in definition order, the nodes parked in this
// run or the former one.
func (r *run) resumeParked(ctx workflow.Context) {
	for i := range r.nodes {
		if progress := r.nodes[i].progress; progress != nil {
			r.nodes[i].progress = nil
			r.goNode(ctx, i, &parking{r: r, from: progress})
		}
	}
}

// continueAsNew ends the run: the signals not consumed are taken (no
// yield happens between this and the run's last command, so none can
// arrive unseen; one that arrives while the command is sent makes Temporal
// refuse it and replay this task with the signal) and the execution
// continues with the same input and a snapshot of its state.
func (r *run) continueAsNew(ctx workflow.Context) error {
	// Signals decodes the wait nodes' configs: deterministic (see wait).
	signals := r.g.def.Signals() //workflowcheck:ignore
	for _, name := range signals {
		ch := workflow.GetSignalChannel(ctx, name)
		for {
			var payload any
			if !ch.ReceiveAsync(&payload) {
				break
			}
			r.inbox = append(r.inbox, CarriedSignal{Name: name, Payload: payload})
		}
	}
	next := r.in
	next.Resume = r.snapshot()
	workflow.GetLogger(ctx).Info("continuing as new", "history_events", workflow.GetInfo(ctx).GetCurrentHistoryLength(),
		"parked", countParked(next.Resume), "signals", len(r.inbox))
	return workflow.NewContinueAsNewError(ctx, WorkflowName, next)
}

func countParked(s *Snapshot) int {
	n := 0
	for _, ns := range s.Nodes {
		if ns.Progress != nil {
			n++
		}
	}
	return n
}

// snapshot is the run's state for the next run, outputs pruned to what can
// still be read.
func (r *run) snapshot() *Snapshot { return r.snapshotKeeping(r.stillRead()) }

// snapshotKeeping is the run's state with the outputs keep holds (nil:
// every output whole).
func (r *run) snapshotKeeping(keep *scopeTries) *Snapshot {
	s := &Snapshot{
		StartedAt: r.info.StartedAt,
		Nodes:     make([]NodeSnapshot, len(r.nodes)),
		Edges:     slices.Clone(r.edges),
		Response:  r.response,
		Signals:   r.inbox,
	}
	for i, n := range r.nodes {
		ns := NodeSnapshot{NodeState: n.NodeState, Fired: n.fired, Progress: n.progress, EndSkipped: n.endSkipped}
		switch n.Status {
		case StatusCompleted:
			switch {
			case keep == nil || (!n.fired && len(r.g.def.Output) == 0):
				// Kept whole: no Reads, or a leaf the default output holds.
				ns.Output = n.output
			default:
				if t := keep.nodes.child(n.ID); t != nil {
					ns.Output = t.prune(n.output)
				}
			}
		case StatusFailed:
			if keep == nil || keep.errors.child(n.ID) != nil {
				ns.ErrorValue = n.errInfo
			}
		}
		s.Nodes[i] = ns
	}
	return s
}

// stillRead is what the nodes that have not finished (pending, or parked)
// and the output mapping read; nil when the execution carries no Reads
// (every node is given the whole scope, so everything is kept).
func (r *run) stillRead() *scopeTries {
	if r.reads == nil {
		return nil
	}
	var paths ScopePaths
	for i, n := range r.nodes {
		if n.Status != StatusCompleted && n.Status != StatusFailed && n.Status != StatusSkipped {
			paths = append(paths, r.reads.Nodes[i]...)
		}
	}
	paths = append(paths, r.reads.Output...)
	return newScopeTries(normalize(paths))
}

// restore rebuilds the run's state from the snapshot the former run left.
func (r *run) restore(s *Snapshot) error {
	if len(s.Nodes) != len(r.nodes) || len(s.Edges) != len(r.edges) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the snapshot of the former run has %d nodes and %d edges; the definition has %d and %d",
			len(s.Nodes), len(s.Edges), len(r.nodes), len(r.edges)), ErrConfiguration, nil)
	}
	if !s.StartedAt.IsZero() { // zero in a rerun: a new execution
		r.info.StartedAt = s.StartedAt
	}
	for i, ns := range s.Nodes {
		r.nodes[i] = nodeRun{NodeState: ns.NodeState, output: ns.Output, errInfo: ns.ErrorValue, fired: ns.Fired, progress: ns.Progress,
			endSkipped: ns.EndSkipped}
	}
	copy(r.edges, s.Edges)
	r.response = s.Response
	r.inbox = s.Signals
	r.resumed = true
	return nil
}

// takeCarried takes the first carried signal named name.
func (r *run) takeCarried(name string) (any, bool) {
	i := slices.IndexFunc(r.inbox, func(s CarriedSignal) bool { return s.Name == name })
	if i < 0 {
		return nil, false
	}
	payload := r.inbox[i].Payload
	r.inbox = slices.Delete(r.inbox, i, i+1)
	return payload, true
}
