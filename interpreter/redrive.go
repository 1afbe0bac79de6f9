package interpreter

import (
	"fmt"
	"slices"
)

// A redrive goes on with a closed (failed, timed-out, terminated)
// execution in a new run of the same workflow id; a rerun starts a new
// execution from a node of a former one. Both start the interpreter with
// a Snapshot (ExecutionInput.Resume) built from the former run's end state
// (the SnapshotQuery, answered by replay on a closed run), so the new run
// rebuilds that state as a continued run does (continueasnew.go) and
// starts only the nodes put back to pending: completed nodes keep their
// outputs and never run again.
//
// Why not Temporal's reset: a reset replays to a workflow-task boundary,
// and parallel branches (and local-activity nodes) that completed in the
// same task as the failure, or after it, would run again. The snapshot
// says node by node what ran.

// snapshotQuery answers the SnapshotQuery: the run's input and its state,
// every output whole (the nodes a redrive runs again may read any of them).
func (r *run) snapshotQuery() (ExecutionInput, error) {
	in := r.in
	in.Resume = r.snapshotKeeping(nil)
	return in, nil
}

// RedriveSnapshot is the state a redrive of def starts from, given the
// end state s of its closed run: every node that failed with no error
// edge fired, every node the end of the run skipped before it was
// decided, and every node still running when the run was terminated or
// timed out goes back to pending, and its outgoing edges back to
// undecided. The edges that made them ready stay fired, so the new run
// starts them at once; everything else is kept. It returns nil when the
// start node runs again: the redrive is then a fresh run.
func RedriveSnapshot(def *Definition, s *Snapshot) (*Snapshot, error) {
	if len(s.Nodes) != len(def.Nodes) || len(s.Edges) != len(def.Edges) {
		return nil, fmt.Errorf("the snapshot has %d nodes and %d edges; the definition has %d and %d",
			len(s.Nodes), len(s.Edges), len(def.Nodes), len(def.Edges))
	}
	out := cloneSnapshot(s)
	g := newGraph(def)
	for i, ns := range out.Nodes {
		if !redrives(ns) {
			continue
		}
		if ns.ID == def.StartNode {
			// Nothing ran after it: a fresh run (a resumed run never
			// starts the start node, which has no edge to make it ready).
			return nil, nil
		}
		resetNode(g, out, i)
	}
	return out, nil
}

// redrives says whether a redrive runs the node again.
func redrives(ns NodeSnapshot) bool {
	switch ns.Status {
	case StatusFailed:
		return !ns.Fired // a failure an error edge handled is kept
	case StatusSkipped:
		return ns.EndSkipped
	case StatusRunning, StatusWaiting:
		return ns.Progress == nil // a parked node resumes from its progress
	}
	return false
}

// resetNode puts node i back to pending with its outgoing edges undecided.
func resetNode(g *graph, s *Snapshot, i int) {
	n := g.def.Nodes[i]
	s.Nodes[i] = NodeSnapshot{NodeState: NodeState{ID: n.ID, Type: n.Type, Status: StatusPending}}
	for _, ei := range g.outgoing[i] {
		s.Edges[ei] = edgeUndecided
	}
}

func cloneSnapshot(s *Snapshot) *Snapshot {
	out := *s
	out.Nodes = slices.Clone(s.Nodes)
	out.Edges = slices.Clone(s.Edges)
	out.Signals = slices.Clone(s.Signals)
	return &out
}

// RerunSnapshot is the state a rerun of def from fromNode starts from,
// given the end state s of a run of old (the same definition or another
// version of it): fromNode and every node downstream of it are pending;
// every other node keeps its state in s, matched by id, as a redrive would
// keep it (failed and end-skipped nodes run again). It returns nil when
// fromNode is the start node: the rerun is then a fresh start. Every
// problem is listed (a kept node or edge missing from old, fromNode not
// reached in the former run).
func RerunSnapshot(old *Definition, s *Snapshot, def *Definition, fromNode string) (*Snapshot, []string) {
	g := newGraph(def)
	from, ok := g.index[fromNode]
	if !ok {
		return nil, []string{fmt.Sprintf("fromNode %q is not a node of %s@%s", fromNode, def.ID, def.Version)}
	}
	if len(s.Nodes) != len(old.Nodes) || len(s.Edges) != len(old.Edges) {
		return nil, []string{"the former execution's state does not match its definition"}
	}
	if fromNode == def.StartNode {
		return nil, nil
	}
	downstream := g.downstreamOf(from)
	oldGraph := newGraph(old)
	out := &Snapshot{Nodes: make([]NodeSnapshot, len(def.Nodes)), Edges: make([]int, len(def.Edges))}
	var problems []string
	reset := make([]bool, len(def.Nodes))
	for i, n := range def.Nodes {
		oi, found := oldGraph.index[n.ID]
		switch {
		case downstream[i]:
			reset[i] = true
		case !found:
			problems = append(problems, fmt.Sprintf("node %q runs before %q but is not in %s@%s, whose output would be reused",
				n.ID, fromNode, old.ID, old.Version))
		default:
			out.Nodes[i] = s.Nodes[oi]
			out.Nodes[i].Type = n.Type
			reset[i] = redrives(s.Nodes[oi]) || s.Nodes[oi].Status == StatusPending
		}
	}
	for ei, e := range def.Edges {
		if reset[g.index[e.Source]] {
			continue // undecided
		}
		oei := slices.IndexFunc(old.Edges, func(o Edge) bool { return o.ID == e.ID && o.Source == e.Source && o.Target == e.Target })
		if oei < 0 {
			problems = append(problems, fmt.Sprintf("edge %q (%s -> %s) is not in %s@%s: whether it fired is unknown",
				e.ID, e.Source, e.Target, old.ID, old.Version))
			continue
		}
		out.Edges[ei] = s.Edges[oei]
	}
	if len(problems) > 0 {
		return nil, problems
	}
	for i := range def.Nodes {
		if reset[i] {
			resetNode(g, out, i)
		}
	}
	// fromNode must be ready: every incoming edge decided, one fired.
	decided, fired := true, false
	for _, ei := range g.incoming[from] {
		decided = decided && out.Edges[ei] != edgeUndecided
		fired = fired || out.Edges[ei] == edgeFired
	}
	if !decided || !fired {
		return nil, []string{fmt.Sprintf("node %q was not reached in the former execution (its incoming edges did not fire): nothing to rerun it from", fromNode)}
	}
	return out, nil
}

// downstreamOf is node i and every node reachable from it.
func (g *graph) downstreamOf(i int) []bool {
	seen := make([]bool, len(g.def.Nodes))
	stack := []int{i}
	seen[i] = true
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, ei := range g.outgoing[n] {
			t := g.index[g.def.Edges[ei].Target]
			if !seen[t] {
				seen[t] = true
				stack = append(stack, t)
			}
		}
	}
	return seen
}
