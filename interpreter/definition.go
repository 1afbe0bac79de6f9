package interpreter

import (
	"encoding/json"
	"slices"
)

// Definition is a graph of nodes and edges that the interpreter workflow runs.
// It is the seed's format (id, name, description, version, startNode, nodes,
// edges) plus inputSchema, output, per-node retry/timeout/execution and
// per-edge on/condition. A registered (id, version) never changes.
type Definition struct {
	// Schema is the document's "$schema": an editor's reference to the
	// definition's JSON Schema (GET /api/schema/definition.json). It is no
	// part of the definition: Parse clears it, so it is never stored,
	// hashed or run.
	Schema      string            `json:"$schema,omitempty"`
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	Description string            `json:"description,omitempty"`
	Version     string            `json:"version"`
	StartNode   string            `json:"startNode"`
	InputSchema json.RawMessage   `json:"inputSchema,omitempty"`
	Output      map[string]string `json:"output,omitempty"` // result key -> CEL expression
	Nodes       []Node            `json:"nodes"`
	Edges       []Edge            `json:"edges"`
	// Cache opts into the API's result cache (cache.go). Optional.
	Cache *CachePolicy `json:"cache,omitempty"`
}

// Node is one step of the graph. Config is decoded by the node type.
type Node struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Label     string          `json:"label,omitempty"`
	Config    json.RawMessage `json:"config,omitempty"`
	Retry     *RetryPolicy    `json:"retry,omitempty"`
	Timeout   string          `json:"timeout,omitempty"`   // start-to-close of one attempt (Go duration)
	Execution string          `json:"execution,omitempty"` // "", "local" or "remote"
}

// RetryPolicy overrides the node type's default retries. Durations are Go
// duration strings ("1s", "5m").
type RetryPolicy struct {
	MaximumAttempts    int32   `json:"maximumAttempts,omitempty"`
	InitialInterval    string  `json:"initialInterval,omitempty"`
	BackoffCoefficient float64 `json:"backoffCoefficient,omitempty"`
	MaximumInterval    string  `json:"maximumInterval,omitempty"`
}

// Edge connects two nodes. It fires when the source's outcome matches On
// ("success" when empty) and Condition, a CEL expression, is true or absent.
type Edge struct {
	ID        string `json:"id,omitempty"`
	Source    string `json:"source"`
	Target    string `json:"target"`
	Label     string `json:"label,omitempty"`
	On        string `json:"on,omitempty"`
	Condition string `json:"condition,omitempty"`
}

// Outcomes a node can end with; an edge's On names one of them.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
	OutcomeTrue    = "true"
	OutcomeFalse   = "false"
	OutcomeTimeout = "timeout"
)

// Execution modes of a node.
const (
	ExecutionLocal  = "local"
	ExecutionRemote = "remote"
)

// EdgeOn returns the outcome the edge waits for, defaulting to success.
func (e Edge) EdgeOn() string {
	if e.On == "" {
		return OutcomeSuccess
	}
	return e.On
}

// Signals lists the signals the definition's wait nodes wait for, in node
// order without repeats: the only signals an execution of it can use.
func (d *Definition) Signals() []string {
	var names []string
	for _, n := range d.Nodes {
		if n.Type != waitNodeType().Name {
			continue
		}
		cfg, err := decodeConfig[WaitConfig](n.Config, "wait")
		if err != nil || cfg.Signal == "" || slices.Contains(names, cfg.Signal) {
			continue
		}
		names = append(names, cfg.Signal)
	}
	return names
}
