package testmode

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Statuses of a test run: those of GET /api/executions/{id} a run without
// a server can end with.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Result is a test run's outcome, in the shape of GET
// /api/executions/{id}: status, output or error, the nodes in definition
// order, plus each node's output and the path the run took.
type Result struct {
	DefinitionID string `json:"definitionId"`
	Version      string `json:"version"`
	Status       string `json:"status"`
	Output       any    `json:"output,omitempty"`
	// Error is the execution's failure as the interpreter reports it (the
	// API shows it as it shows a real execution's error).
	Error *interpreter.ExecutionError `json:"error,omitempty"`
	Nodes []Node                      `json:"nodes"`
	// Path lists the nodes that ran (completed or failed), in the order
	// they started.
	Path []string `json:"path"`
	// Err is the workflow's error as the SDK returned it, nil when it
	// completed.
	Err error `json:"-"`
}

// Node is one node's state, with its output (absent for nodes that did
// not complete, and for timer waits and respond nodes, which run in the
// workflow) and the type of its error.
type Node struct {
	interpreter.NodeState
	Output    any    `json:"output,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
}

func (e *Engine) result(env *testsuite.TestWorkflowEnvironment, def interpreter.Definition, rec *recorder) (*Result, error) {
	res := &Result{DefinitionID: def.ID, Version: def.Version, Status: StatusCompleted}
	if werr := env.GetWorkflowError(); werr != nil {
		res.Err = werr
		res.Status, res.Error = failureOf(werr)
	} else if err := env.GetWorkflowResult(&res.Output); err != nil {
		return nil, fmt.Errorf("read the result: %w", err)
	}
	v, err := env.QueryWorkflow(interpreter.NodesQuery)
	if err != nil {
		return nil, fmt.Errorf("query the node states: %w", err)
	}
	var states []interpreter.NodeState
	if err := v.Get(&states); err != nil {
		return nil, fmt.Errorf("decode the node states: %w", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	res.Nodes = make([]Node, len(states))
	for i, st := range states {
		res.Nodes[i] = Node{NodeState: st}
		if n := rec.attempts[st.ID]; n > 0 {
			res.Nodes[i].Attempts = n
		}
		switch st.Status {
		case interpreter.StatusCompleted:
			res.Nodes[i].Output = rec.outputs[st.ID]
		case interpreter.StatusFailed:
			res.Nodes[i].ErrorType = rec.errs[st.ID]
		}
	}
	res.Path = path(def, res.Nodes, rec.started)
	return res, nil
}

// failureOf reads the execution error the interpreter failed with.
func failureOf(err error) (string, *interpreter.ExecutionError) {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return StatusCanceled, &interpreter.ExecutionError{Type: "Canceled", Message: "the execution was canceled"}
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		var ee interpreter.ExecutionError
		if appErr.HasDetails() && appErr.Details(&ee) == nil && ee.Type != "" {
			return StatusFailed, &ee
		}
		return StatusFailed, &interpreter.ExecutionError{Type: cmp.Or(appErr.Type(), "Error"), Message: appErr.Message()}
	}
	return StatusFailed, &interpreter.ExecutionError{Type: "Error", Message: err.Error()}
}

// errorType is the type errors.<id>.type shows for a node's error.
func errorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() != "" {
		return appErr.Type()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "Timeout"
	}
	return "Error"
}

// path orders the nodes that ran as they started: a node comes after every
// node that ran with an edge into it, then by workflow time (which moves
// on only across the skipped timers), then by when its activity first ran,
// then in definition order. Nodes carried out in the workflow (waits,
// respond) have no activity and sort by the rest.
func path(def interpreter.Definition, nodes []Node, started []string) []string {
	index := map[string]int{}
	for i, n := range def.Nodes {
		index[n.ID] = i
	}
	ran := map[string]bool{}
	for _, n := range nodes {
		if n.Status == interpreter.StatusCompleted || n.Status == interpreter.StatusFailed {
			ran[n.ID] = true
		}
	}
	started = slices.Clone(started)
	seq := func(id string) int {
		if i := slices.Index(started, id); i >= 0 {
			return i
		}
		return len(def.Nodes) + len(started)
	}
	startedAt := func(id string) time.Time {
		if t := nodes[index[id]].StartedAt; t != nil {
			return *t
		}
		return time.Time{}
	}
	placed := map[string]bool{}
	var out []string
	for len(out) < len(ran) {
		var next string
		for _, n := range def.Nodes {
			if !ran[n.ID] || placed[n.ID] || !predecessorsPlaced(def, n.ID, ran, placed) {
				continue
			}
			if next == "" || earlier(n.ID, next, startedAt, seq, index) {
				next = n.ID
			}
		}
		if next == "" {
			break // cannot happen in a DAG
		}
		placed[next] = true
		out = append(out, next)
	}
	return out
}

func predecessorsPlaced(def interpreter.Definition, id string, ran, placed map[string]bool) bool {
	for _, e := range def.Edges {
		if e.Target == id && ran[e.Source] && !placed[e.Source] {
			return false
		}
	}
	return true
}

func earlier(a, b string, startedAt func(string) time.Time, seq func(string) int, index map[string]int) bool {
	if c := startedAt(a).Compare(startedAt(b)); c != 0 {
		return c < 0
	}
	if c := cmp.Compare(seq(a), seq(b)); c != 0 {
		return c < 0
	}
	return index[a] < index[b]
}
