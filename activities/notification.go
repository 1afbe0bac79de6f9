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

// NotificationNodeType describes the notification node type. Whether a
// connection is configured is known only to the workers (the API that checks
// definitions holds no secrets): an unknown one fails at run time.
func NotificationNodeType() interpreter.NodeType {
	return interpreter.NodeType{
		Name: TypeNotification,
		Kind: interpreter.KindIO,
		CheckConfig: func(config json.RawMessage, exprs interpreter.ExprChecker) []interpreter.Problem {
			_, _, problems := compileNotification(config, exprs)
			return problems
		},
	}
}

// Notification runs a notification node.
func (h *HTTPNodes) Notification(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
	return h.runNode(ctx, req, h.notification)
}

func (h *HTTPNodes) notification(ctx context.Context, node interpreter.Node, vars map[string]any) (any, string, error) {
	cfg, timeout, problems := compileNotification(node.Config, h.checker())
	if len(problems) > 0 {
		return nil, "", configError(node, problems)
	}
	subject := fmt.Sprintf("node %q", node.ID)
	call := httpCall{subject: subject, method: http.MethodPost, timeout: timeout}
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

// compileNotification decodes and checks a notification config, reporting
// every problem, and returns its timeout.
func compileNotification(raw json.RawMessage, exprs interpreter.ExprChecker) (NotificationConfig, time.Duration, []interpreter.Problem) {
	var cfg NotificationConfig
	if p := decodeConfig(raw, &cfg); p != nil {
		return cfg, 0, []interpreter.Problem{*p}
	}
	ps := &problems{exprs: exprs}
	switch {
	case cfg.Connection != "" && cfg.URL != "":
		ps.add("", interpreter.CodeInvalidConfig, "give either connection or url, not both")
	case cfg.Connection == "" && cfg.URL == "":
		ps.add("connection", interpreter.CodeRequired, "a connection (a configured webhook name) or a url is required")
	case cfg.URL != "":
		ps.expression("url", cfg.URL)
	}
	ps.expression("message", cfg.Message)
	timeout := checkTimeout(ps, cfg.Timeout)
	return cfg, timeout, ps.list
}
