package interpreter

import (
	"encoding/json"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Edge states during a run. An edge is decided once it has fired or is dead.
const (
	edgeUndecided = iota
	edgeFired
	edgeDead
)

// nodeRun is one node's state during a run, kept in a slice aligned with
// Definition.Nodes so every walk happens in definition order.
type nodeRun struct {
	NodeState
	output  any
	errInfo map[string]any
	fired   bool // at least one outgoing edge fired (not a leaf of the run)
	// progress of a node parked for the next run (continueasnew.go).
	progress json.RawMessage
	// endSkipped: skipped because the run ended before the node was
	// decided (skipUndecided), not on a dead path: a redrive runs it.
	endSkipped bool
}

// graph is the definition indexed for the scheduler.
type graph struct {
	def      *Definition
	index    map[string]int // node id -> position; read by key only, never ranged
	incoming [][]int        // node -> edge positions, definition order
	outgoing [][]int
}

func newGraph(def *Definition) *graph {
	g := &graph{
		def:      def,
		index:    make(map[string]int, len(def.Nodes)),
		incoming: make([][]int, len(def.Nodes)),
		outgoing: make([][]int, len(def.Nodes)),
	}
	for i, n := range def.Nodes {
		g.index[n.ID] = i
	}
	for ei, e := range def.Edges {
		s, t := g.index[e.Source], g.index[e.Target]
		g.outgoing[s] = append(g.outgoing[s], ei)
		g.incoming[t] = append(g.incoming[t], ei)
	}
	return g
}

func (g *graph) outgoingEdges(node int) []Edge {
	edges := make([]Edge, len(g.outgoing[node]))
	for i, ei := range g.outgoing[node] {
		edges[i] = g.def.Edges[ei]
	}
	return edges
}

// errorValue is what `errors.<id>` holds for a failed node: the error's type,
// its message and, for validation errors, the failed fields.
func errorValue(err error) map[string]any {
	v := map[string]any{"type": errorType(err), "message": rootMessage(err)}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrValidation && appErr.HasDetails() {
		var fields []FieldError
		if appErr.Details(&fields) == nil {
			v["fields"] = fields
		}
	}
	return v
}

// failedAttempts is how many attempts a failed node made, as far as the
// workflow can tell: every attempt its policy allows when Temporal reports
// that they ran out, else 1. The SDK does not tell the workflow which attempt
// failed last, so a non-retryable error after transient ones counts as 1.
func failedAttempts(err error, p *temporal.RetryPolicy) int32 {
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) && actErr.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
		return p.MaximumAttempts
	}
	return 1
}

// errorType names the kind of a node failure: the application error type, or
// Timeout / Canceled / Terminated / Panic for the SDK's own errors.
func errorType(err error) string {
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	var canceledErr *temporal.CanceledError
	var panicErr *temporal.PanicError
	switch {
	case errors.As(err, &appErr):
		if appErr.Type() == "" {
			return "Error"
		}
		return appErr.Type()
	case errors.As(err, &timeoutErr):
		return "Timeout"
	case errors.As(err, &canceledErr):
		return "Canceled"
	case errors.As(err, &panicErr):
		return "Panic"
	default:
		return "Error"
	}
}

// rootMessage is the innermost error's message: the ActivityError wrapper's
// own text ("activity error (type: ..., scheduledEventID: ...)") says nothing
// a user can act on.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	// ApplicationError.Error() appends "(type: X, retryable: false)".
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	// A panic's text is the Go runtime's (and the history keeps its
	// stack): not for the people reading the execution.
	var panicErr *temporal.PanicError
	if errors.As(err, &panicErr) {
		return "the node's code panicked (the worker's log and the history have the details)"
	}
	return err.Error()
}

func timePtr(t time.Time) *time.Time { return &t }
