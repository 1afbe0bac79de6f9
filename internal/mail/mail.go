// Package mail sends the email node's messages: a Sender hands a message to a
// provider (SendGrid, or the dev outbox when no API key is configured), and
// the Outbox wraps a Sender in a database protocol that keeps a retried
// activity from sending the same message twice.
package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"time"
)

// Provider names, as recorded in the outbox's provider column.
const (
	ProviderSendGrid = "sendgrid"
	ProviderOutbox   = "outbox" // the dev sender: nothing leaves the process
)

// Sender hands messages to one provider.
type Sender interface {
	// Provider returns ProviderSendGrid or ProviderOutbox.
	Provider() string
	// Send hands msg to the provider and returns the provider's id for it.
	// A *ProviderError means the provider answered and did not take the
	// message; after any other error the outcome is unknown (the request
	// may or may not have been delivered).
	Send(ctx context.Context, msg Message) (providerID string, err error)
}

// Address is an email address with an optional display name.
type Address struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

// ParseAddress parses "ada@example.com" or "Ada <ada@example.com>" (RFC 5322).
func ParseAddress(s string) (Address, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return Address{}, fmt.Errorf("%q is not an email address", s)
	}
	return Address{Name: a.Name, Email: a.Address}, nil
}

// Message is one email to one recipient: either Subject with Text and/or
// HTML, or a SendGrid dynamic template (TemplateID, TemplateData), which
// sets its own subject and body.
type Message struct {
	From         Address
	To           Address
	Subject      string
	Text         string
	HTML         string
	TemplateID   string
	TemplateData map[string]any
}

// ErrInvalidMessage is wrapped by the errors of a message that no provider
// could send as it is; sending it again would fail the same way.
var ErrInvalidMessage = errors.New("invalid email message")

// Validate reports, wrapping ErrInvalidMessage, what makes m unsendable.
func (m Message) Validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, args...))
	}
	if m.From.Email == "" {
		return invalid("no sender address")
	}
	if m.To.Email == "" {
		return invalid("no recipient address")
	}
	if m.TemplateID != "" {
		if m.Subject != "" || m.Text != "" || m.HTML != "" {
			return invalid("a dynamic template sets its own subject and body")
		}
		// Template data comes from expressions: a NaN or an infinity has
		// no JSON form.
		if _, err := json.Marshal(m.TemplateData); err != nil {
			return invalid("template data is not JSON: %v", err)
		}
		return nil
	}
	if m.Subject == "" {
		return invalid("no subject")
	}
	if m.Text == "" && m.HTML == "" {
		return invalid("no text or html body")
	}
	return nil
}

// ProviderError is a provider's refusal of a message (a non-2xx answer).
// Its text never contains the API key.
type ProviderError struct {
	Provider   string
	StatusCode int
	// Message is the provider's explanation ("field: message; ...").
	Message string
	// RetryAfter is how long the provider asked to wait (0: not said).
	RetryAfter time.Duration
}

func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("%s answered %d %s", e.Provider, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Temporary reports whether sending again later may succeed: rate limited
// (429) or a server error (5xx).
func (e *ProviderError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}
