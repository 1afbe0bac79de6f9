package interpreter

import (
	"encoding/json"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// RespondConfig is the config of a respond node: it answers the synchronous
// HTTP caller with Status and Body as soon as it runs, and the execution
// goes on durably.
type RespondConfig struct {
	Status int `json:"status"`
	// Body: key -> CEL over the node's scope.
	Body map[string]string `json:"body,omitempty"`
}

// RespondNodeType is the name of the respond node type.
const RespondNodeType = "respond"

func respondNodeType() NodeType {
	return NodeType{
		Name:         RespondNodeType,
		Kind:         KindWorkflow,
		ConfigSchema: json.RawMessage(respondConfigSchema),
		CheckConfig:  configCheck("respond", checkRespondConfig),
	}
}

// checkRespondConfig checks the status (a 2xx: a respond node answers a
// success; failures are the fail node's) and compiles the body's
// expressions.
func checkRespondConfig(c RespondConfig, l *problem.List, exprs ExprChecker) {
	if c.Status < 200 || c.Status > 299 {
		l.Add("status", CodeInvalidConfig, "a respond node answers a success: status must be an integer from 200 to 299")
	}
	l.Expressions("body", "key", c.Body, exprs)
}

// Response is what a respond node answered: the answer of the
// ResponseUpdate once a respond node ran, and of the ResponseQuery.
type Response struct {
	NodeID string         `json:"nodeId"`
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

// ResponseResult is the result of the ResponseUpdate: the first response a
// respond node recorded, or, when the execution ended before any respond
// node ran, Responded false: the caller then reads the execution's outcome
// as it would without the update. When the run continued as new before any
// respond node ran, Continued is true as well: the next run (same execution
// id) answers the update.
type ResponseResult struct {
	Responded bool      `json:"responded"`
	Response  *Response `json:"response,omitempty"`
	Continued bool      `json:"continued,omitempty"`
}

// registerResponseHandlers registers the ResponseUpdate and the
// ResponseQuery. Registering a handler issues no command, so histories
// recorded before respond existed replay unchanged.
func (r *run) registerResponseHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, ResponseQuery, func() (*Response, error) { return r.response, nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, ResponseUpdate, func(ctx workflow.Context) (ResponseResult, error) {
		if err := workflow.Await(ctx, func() bool { return r.response != nil || r.ended || r.continuing }); err != nil {
			return ResponseResult{}, err
		}
		return ResponseResult{Responded: r.response != nil, Response: r.response, Continued: r.response == nil && r.continuing}, nil
	})
}

// endResponse marks the execution ended and lets waiting ResponseUpdate
// handlers answer before the workflow completes (an update still in flight
// when the workflow completes would fail at the caller). It issues no
// command.
func (r *run) endResponse(ctx workflow.Context) {
	r.ended = true
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// respond carries out a respond node: its body is evaluated by the
// call_input helper activity (the same mapping evaluation, without a
// schema), and the response is recorded. The first respond node to run
// answers the caller; a later one only records its output (the response
// is never replaced).
func (r *run) respond(ctx workflow.Context, req NodeRequest) (NodeResult, error) {
	n := req.Node
	result := NodeResult{Outcome: OutcomeSuccess}
	cfg, bad := decodeConfig[RespondConfig](n.Config, "respond") //workflowcheck:ignore (see wait)
	if bad != nil {
		return result, temporal.NewNonRetryableApplicationError("respond config: "+bad.Error(), ErrConfiguration, nil)
	}
	body := map[string]any{}
	if len(cfg.Body) > 0 {
		err := helperActivity(ctx, CallInputActivity, n.ID+": body", CallInputRequest{
			Mapping: cfg.Body, Scope: req.Scope, Definition: "respond " + n.ID,
		}).Get(ctx, &body)
		if err != nil {
			return result, err
		}
	}
	out := map[string]any{"status": cfg.Status, "body": body}
	if r.response == nil {
		r.response = &Response{NodeID: n.ID, Status: cfg.Status, Body: body}
	}
	result.Output = out
	req.Scope.Nodes[n.ID] = out
	fired, err := decideEdges(ctx, ctx, n.ID, result.Outcome, req.Edges, req.Scope)
	result.Fired = fired
	return result, err
}

// HasRespond reports whether def has a respond node: the API starts those
// executions with Update-with-Start.
func HasRespond(def *Definition) bool {
	for _, n := range def.Nodes {
		if n.Type == RespondNodeType {
			return true
		}
	}
	return false
}

// respondConfigSchema is the JSON Schema of RespondConfig
// (DefinitionSchema).
const respondConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["status"],
	"properties": {
		"status": {"type": "integer", "minimum": 200, "maximum": 299},
		"body": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}}
	}
}`
