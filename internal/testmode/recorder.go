package testmode

import (
	"context"
	"maps"
	"slices"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// nodeActivity is the signature of every node type's activity.
type nodeActivity = func(context.Context, interpreter.NodeRequest) (interpreter.NodeResult, error)

// recorder answers the I/O nodes from their mocks and keeps, per node, the
// order in which nodes first ran and what their last attempt returned: the
// interpreter's nodes query has each node's status, not its output.
// Activities of parallel branches run concurrently, hence the lock.
type recorder struct {
	registry *interpreter.Registry
	mocks    map[string]Mock

	mu      sync.Mutex
	started []string          // node ids, in the order of their first attempt
	outputs map[string]any    // node id -> output of its successful attempt
	errs    map[string]string // node id -> error type of its last failed attempt
	// attempts counts each node's attempts: the interpreter can tell only
	// that a node ran out of attempts, not how many a failure took.
	attempts map[string]int32
}

func newRecorder(registry *interpreter.Registry, mocks map[string]Mock) *recorder {
	return &recorder{registry: registry, mocks: mocks, outputs: map[string]any{}, errs: map[string]string{}, attempts: map[string]int32{}}
}

// registrar wraps r so that every node type's activity it registers is
// recorded; the interpreter's helper activities (edges, output, …) pass
// unchanged.
func (rec *recorder) registrar(r activities.Registrar) activities.Registrar {
	return recordingRegistrar{r: r, rec: rec}
}

type recordingRegistrar struct {
	r   activities.Registrar
	rec *recorder
}

func (rr recordingRegistrar) RegisterActivityWithOptions(a any, options activity.RegisterOptions) {
	if fn, ok := a.(nodeActivity); ok {
		if _, isNodeType := rr.rec.registry.Lookup(options.Name); isNodeType {
			a = rr.rec.record(fn)
		}
	}
	rr.r.RegisterActivityWithOptions(a, options)
}

// record wraps a node activity: it notes the node's first attempt and the
// outcome of each attempt.
func (rec *recorder) record(fn nodeActivity) nodeActivity {
	return func(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
		rec.mu.Lock()
		if !slices.Contains(rec.started, req.Node.ID) {
			rec.started = append(rec.started, req.Node.ID)
		}
		rec.attempts[req.Node.ID]++
		rec.mu.Unlock()
		res, err := fn(ctx, req)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if err != nil {
			rec.errs[req.Node.ID] = errorType(err)
		} else {
			delete(rec.errs, req.Node.ID)
			rec.outputs[req.Node.ID] = res.Output
		}
		return res, err
	}
}

// signalled records a signal wait's mocked payload as its output.
func (rec *recorder) signalled(nodeID string, payload any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.outputs[nodeID] = payload
}

// mocked is the activity of every I/O node type: it answers attempt n of
// node id with the mock's entry n (the last entry answers later attempts).
// A success decides the node's edges with the real edges helper (their
// conditions may read nodes.<id>); a failure is an application error of the
// mock's type, non-retryable unless the mock says otherwise, so retries and
// error edges behave as in production.
func (rec *recorder) mocked(a *activities.Activities) nodeActivity {
	return func(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
		attempt := activity.GetInfo(ctx).Attempt
		answer := rec.mocks[req.Node.ID].attempt(attempt)
		if e := answer.Error; e != nil {
			return interpreter.NodeResult{}, temporal.NewApplicationErrorWithOptions(e.Message, e.Type,
				temporal.ApplicationErrorOptions{NonRetryable: !e.Retryable})
		}
		scope := req.Scope
		scope.Nodes = maps.Clone(scope.Nodes)
		if scope.Nodes == nil {
			scope.Nodes = map[string]any{}
		}
		scope.Nodes[req.Node.ID] = answer.Output
		fired, err := a.Edges(ctx, interpreter.EdgesRequest{Outcome: interpreter.OutcomeSuccess, Edges: req.Edges, Scope: scope})
		if err != nil {
			return interpreter.NodeResult{}, err
		}
		return interpreter.NodeResult{Output: answer.Output, Outcome: interpreter.OutcomeSuccess, Fired: fired, Attempt: attempt}, nil
	}
}
