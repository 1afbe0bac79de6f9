package interpreter

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// Body is what a loop or map node runs once per iteration or item: one
// node, as an activity of this execution, or a registered definition, as a
// child execution. Exactly one of Node and Definition is set.
type Body struct {
	Node       *BodyNode `json:"node,omitempty"`
	Definition string    `json:"definition,omitempty"`
	// Version of the body definition: registration pins an absent one to
	// the then-latest version, as for a call node.
	Version string `json:"version,omitempty"`
}

// BodyNode is a node without an id (the loop or map node gives it one per
// run, see bodyNodeID) and without edges (the loop or map decides what
// comes next).
type BodyNode struct {
	Type      string          `json:"type"`
	Label     string          `json:"label,omitempty"`
	Config    json.RawMessage `json:"config,omitempty"`
	Retry     *RetryPolicy    `json:"retry,omitempty"`
	Timeout   string          `json:"timeout,omitempty"`
	Execution string          `json:"execution,omitempty"`
}

// node is the body node as the node with the given id.
func (b *BodyNode) node(id string) Node {
	return Node{ID: id, Type: b.Type, Label: b.Label, Config: b.Config, Retry: b.Retry, Timeout: b.Timeout, Execution: b.Execution}
}

// bodyNodeID names the run of a node body for item or iteration n of owner:
// "reserve[3]". It is the activity id of a remote body (unique in the run:
// node ids have no brackets, and each n runs once) and the summary the Web
// UI shows; the same on every replay.
func bodyNodeID(owner string, n int) string { return fmt.Sprintf("%s[%d]", owner, n) }

// bodyChildID is the workflow id of the child execution a definition body
// runs for item or iteration n of owner: CallChildID extended with n
// ("orders-<uuid>.reserve.3"), stable across replays, so idempotency keys
// derived from it stay stable.
func bodyChildID(parentID, owner string, n int) string {
	return fmt.Sprintf("%s.%d", CallChildID(parentID, owner), n)
}

// checkBody checks a loop or map node's body; l is under "body". A node
// body is checked with its type's own CheckConfig (problems under
// "body.node.config"). The interpreter's own node types cannot be bodies:
// a wait or respond repeated per item makes no sense (signals and the
// response belong to the execution), and a call, loop or map body is a
// definition body, which says the same with its own graph.
func checkBody(reg *Registry, b Body, l *problem.List, exprs ExprChecker) {
	switch {
	case b.Node != nil && b.Definition != "":
		l.Add("", CodeInvalidConfig, "a body is either {\"node\": …} or {\"definition\": …}, not both")
	case b.Node == nil && b.Definition == "":
		l.Add("", CodeRequired, "a body is required: {\"node\": {\"type\": …, \"config\": …}} or {\"definition\": \"id\"}")
	case b.Node != nil:
		if b.Version != "" {
			l.Add("version", CodeInvalidConfig, "version goes with a definition body")
		}
		checkBodyNode(reg, *b.Node, l.Under("node"), exprs)
	default:
		l.ID("definition", b.Definition, problem.DefinitionID)
		if b.Version != "" {
			l.ID("version", b.Version, problem.Version)
		}
	}
}

func checkBodyNode(reg *Registry, b BodyNode, at *problem.List, exprs ExprChecker) {
	if b.Type == "" {
		at.Add("type", CodeRequired, "node type is required")
		return
	}
	nt, ok := reg.Lookup(b.Type)
	if !ok {
		at.Add("type", CodeUnknownNodeType, "unknown node type %q (known: %s)", b.Type, strings.Join(reg.Names(), ", "))
		return
	}
	if nt.Kind == KindWorkflow {
		at.Add("type", CodeInvalidConfig, "a %s node cannot be a body: a node body runs an activity once per item or iteration; run a definition body instead ({\"definition\": \"id\"})", b.Type)
		return
	}
	n := b.node("body")
	checkExecution(at, n, nt)
	checkTimeouts(at, n, nt)
	if nt.CheckConfig != nil {
		at.Under("config").Append(nt.CheckConfig(b.Config, exprs)...)
	}
}

// bodyImplicitReads is what a node body's type reads besides its
// expressions (see NodeType.ImplicitReads).
func bodyImplicitReads(reg *Registry, b Body) []string {
	if b.Node == nil {
		return nil
	}
	nt, ok := reg.Lookup(b.Node.Type)
	if !ok || nt.ImplicitReads == nil {
		return nil
	}
	return nt.ImplicitReads(b.Node.Config)
}

// bodyRun is one run of a body: item or iteration N of the node Owner.
type bodyRun struct {
	Owner NodeRequest // the loop or map node's request: its id and scope
	N     int
	// Vars are the body's variables (Scope.Vars of a node body).
	Vars map[string]any
	// Input is a definition body's input.
	Input map[string]any
}

// runBody runs one body: a node body as its type's activity, scheduled as
// any node of that type (local for pure types, the I/O queue for I/O
// types), with the owner's scope plus the body's variables; a definition
// body as a child execution of the interpreter, as a call node runs it. It
// returns the body's output.
func (r *run) runBody(ctx workflow.Context, b Body, br bodyRun) (any, error) {
	if b.Node != nil {
		nt, known := r.registry.Lookup(b.Node.Type)
		if !known || nt.Kind == KindWorkflow {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("node %s: body node type %q is not an activity registered on this worker", br.Owner.Node.ID, b.Node.Type), ErrConfiguration, nil)
		}
		n := b.Node.node(bodyNodeID(br.Owner.Node.ID, br.N))
		scope := br.Owner.Scope
		scope.Vars = br.Vars
		var res NodeResult
		if err := nodeActivity(ctx, n, nt.Kind, NodeRequest{Node: n, Scope: scope}).Get(ctx, &res); err != nil {
			return nil, err
		}
		return res.Output, nil
	}
	def, err := r.bodyDefinition(b, br.Owner.Node.ID)
	if err != nil {
		return nil, err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            bodyChildID(r.info.ID, br.Owner.Node.ID, br.N),
		TypedSearchAttributes: childSearchAttributes(ctx, def),
		StaticSummary:         fmt.Sprintf("%s: %s %s", bodyNodeID(br.Owner.Node.ID, br.N), def.ID, def.Version),
		// A cancelled item (the execution's cancel, or another item's
		// failure) is waited for until the child has ended: the node
		// completes only when none of its children runs.
		WaitForCancellation: true,
	})
	var out any
	err = workflow.ExecuteChildWorkflow(cctx, WorkflowName, ExecutionInput{Definition: def, Input: br.Input, Called: r.called}).Get(ctx, &out)
	if err != nil {
		return nil, childError(err)
	}
	return out, nil
}

// bodyDefinition finds a definition body's pinned snapshot.
func (r *run) bodyDefinition(b Body, owner string) (Definition, error) {
	def, ok := findCalled(r.called, b.Definition, b.Version)
	if !ok {
		return Definition{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("node %s: definition %s %s is not among the definitions this execution carries", owner, b.Definition, b.Version), ErrConfiguration, nil)
	}
	return def, nil
}

// bodySchema is the JSON Schema of a loop's or map's body (their
// ConfigSchema): a node without id, whose config its own type checks at
// registration, or a registered definition.
const bodySchema = `{
		"type": "object",
		"additionalProperties": false,
		"properties": {
			"node": {
				"type": "object",
				"additionalProperties": false,
				"required": ["type"],
				"properties": {
					"type": {"type": "string", "description": "A node type (not wait, call, respond, loop or map: use a definition body)"},
					"label": {"type": "string"},
					"config": {"type": "object", "description": "The node type's config"},
					"retry": {"type": "object"},
					"timeout": {"type": "string"},
					"execution": {"enum": ["", "local", "remote"]}
				}
			},
			"definition": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$", "description": "The id of a registered definition, run as a child execution per element or iteration"},
			"version": {"type": "string"}
		},
		"oneOf": [{"required": ["node"]}, {"required": ["definition"]}]
	}`
