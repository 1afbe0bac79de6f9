package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/mail"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeEmail sends one email, through SendGrid or the dev outbox.
const TypeEmail = "email"

// Error types of the email node. They cross process boundaries: never
// rename one.
const (
	// ErrEmailRejected: the provider refused the message (a 4xx other than
	// 401, 403 and 429), or the message cannot be sent as it is (an invalid
	// recipient address). Never retried.
	ErrEmailRejected = "EmailRejected"
	// ErrEmailUnavailable: the provider is rate limiting (429) or failing
	// (5xx). Retried by the node's retry policy, after the provider's
	// Retry-After when it gives one.
	ErrEmailUnavailable = "EmailUnavailable"
)

// EmailConfig is the config of an email node: To, Subject, Text and HTML
// are CEL expressions that yield strings.
//
//	{"to": "input.email", "subject": "'Welcome, ' + input.name",
//	 "text": "'Hello ' + input.name", "html": "'<p>Hello ' + input.name + '</p>'"}
//
// or, with a SendGrid dynamic template (its id is literal; each data value
// is an expression, handed to the template as dynamic_template_data):
//
//	{"to": "input.email", "templateId": "d-0123abcd", "data": {"name": "input.name"}}
//
// From is a literal address that overrides the configured sender (EMAIL_FROM).
type EmailConfig struct {
	To         string            `json:"to"`
	Subject    string            `json:"subject,omitempty"`
	Text       string            `json:"text,omitempty"`
	HTML       string            `json:"html,omitempty"`
	TemplateID string            `json:"templateId,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	From       string            `json:"from,omitempty"`
}

// EmailOutput is the output of an email node. It never holds the message.
type EmailOutput struct {
	MessageID string `json:"messageId"` // the provider's id (SendGrid's X-Message-Id)
	Status    string `json:"status"`    // always "sent"
	To        string `json:"to"`
	// Resent: an earlier attempt may have delivered the message already (see
	// mail.Result.Resent).
	Resent bool `json:"resent"`
}

// EmailNodes runs email nodes.
type EmailNodes struct {
	*Activities
	// Outbox sends each message once per (execution, node) through its
	// Sender (SendGrid, or the dev outbox with no API key). Required.
	Outbox *mail.Outbox
	// From is the sender address of nodes that set no from (EMAIL_FROM).
	From mail.Address
}

// emailNode is the email node type: a node evaluates the message and sends
// it through the outbox, keyed by the workflow id and the node id, so a
// retried attempt returns the recorded send instead of sending again.
func emailNode(n *EmailNodes) spec[EmailConfig, EmailConfig] {
	return spec[EmailConfig, EmailConfig]{Name: TypeEmail, Kind: interpreter.KindIO,
		ConfigSchema: emailConfigSchema, Compile: compileEmail, Run: n.email}
}

func (n *EmailNodes) email(ctx context.Context, node interpreter.Node, cfg EmailConfig, vars map[string]any) (any, string, error) {
	subject := fmt.Sprintf("node %q", node.ID)
	msg := mail.Message{From: n.From, TemplateID: cfg.TemplateID}
	if cfg.From != "" {
		msg.From, _ = mail.ParseAddress(cfg.From) // checked by compileEmail
	}
	if msg.From.Email == "" {
		return nil, "", temporal.NewNonRetryableApplicationError(
			subject+": no sender address: set EMAIL_FROM or the node's from", interpreter.ErrConfiguration, nil)
	}

	var to string
	for _, f := range []struct {
		field, src string
		dst        *string
	}{
		{"to", cfg.To, &to},
		{"subject", cfg.Subject, &msg.Subject},
		{"text", cfg.Text, &msg.Text},
		{"html", cfg.HTML, &msg.HTML},
	} {
		if f.src == "" {
			continue
		}
		v, err := n.Expr.EvalString(ctx, f.src, vars)
		if err != nil {
			return nil, "", exprError(subject, f.field, err)
		}
		*f.dst = v
	}
	var err error
	if msg.To, err = mail.ParseAddress(to); err != nil {
		return nil, "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: to: %v", subject, err), ErrEmailRejected, nil)
	}
	if cfg.TemplateID != "" {
		if msg.TemplateData, err = n.evalMapping(ctx, cfg.Data, vars, subject, "data."); err != nil {
			return nil, "", err
		}
	}

	execID, err := executionID(ctx, node)
	if err != nil {
		return nil, "", err
	}
	res, err := n.Outbox.Send(ctx, execID, node.ID, msg)
	if err != nil {
		return nil, "", sendError(ctx, subject, err)
	}
	activity.GetLogger(ctx).Info("email sent", "nodeId", node.ID, "provider", res.Provider,
		"messageId", res.ProviderMessageID, "alreadySent", res.AlreadySent, "resent", res.Resent)
	return EmailOutput{MessageID: res.ProviderMessageID, Status: mail.StatusSent, To: msg.To.Email, Resent: res.Resent},
		interpreter.OutcomeSuccess, nil
}

// sendError classifies a failed send: the provider's refusals by status, an
// unsendable message as rejected; anything else (network, database) is left
// to the retry policy.
func sendError(ctx context.Context, subject string, err error) error {
	msg := fmt.Sprintf("%s: %v", subject, err)
	var refused *mail.ProviderError
	switch {
	case errors.Is(err, mail.ErrInvalidMessage):
		return temporal.NewNonRetryableApplicationError(msg, ErrEmailRejected, nil)
	case !errors.As(err, &refused):
		// A network or outbox failure: its text (addresses, driver
		// wording) is for the log.
		activity.GetLogger(ctx).Warn("email send failed", "error", err)
		return fmt.Errorf("%s: the email could not be sent (retried; the worker's log has the details)", subject)
	case refused.Temporary():
		return temporal.NewApplicationErrorWithOptions(msg, ErrEmailUnavailable,
			temporal.ApplicationErrorOptions{NextRetryDelay: refused.RetryAfter})
	case refused.StatusCode == http.StatusUnauthorized || refused.StatusCode == http.StatusForbidden:
		// A wrong API key, or a sender address SendGrid has not verified.
		return temporal.NewNonRetryableApplicationError(msg, interpreter.ErrConfiguration, nil)
	default:
		return temporal.NewNonRetryableApplicationError(msg, ErrEmailRejected, nil)
	}
}

// compileEmail checks an email config, reporting every problem in field
// order.
func compileEmail(cfg EmailConfig, c *compiling) EmailConfig {
	c.expression("to", cfg.To)
	if cfg.TemplateID != "" {
		for _, f := range [][2]string{{"subject", cfg.Subject}, {"text", cfg.Text}, {"html", cfg.HTML}} {
			if f[1] != "" {
				c.Add(f[0], interpreter.CodeInvalidConfig,
					"%s cannot be used with templateId: a dynamic template sets its own subject and body (pass values in data)", f[0])
			}
		}
		// SendGrid's dynamic template ids start with "d-"; legacy
		// templates take no dynamic data.
		if !strings.HasPrefix(cfg.TemplateID, "d-") {
			c.Add("templateId", interpreter.CodeInvalidConfig, "templateId %q is not a SendGrid dynamic template id (d-…)", cfg.TemplateID)
		}
		c.expressions("data", "key", cfg.Data)
	} else {
		if strings.TrimSpace(cfg.Subject) == "" {
			c.Add("subject", interpreter.CodeRequired, "subject is required (or a templateId)")
		} else {
			c.expression("subject", cfg.Subject)
		}
		if cfg.Text == "" && cfg.HTML == "" {
			c.Add("text", interpreter.CodeRequired, "text or html is required (or a templateId)")
		}
		if cfg.Text != "" {
			c.expression("text", cfg.Text)
		}
		if cfg.HTML != "" {
			c.expression("html", cfg.HTML)
		}
		if len(cfg.Data) > 0 {
			c.Add("data", interpreter.CodeInvalidConfig, "data is only used with a templateId")
		}
	}
	if cfg.From != "" {
		if _, err := mail.ParseAddress(cfg.From); err != nil {
			c.Add("from", interpreter.CodeInvalidConfig, "from: %v", err)
		}
	}
	return cfg
}

// emailConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const emailConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["to"],
	"properties": {
		"to": {"type": "string", "minLength": 1, "description": "CEL string"},
		"subject": {"type": "string", "description": "CEL string"},
		"text": {"type": "string", "description": "CEL string"},
		"html": {"type": "string", "description": "CEL string"},
		"templateId": {"type": "string", "pattern": "^(d-.*)?$", "description": "A SendGrid dynamic template id"},
		"data": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}},
		"from": {"type": "string"}
	},
	"$comment": "Registration reads an empty string (or map) as not set: so do the conditions below.",
	"if": {"required": ["templateId"], "properties": {"templateId": {"minLength": 1}}},
	"then": {"not": {"anyOf": [
		{"required": ["subject"], "properties": {"subject": {"minLength": 1}}},
		{"required": ["text"], "properties": {"text": {"minLength": 1}}},
		{"required": ["html"], "properties": {"html": {"minLength": 1}}}
	]}},
	"else": {
		"required": ["subject"],
		"anyOf": [{"required": ["text"]}, {"required": ["html"]}],
		"not": {"required": ["data"], "properties": {"data": {"minProperties": 1}}}
	}
}`
