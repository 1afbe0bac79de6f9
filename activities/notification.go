package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeNotification posts a message to a Slack-compatible webhook.
const TypeNotification = "notification"

// NotificationConfig is the config of a notification node: exactly one of
// Connection (the name of a webhook from configuration, whose URL is a secret
// held by the workers) and URL (a CEL expression), and Message (a CEL
// string). The webhook receives {"text": message} as JSON; any 2xx answers.
// Timeout bounds one request, like api_call's. Failures are classified like
// api_call's. Webhooks have no idempotency key: a retry after a lost answer
// posts the message again.
//
//	{"connection": "alerts", "message": "'Order ' + nodes.order.id + ' failed'"}
//
// The output is {"status": the webhook's status}.
type NotificationConfig struct {
	Connection string `json:"connection,omitempty"`
	URL        string `json:"url,omitempty"`
	Message    string `json:"message"`
	Timeout    string `json:"timeout,omitempty"`
}

// notificationNode is the notification node type. Whether a connection is
// configured is known only to the workers (the API that checks definitions
// holds no secrets): an unknown one fails at run time.
func notificationNode(h *HTTPNodes) spec[NotificationConfig, notification] {
	return spec[NotificationConfig, notification]{Name: TypeNotification, Kind: interpreter.KindIO,
		ConfigSchema: notificationConfigSchema, Compile: compileNotification, Run: h.notification}
}

func (h *HTTPNodes) notification(ctx context.Context, node interpreter.Node, cfg notification, vars map[string]any) (any, string, error) {
	subject := fmt.Sprintf("node %q", node.ID)
	call := httpCall{subject: subject, method: http.MethodPost, timeout: cfg.timeout}
	if cfg.Connection != "" {
		u, ok := h.webhooks[cfg.Connection]
		if !ok {
			return nil, "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s: no webhook connection %q is configured on this worker", subject, cfg.Connection),
				interpreter.ErrConfiguration, nil)
		}
		call.url, call.target = u, fmt.Sprintf("webhook connection %q", cfg.Connection)
	} else {
		u, err := h.evalURL(ctx, subject, "url", cfg.URL, vars)
		if err != nil {
			return nil, "", err
		}
		call.url, call.target = u, origin(u)
	}
	message, err := h.Expr.EvalString(ctx, cfg.Message, vars)
	if err != nil {
		return nil, "", exprError(subject, "message", err)
	}
	call.body, _ = json.Marshal(map[string]string{"text": message}) // strings always encode
	call.header = http.Header{"Content-Type": {"application/json"}}
	reply, err := h.send(ctx, call)
	if err != nil {
		return nil, "", err
	}
	return map[string]any{"status": reply.status}, interpreter.OutcomeSuccess, nil
}

// notification is a checked notification config.
type notification struct {
	NotificationConfig
	timeout time.Duration // 0: only the client's and the activity's bounds
}

// compileNotification checks a notification config, reporting every
// problem.
func compileNotification(cfg NotificationConfig, c *compiling) notification {
	switch {
	case cfg.Connection != "" && cfg.URL != "":
		c.Add("", interpreter.CodeInvalidConfig, "give either connection or url, not both")
	case cfg.Connection == "" && cfg.URL == "":
		c.Add("connection", interpreter.CodeRequired, "a connection (a configured webhook name) or a url is required")
	case cfg.URL != "":
		c.expression("url", cfg.URL)
	}
	c.expression("message", cfg.Message)
	return notification{NotificationConfig: cfg, timeout: c.Duration("timeout", cfg.Timeout)}
}

// notificationConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const notificationConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["message"],
	"properties": {
		"connection": {"type": "string", "description": "A webhook the workers know"},
		"url": {"type": "string", "description": "CEL string"},
		"message": {"type": "string", "minLength": 1, "description": "CEL string"},
		"timeout": {"type": "string", "description": "Go duration"}
	},
	"$comment": "Registration reads an empty string as not set: so do the alternatives below.",
	"oneOf": [
		{"required": ["connection"], "properties": {"connection": {"minLength": 1}}},
		{"required": ["url"], "properties": {"url": {"minLength": 1}}}
	]
}`
