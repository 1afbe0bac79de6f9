package interpreter

import (
	"encoding/json"
	"time"
)

// Names shared by the API, the worker and the interpreter. They are part of
// the recorded histories and of what operators type into the CLI: treat them
// as append-only.
const (
	// WorkflowName is the one workflow type that interprets every graph.
	WorkflowName = "interpreter"
	// NodesQuery returns the per-node state ([]NodeState) of an execution.
	NodesQuery = "nodes"
	// ResponseUpdate waits until a respond node ran (or the execution
	// ended) and returns a ResponseResult: the API sends it with
	// Update-with-Start to answer the caller early.
	ResponseUpdate = "response"
	// ResponseQuery returns the response a respond node recorded (*Response,
	// null when none ran), read by GET /api/executions/{id}.
	ResponseQuery = "response"
	// ExecutionQuery returns the ExecutionInfo of an execution: its start
	// is the first run's, also in a run that continued as new.
	ExecutionQuery = "execution"
	// SnapshotQuery returns the run's ExecutionInput with Resume set to the
	// run's current state, outputs whole (a closed run is queried by
	// replay): what a redrive or a rerun starts from (redrive.go).
	SnapshotQuery = "snapshot"

	// IOTaskQueueSuffix names the queue of the I/O node types (TASK_QUEUE + suffix),
	// served only by the dedicated workers that hold the secrets.
	IOTaskQueueSuffix = "-io"

	// Search attributes set on every execution (Keyword).
	SearchAttrDefinitionID      = "DefinitionId"
	SearchAttrDefinitionVersion = "DefinitionVersion"
	// SearchAttrCaller is the API key name (or "anonymous") of the caller
	// that started the execution: the API scopes execution reads by it.
	SearchAttrCaller = "WorkflowBackendCaller"

	// Activities the interpreter schedules that are not node types. They run
	// as local activities: the workflow never evaluates CEL itself.
	EdgesActivity  = "edges"  // decides which edges fire after an error or a wait
	UntilActivity  = "until"  // evaluates a wait node's `until` timestamp
	OutputActivity = "output" // evaluates the definition's output mapping
	// CallInputActivity evaluates a call node's input mapping and checks it
	// against the called definition's inputSchema (a CallInputRequest); a
	// respond node's body is evaluated by it too (no schema).
	CallInputActivity = "call_input"
	// LoopStepActivity decides, after an iteration of a loop node, whether
	// its until holds, and evaluates the next iteration's input (a
	// LoopStepRequest).
	LoopStepActivity = "loop_step"
	// MapItemsActivity evaluates a map node's items (a MapItemsRequest).
	MapItemsActivity = "map_items"
)

// Error types: the Type of the temporal.ApplicationError a node or the
// execution fails with. They cross process boundaries; never rename one.
const (
	ErrValidation    = "ValidationError"    // a validation node rejected the input; never retried
	ErrBusiness      = "BusinessError"      // a fail node ended the execution (HTTP status + code)
	ErrExpression    = "ExpressionError"    // a CEL expression failed at run time; never retried
	ErrConfiguration = "ConfigurationError" // a node's config is unusable; never retried
	ErrPayloadTooBig = "PayloadTooLarge"    // a node output over the size cap; never retried
	ErrNodeFailed    = "NodeFailed"         // the execution failed because a node failed with no error edge
	ErrWaitTimeout   = "WaitTimeout"        // a signal wait timed out with no timeout edge
	ErrLoopExhausted = "LoopExhausted"      // a loop reached maxIterations before its until held
	ErrTooManyItems  = "TooManyItems"       // a map's items are more than its maxItems
)

// ExecutionInput is the workflow's input: the definition is a pinned snapshot,
// so a replay of an old history sees the graph it ran with.
type ExecutionInput struct {
	Definition Definition `json:"definition"`
	Input      any        `json:"input"`
	// Reads limits each node's scope to what it reads (see Reads). Absent
	// in executions started before it existed: every node then gets the
	// whole scope.
	Reads *Reads `json:"reads,omitempty"`
	// Called holds pinned snapshots of every definition the call nodes of
	// Definition run, and those they call in turn (each (id, version)
	// once): the API fills it when it starts the execution, so the workflow
	// never reads the store and a replay sees the graphs the execution
	// started with. A child execution carries the same list.
	Called []Definition `json:"called,omitempty"`
	// RunBudget is when a run continues as new besides Temporal's
	// suggestion; nil: the defaults (see RunBudget). A child execution
	// carries its parent's.
	RunBudget *RunBudget `json:"runBudget,omitempty"`
	// Resume is the state of the former run, in a run that continues an
	// execution (continueasnew.go); nil in its first run.
	Resume *Snapshot `json:"resume,omitempty"`
	// Batch, when set, makes this execution one batch of a map node's
	// items (map.go) instead of a run of Definition: the parent starts
	// batches when its list is too long for one run's history.
	Batch *MapBatch `json:"batch,omitempty"`
}

// ExecutionInfo is the `execution` variable of expressions.
type ExecutionInfo struct {
	ID           string    `json:"id"`
	DefinitionID string    `json:"definitionId"`
	Version      string    `json:"version"`
	StartedAt    time.Time `json:"startedAt"`
}

// Scope holds the variables an expression sees.
type Scope struct {
	Input     any            `json:"input"`
	Nodes     map[string]any `json:"nodes"`  // node id -> output of a completed node
	Errors    map[string]any `json:"errors"` // node id -> error of a failed node
	Execution ExecutionInfo  `json:"execution"`
	// Vars are a loop or map body's variables (item, index, iteration,
	// last). Absent everywhere else, so requests of other nodes are
	// unchanged.
	Vars map[string]any `json:"vars,omitempty"`
}

// NodeRequest is the input of a node type's activity.
type NodeRequest struct {
	Node  Node   `json:"node"`
	Edges []Edge `json:"edges"` // the node's outgoing edges, in definition order
	Scope Scope  `json:"scope"`
}

// NodeResult is what a node's activity returns: its output, its outcome and
// which of its outgoing edges fire (ids, definition order).
type NodeResult struct {
	Output  any      `json:"output"`
	Outcome string   `json:"outcome"`
	Fired   []string `json:"fired"`
	Attempt int32    `json:"attempt"`
}

// EdgesRequest asks the edges activity which of Edges fire for Outcome.
// Scope already holds the node's output or error.
type EdgesRequest struct {
	Outcome string `json:"outcome"`
	Edges   []Edge `json:"edges"`
	Scope   Scope  `json:"scope"`
}

// UntilRequest asks the until activity to evaluate a timestamp expression.
type UntilRequest struct {
	Expression string `json:"expression"`
	Scope      Scope  `json:"scope"`
}

// LoopStepRequest asks the loop_step activity, after Done iterations whose
// last output is Last, whether Until holds (not asked when Done is 0), and
// when it does not, for the next iteration's input: Input evaluated with
// iteration = Done+1 and checked against InputSchema (a definition body's).
type LoopStepRequest struct {
	Until       string            `json:"until"`
	Done        int               `json:"done"`
	Last        any               `json:"last"`
	Input       map[string]string `json:"input,omitempty"`
	InputSchema json.RawMessage   `json:"inputSchema,omitempty"`
	Definition  string            `json:"definition,omitempty"` // id@version, for messages
	Scope       Scope             `json:"scope"`
}

// LoopStep is the loop_step activity's answer.
type LoopStep struct {
	Done  bool           `json:"done"`
	Input map[string]any `json:"input,omitempty"`
}

// MapItemsRequest asks the map_items activity for a map node's list:
// Expression evaluated over Scope, at most MaxItems long.
type MapItemsRequest struct {
	Expression string `json:"expression"`
	MaxItems   int    `json:"maxItems"`
	Scope      Scope  `json:"scope"`
}

// OutputRequest asks the output activity to build the execution result.
type OutputRequest struct {
	Mapping map[string]string `json:"mapping"`
	Scope   Scope             `json:"scope"`
}

// CallInputRequest asks the call_input activity for a child execution's
// input: Mapping evaluated over Scope, checked against InputSchema (the
// called definition's, when it has one) as the API checks an execute
// request's input.
type CallInputRequest struct {
	Mapping     map[string]string `json:"mapping"`
	Scope       Scope             `json:"scope"`
	Definition  string            `json:"definition"` // id@version, for messages
	InputSchema json.RawMessage   `json:"inputSchema,omitempty"`
	// Default, when set, is the input as it is (a loop or map body's
	// default input): Mapping is not evaluated, the schema still checks it.
	Default map[string]any `json:"default,omitempty"`
}

// FieldError is one failed validation rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// BusinessFailure is the detail of an ErrBusiness error.
type BusinessFailure struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ExecutionError is the detail of the application error an execution fails
// with. The API turns it into the HTTP error.
type ExecutionError struct {
	Type     string       `json:"type"`             // one of the Err* constants
	NodeID   string       `json:"nodeId,omitempty"` // the node that failed
	NodeType string       `json:"nodeType,omitempty"`
	Status   int          `json:"status,omitempty"` // HTTP status a fail node declared
	Code     string       `json:"code,omitempty"`   // machine code, e.g. email_exists
	Message  string       `json:"message"`
	Fields   []FieldError `json:"fields,omitempty"` // validation failures
}

// Node states reported by the NodesQuery.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusWaiting   = "waiting"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// NodeState is one node's progress, as the API shows it.
type NodeState struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Status     string     `json:"status"`
	Attempts   int32      `json:"attempts"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Error      string     `json:"error,omitempty"`
}
