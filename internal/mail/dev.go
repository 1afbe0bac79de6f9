package mail

import (
	"context"
	"log/slog"

	"github.com/google/uuid"
)

// DevSender is the provider used when no SendGrid key is configured: nothing
// leaves the process. The Outbox keeps the whole message of its rows (subject,
// bodies, template data) in email_outbox, where a developer can read it, and
// DevSender logs a line for each message.
type DevSender struct {
	logger *slog.Logger
}

// NewDevSender returns a DevSender that logs to logger.
func NewDevSender(logger *slog.Logger) *DevSender {
	return &DevSender{logger: logger}
}

// Provider returns ProviderOutbox.
func (d *DevSender) Provider() string { return ProviderOutbox }

// Send logs msg (never its body) and returns a new "outbox-<uuid>" id.
func (d *DevSender) Send(ctx context.Context, msg Message) (string, error) {
	id := "outbox-" + uuid.NewString()
	d.logger.InfoContext(ctx, "email kept in the dev outbox (table email_outbox), not sent: no SENDGRID_API_KEY",
		"messageId", id, "to", msg.To.Email, "subject", msg.Subject, "templateId", msg.TemplateID)
	return id, nil
}
