package interpreter

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// CallConfig is the config of a call node: it runs another registered
// definition as a child execution of the interpreter workflow.
type CallConfig struct {
	Definition string `json:"definition"`
	// Version of the called definition. Registration pins an absent version
	// to the then-latest one, so a stored definition always names one.
	Version string `json:"version,omitempty"`
	// Input of the child execution: key -> CEL over the caller's scope.
	Input map[string]string `json:"input,omitempty"`
}

// CallNodeType is the name of the call node type.
const CallNodeType = "call"

func callNodeType() NodeType {
	return NodeType{
		Name:         CallNodeType,
		Kind:         KindWorkflow,
		ConfigSchema: json.RawMessage(callConfigSchema),
		CheckConfig:  configCheck("call", checkCallConfig),
	}
}

// checkCallConfig checks the config's shape and compiles its expressions.
// Whether the called definition exists, and that calls form no cycle, need
// the store: the API checks them at registration (CheckCalls).
func checkCallConfig(c CallConfig, l *problem.List, exprs ExprChecker) {
	if c.Definition == "" {
		l.Add("definition", CodeRequired, "a call node names the definition it runs")
	}
	l.Expressions("input", "key", c.Input, exprs)
}

// CallChildID is the workflow id of the child execution a call node starts:
// the parent's execution id, a dot, the node id ("orders-<uuid>.pay"; a
// grandchild's is "orders-<uuid>.pay.charge"). A node runs at most once per
// execution, so the id is unique and the same on every replay. Neither
// execution ids nor node ids contain a dot, and a dot needs no escaping in
// the API's /api/executions/{id} URLs.
func CallChildID(parentID, nodeID string) string { return parentID + "." + nodeID }

// findCalled returns the pinned snapshot of the definition a call node runs,
// from the definitions the execution carries (ExecutionInput.Called).
func findCalled(called []Definition, id, version string) (Definition, bool) {
	for _, d := range called {
		if d.ID == id && (version == "" || d.Version == version) {
			return d, true
		}
	}
	return Definition{}, false
}

// call carries out a call node in the workflow: its input is evaluated, and
// checked against the called definition's inputSchema, by the call_input
// helper activity, then the called definition runs as a child
// execution on this task queue. The node's output is the child's output; the
// child's failure is the node's error, validation and business failures
// keeping their type, status and code. Canceling the execution cancels the
// child (the child context is the node's).
func (r *run) call(ctx workflow.Context, req NodeRequest) (NodeResult, error) {
	n := req.Node
	result := NodeResult{Outcome: OutcomeSuccess}
	cfg, bad := decodeConfig[CallConfig](n.Config, "call") //workflowcheck:ignore (see wait)
	if bad != nil {
		return result, temporal.NewNonRetryableApplicationError("call config: "+bad.Error(), ErrConfiguration, nil)
	}
	def, ok := findCalled(r.called, cfg.Definition, cfg.Version)
	if !ok {
		return result, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("definition %s %s is not among the definitions this execution carries", cfg.Definition, cfg.Version), ErrConfiguration, nil)
	}
	input := map[string]any{}
	if len(cfg.Input) > 0 || len(def.InputSchema) > 0 {
		err := helperActivity(ctx, CallInputActivity, n.ID+": input", CallInputRequest{
			Mapping: cfg.Input, Scope: req.Scope, Definition: def.ID + "@" + def.Version, InputSchema: def.InputSchema,
		}).Get(ctx, &input)
		if err != nil {
			return result, err
		}
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: CallChildID(r.info.ID, n.ID),
		// Same task queue: the default. Search attributes let the API list
		// and scope the child as any execution.
		TypedSearchAttributes: childSearchAttributes(ctx, def),
		StaticSummary:         n.ID + ": " + def.ID + " " + def.Version,
	})
	var out any
	err := workflow.ExecuteChildWorkflow(cctx, WorkflowName, ExecutionInput{Definition: def, Input: input, Called: r.called, RunBudget: r.budget}).Get(ctx, &out)
	if err != nil {
		return result, childError(err)
	}
	result.Output = out
	req.Scope.Nodes[n.ID] = out
	fired, err := decideEdges(ctx, ctx, n.ID, result.Outcome, req.Edges, req.Scope)
	result.Fired = fired
	return result, err
}

func childSearchAttributes(ctx workflow.Context, def Definition) temporal.SearchAttributes {
	updates := []temporal.SearchAttributeUpdate{
		temporal.NewSearchAttributeKeyKeyword(SearchAttrDefinitionID).ValueSet(def.ID),
		temporal.NewSearchAttributeKeyKeyword(SearchAttrDefinitionVersion).ValueSet(def.Version),
	}
	callerKey := temporal.NewSearchAttributeKeyKeyword(SearchAttrCaller)
	if caller, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(callerKey); ok {
		updates = append(updates, callerKey.ValueSet(caller))
	}
	return temporal.NewSearchAttributes(updates...)
}

// childError turns a child execution's failure into the call node's error:
// a validation or business failure keeps its type and its details in the
// shape a node of that type fails with, so error edges, errors.<id> and the
// parent's own failure read as if the node had failed that way itself.
// Anything else (a cancel, a node failure, a timeout) is returned as is.
func childError(err error) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.HasDetails() {
		return err
	}
	var e ExecutionError
	if appErr.Details(&e) != nil {
		return err
	}
	switch appErr.Type() {
	case ErrBusiness:
		return temporal.NewNonRetryableApplicationError(e.Message, ErrBusiness, nil,
			BusinessFailure{Status: e.Status, Code: e.Code, Message: e.Message})
	case ErrValidation:
		return temporal.NewNonRetryableApplicationError(e.Message, ErrValidation, nil, e.Fields)
	}
	return err
}

// CallRef is the definition one node of a definition runs as a child
// execution: a call node's, or a loop or map node's definition body.
type CallRef struct {
	Node    int // index in Definition.Nodes
	ID      string
	Version string // "" until registration pins it
	// Path is where the reference is in the node: "config" for a call,
	// "config.body" for a loop or map body.
	Path string
}

// Calls lists the definitions a valid definition's nodes run as child
// executions (call nodes, loop and map nodes with a definition body), in
// definition order.
func Calls(def *Definition) []CallRef {
	var refs []CallRef
	for i, n := range def.Nodes {
		switch n.Type {
		case CallNodeType:
			if c, err := decodeConfig[CallConfig](n.Config, "call"); err == nil {
				refs = append(refs, CallRef{Node: i, ID: c.Definition, Version: c.Version, Path: "config"})
			}
		case LoopNodeType, MapNodeType:
			if b, ok := nodeBody(n); ok && b.Definition != "" {
				refs = append(refs, CallRef{Node: i, ID: b.Definition, Version: b.Version, Path: "config.body"})
			}
		}
	}
	return refs
}

// nodeBody is the body of a loop or map node.
func nodeBody(n Node) (Body, bool) {
	switch n.Type {
	case LoopNodeType:
		c, err := decodeConfig[LoopConfig](n.Config, "loop")
		return c.Body, err == nil
	case MapNodeType:
		c, err := decodeConfig[MapConfig](n.Config, "map")
		return c.Body, err == nil
	}
	return Body{}, false
}

// PinCall sets the version of the definition node i of def runs (see
// Calls): registration pins a reference without a version to the
// then-latest version of the definition.
func PinCall(def *Definition, i int, version string) error {
	var raw []byte
	var err error
	switch n := def.Nodes[i]; n.Type {
	case LoopNodeType:
		raw, err = pinned(n.Config, "loop", func(c *LoopConfig) { c.Body.Version = version })
	case MapNodeType:
		raw, err = pinned(n.Config, "map", func(c *MapConfig) { c.Body.Version = version })
	default:
		raw, err = pinned(n.Config, "call", func(c *CallConfig) { c.Version = version })
	}
	if err != nil {
		return err
	}
	def.Nodes[i].Config = raw
	return nil
}

// callConfigSchema is the JSON Schema of CallConfig (DefinitionSchema).
const callConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["definition"],
	"properties": {
		"definition": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$", "description": "The id of a registered definition"},
		"version": {"type": "string", "description": "Default: the latest version when this definition is registered"},
		"input": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}}
	}
}`

// pinned decodes a config, applies pin and encodes it again.
func pinned[C any](raw json.RawMessage, typeName string, pin func(*C)) (json.RawMessage, error) {
	c, bad := decodeConfig[C](raw, typeName)
	if bad != nil {
		return nil, bad
	}
	pin(&c)
	return json.Marshal(c)
}
