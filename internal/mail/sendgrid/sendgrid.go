// Package sendgrid sends email through SendGrid's v3 API with
// sendgrid-go. It is its own package so that what links package mail (the
// email node type, and through it every node type's list) does not link
// sendgrid-go: only the workers that send mail do.
package sendgrid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	sendgridgo "github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/workflow-backend/workflow-backend/internal/mail"
	"github.com/workflow-backend/workflow-backend/internal/outbound"
)

// DefaultBaseURL is SendGrid's API host.
const DefaultBaseURL = "https://api.sendgrid.com"

const (
	sendGridEndpoint = "/v3/mail/send"
	// sendGridTimeout bounds one call, connection included; the activity's
	// own deadline may cut it shorter.
	sendGridTimeout = 30 * time.Second
)

// Sender sends messages with SendGrid's v3 mail/send API through
// sendgrid-go. It is safe for concurrent use.
type Sender struct {
	apiKey  string
	baseURL string
	// client carries the HTTP client with timeouts: sendgrid-go's own
	// MakeRequestWithContext and Client.SendWithContext go through a package
	// global that has none (and Client.SendWithContext writes the body into
	// the shared Client, so concurrent sends would race).
	client *rest.Client
}

// New returns a SendGrid sender. apiKey is required; baseURL is the
// API host (SENDGRID_API_BASE, so tests can point the real client at a local
// server), DefaultBaseURL when empty.
func New(apiKey, baseURL string) (*Sender, error) {
	if apiKey == "" {
		return nil, errors.New("sendgrid: an API key is required")
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("sendgrid: base URL %q must be an http(s) URL such as %s", baseURL, DefaultBaseURL)
	}
	return &Sender{
		apiKey:  apiKey,
		baseURL: strings.TrimRight(baseURL, "/"),
		client:  &rest.Client{HTTPClient: &http.Client{Timeout: sendGridTimeout}},
	}, nil
}

// Provider returns mail.ProviderSendGrid.
func (s *Sender) Provider() string { return mail.ProviderSendGrid }

// Send posts msg to mail/send and returns SendGrid's X-mail.Message-Id. A non-2xx
// answer, which sendgrid-go returns as a response and not as an error, is a
// *mail.ProviderError.
func (s *Sender) Send(ctx context.Context, msg mail.Message) (string, error) {
	body, err := json.Marshal(sendGridMail(msg))
	if err != nil {
		return "", fmt.Errorf("%w: %v", mail.ErrInvalidMessage, err)
	}
	req := sendgridgo.GetRequest(s.apiKey, sendGridEndpoint, s.baseURL)
	req.Method = rest.Post
	req.Body = body
	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		// The key travels only in the Authorization header, which transport
		// errors do not quote.
		return "", fmt.Errorf("sendgrid: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", s.providerError(resp)
	}
	return http.Header(resp.Headers).Get("X-Message-Id"), nil
}

// sendGridMail builds the v3 payload of a valid message.
func sendGridMail(msg mail.Message) *sgmail.SGMailV3 {
	m := sgmail.NewV3Mail()
	m.SetFrom(sgmail.NewEmail(msg.From.Name, msg.From.Email))
	p := sgmail.NewPersonalization()
	p.AddTos(sgmail.NewEmail(msg.To.Name, msg.To.Email))
	if msg.TemplateID != "" {
		m.SetTemplateID(msg.TemplateID)
		for k, v := range msg.TemplateData {
			p.SetDynamicTemplateData(k, v)
		}
	} else {
		m.Subject = msg.Subject
		// SendGrid requires text/plain before text/html.
		if msg.Text != "" {
			m.AddContent(sgmail.NewContent("text/plain", msg.Text))
		}
		if msg.HTML != "" {
			m.AddContent(sgmail.NewContent("text/html", msg.HTML))
		}
	}
	m.AddPersonalizations(p)
	return m
}

// providerError turns a non-2xx answer into a *mail.ProviderError.
func (s *Sender) providerError(resp *rest.Response) *mail.ProviderError {
	e := &mail.ProviderError{
		Provider:   mail.ProviderSendGrid,
		StatusCode: resp.StatusCode,
		// The body is the remote side's text: make sure it cannot carry
		// the key into logs and history.
		Message: strings.ReplaceAll(sendGridErrorText(resp.Body), s.apiKey, "[redacted]"),
	}
	if e.Temporary() {
		e.RetryAfter = retryAfter(http.Header(resp.Headers), time.Now())
	}
	return e
}

// sendGridErrorText reads SendGrid's {"errors": [{"message", "field"}]} body
// as "field: message; ...", or returns the start of a body of another shape.
func sendGridErrorText(body string) string {
	var parsed struct {
		Errors []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &parsed) != nil || len(parsed.Errors) == 0 {
		const max = 200
		body = strings.TrimSpace(body)
		if len(body) > max {
			body = body[:max] + "…"
		}
		return body
	}
	parts := make([]string, 0, len(parsed.Errors))
	for _, e := range parsed.Errors {
		if e.Field != "" {
			parts = append(parts, e.Field+": "+e.Message)
		} else {
			parts = append(parts, e.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// retryAfter reads how long to wait from Retry-After (seconds or an HTTP
// date, read as api_call reads it) or, as SendGrid's rate limiter says it,
// X-RateLimit-Reset (a Unix time). Zero when neither says.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		return outbound.RetryAfter(v, now)
	}
	unix, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		return 0
	}
	return max(0, min(time.Unix(unix, 0).Sub(now), outbound.MaxRetryAfter))
}
