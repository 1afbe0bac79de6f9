package activities

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeExternalService calls an operation of a named external service.
const TypeExternalService = "external_service"

// ExternalServiceConfig is the config of an external_service node: the
// service and operation are names, each param a CEL expression.
//
//	{"service": "stripe", "operation": "charge",
//	 "params": {"amount": "nodes.price.total", "currency": "'usd'", "paymentMethodId": "input.paymentMethodId"}}
//
// The output is the connector's (for stripe: see package internal/payments).
// Secrets (API keys) belong to the connector, never to the definition.
type ExternalServiceConfig struct {
	Service   string            `json:"service"`
	Operation string            `json:"operation"`
	Params    map[string]string `json:"params,omitempty"`
}

// Connector is an external service an external_service node calls by name
// (package internal/payments has the Stripe one and a fake for dev mode).
type Connector interface {
	// Call performs operation with the evaluated params. idempotencyKey
	// names the side effect: a connector must never perform it twice for one
	// key (Stripe: the Idempotency-Key header). Errors follow the activity
	// rules: non-retryable application errors for what a retry cannot fix,
	// plain errors for transient failures.
	Call(ctx context.Context, operation string, params map[string]any, idempotencyKey string) (map[string]any, error)
}

// ServiceNodes runs external_service nodes.
type ServiceNodes struct {
	*Activities
	// Connectors by service name. Required: one per service the node type
	// was built with.
	Connectors map[string]Connector
}

// externalServiceNode is the external_service node type. At registration a
// node naming a service or operation outside IOOptions.Services is refused;
// the API checks without connectors: it holds no secrets. A node evaluates
// the params and calls the connector with the idempotency key of this node
// in this execution. Its output is the connector's.
func externalServiceNode(s *ServiceNodes) spec[ExternalServiceConfig, ExternalServiceConfig] {
	return spec[ExternalServiceConfig, ExternalServiceConfig]{Name: TypeExternalService, Kind: interpreter.KindIO,
		ConfigSchema: externalServiceConfigSchema, Compile: compileExternalService, Run: s.externalService}
}

func (s *ServiceNodes) externalService(ctx context.Context, node interpreter.Node, cfg ExternalServiceConfig, vars map[string]any) (any, string, error) {
	// Names were checked at registration, against the services the API
	// knows; here the connector map decides, and the connector checks the
	// operation.
	conn, ok := s.Connectors[cfg.Service]
	if !ok {
		return nil, "", configError(node, []interpreter.Problem{{Path: "service", Code: interpreter.CodeInvalidConfig,
			Message: fmt.Sprintf("this worker has no connector for service %q", cfg.Service)}})
	}
	params, err := s.evalMapping(ctx, cfg.Params, vars, fmt.Sprintf("node %q", node.ID), "params.")
	if err != nil {
		return nil, "", err
	}
	key, err := idempotencyKey(ctx, node)
	if err != nil {
		return nil, "", err
	}
	activity.GetLogger(ctx).Info("calling external service",
		"nodeId", node.ID, "service", cfg.Service, "operation", cfg.Operation, "idempotencyKey", key)
	out, err := conn.Call(ctx, cfg.Operation, params, key)
	if err != nil {
		return nil, "", err
	}
	return out, interpreter.OutcomeSuccess, nil
}

// idempotencyKey names the side effect of node in this execution:
// "<workflow id>/<node id>". The workflow id is the execution id: it stays
// the same across attempts and across a reset, so a retried or re-run node
// repeats its call and the service answers it once. The run id or the
// attempt would make every try a new payment.
func idempotencyKey(ctx context.Context, node interpreter.Node) (string, error) {
	id, err := executionID(ctx, node)
	if err != nil {
		return "", err
	}
	return id + "/" + node.ID, nil
}

// executionID is the workflow id that node's side effect is keyed on (with
// the node id): the idempotency key of a service call, the outbox row of an
// email. An activity started outside a workflow has none: that is a
// non-retryable error rather than a key shared by every such call.
func executionID(ctx context.Context, node interpreter.Node) (string, error) {
	id := activity.GetInfo(ctx).WorkflowExecution.ID
	if id == "" {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("node %q (%s): no workflow execution to derive an idempotency key from", node.ID, node.Type),
			interpreter.ErrConfiguration, nil)
	}
	return id, nil
}

// compileExternalService checks an external_service config, reporting every
// problem. Names are looked up in the registration's services (at run time,
// or without services, they are only required).
func compileExternalService(cfg ExternalServiceConfig, c *compiling) ExternalServiceConfig {
	var services map[string][]string
	if c.registration != nil {
		services = c.registration.Services
	}
	operations, known := services[cfg.Service]
	switch {
	case strings.TrimSpace(cfg.Service) == "":
		c.Add("service", interpreter.CodeRequired, "service is required")
	case services != nil && !known:
		c.Add("service", interpreter.CodeInvalidConfig, "unknown service %q (known: %s)",
			cfg.Service, strings.Join(slices.Sorted(maps.Keys(services)), ", "))
	}
	switch {
	case strings.TrimSpace(cfg.Operation) == "":
		c.Add("operation", interpreter.CodeRequired, "operation is required")
	case known && !slices.Contains(operations, cfg.Operation):
		c.Add("operation", interpreter.CodeInvalidConfig, "service %q has no operation %q (known: %s)",
			cfg.Service, cfg.Operation, strings.Join(operations, ", "))
	}
	c.expressions("params", "name", cfg.Params)
	return cfg
}

// externalServiceConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const externalServiceConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["service", "operation"],
	"properties": {
		"service": {"type": "string", "pattern": "\\S"},
		"operation": {"type": "string", "pattern": "\\S"},
		"params": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}}
	}
}`
