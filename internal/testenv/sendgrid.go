package testenv

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"strconv"
	"sync"
	"testing"
	"time"
)

// SendGridMailPath is the one endpoint the fake SendGrid serves.
const SendGridMailPath = "/v3/mail/send"

// SendGrid is a local HTTP server that speaks SendGrid's v3 mail/send API,
// so that tests run the real sendgrid-go client against it: it checks the
// API key and the payload as SendGrid does, answers 202 with an X-Message-Id,
// records the messages it accepts, and can be told to fail requests.
type SendGrid struct {
	// URL is the server's base URL (SENDGRID_API_BASE).
	URL string
	// APIKey is the only key the server accepts.
	APIKey string

	mu       sync.Mutex
	messages []SendGridMessage
	requests int
	failures []sendGridFailure
}

// SendGridMessage is one accepted message.
type SendGridMessage struct {
	ID   string // the X-Message-Id answered
	Mail SendGridMail
}

// SendGridMail is the part of the v3 mail/send payload the fake checks and
// records.
type SendGridMail struct {
	Personalizations []SendGridPersonalization `json:"personalizations"`
	From             *SendGridAddress          `json:"from"`
	Subject          string                    `json:"subject"`
	Content          []SendGridContent         `json:"content"`
	TemplateID       string                    `json:"template_id"`
}

// SendGridPersonalization is one personalization of a payload.
type SendGridPersonalization struct {
	To                  []SendGridAddress `json:"to"`
	Subject             string            `json:"subject"`
	DynamicTemplateData map[string]any    `json:"dynamic_template_data"`
}

// SendGridAddress is an email object of a payload.
type SendGridAddress struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// SendGridContent is a content block of a payload.
type SendGridContent struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type sendGridFailure struct {
	status     int
	retryAfter time.Duration
}

// sendGridError is an entry of SendGrid's error body; Field is null when
// the error concerns no field.
type sendGridError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

// NewSendGrid starts a fake SendGrid that accepts apiKey; it stops when the
// test ends.
func NewSendGrid(t testing.TB, apiKey string) *SendGrid {
	t.Helper()
	s := &SendGrid{APIKey: apiKey}
	s.URL = serveHTTP(t, s.serve)
	return s
}

// serveHTTP serves h on a loopback port until the test ends and returns
// its base URL.
func serveHTTP(t testing.TB, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Messages returns a copy of the accepted messages, in arrival order.
func (s *SendGrid) Messages() []SendGridMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SendGridMessage(nil), s.messages...)
}

// Requests returns how many requests reached the server, failed ones
// included.
func (s *SendGrid) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext makes the next n requests to mail/send fail with status and
// SendGrid's error body, before the key and the payload are checked. A positive retryAfter is sent as Retry-After
// (whole seconds), as for a 429.
func (s *SendGrid) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, sendGridFailure{status: status, retryAfter: retryAfter})
	}
}

func (s *SendGrid) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	var fail *sendGridFailure
	if len(s.failures) > 0 {
		f := s.failures[0]
		fail = &f
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()

	switch {
	case r.URL.Path != SendGridMailPath:
		writeSendGridErrors(w, http.StatusNotFound, sendGridError{Message: "resource not found"})
		return
	case r.Method != http.MethodPost:
		writeSendGridErrors(w, http.StatusMethodNotAllowed, sendGridError{Message: "method not allowed"})
		return
	case fail != nil:
		if fail.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(fail.retryAfter.Seconds())))
		}
		writeSendGridErrors(w, fail.status, sendGridError{Message: http.StatusText(fail.status)})
		return
	}

	switch auth := r.Header.Get("Authorization"); auth {
	case "":
		writeSendGridErrors(w, http.StatusUnauthorized, sendGridError{Message: "authorization required"})
		return
	case "Bearer " + s.APIKey:
	default:
		writeSendGridErrors(w, http.StatusUnauthorized,
			sendGridError{Message: "The provided authorization grant is invalid, expired, or revoked"})
		return
	}

	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeSendGridErrors(w, http.StatusBadRequest, sendGridError{Message: "Bad Request"})
		return
	}
	var m SendGridMail
	if err := json.Unmarshal(body, &m); err != nil {
		writeSendGridErrors(w, http.StatusBadRequest,
			sendGridError{Message: "The request body could not be parsed as JSON: " + err.Error()})
		return
	}
	if errs := validateSendGridMail(m); len(errs) > 0 {
		writeSendGridErrors(w, http.StatusBadRequest, errs...)
		return
	}

	id := newSendGridMessageID()
	s.mu.Lock()
	s.messages = append(s.messages, SendGridMessage{ID: id, Mail: m})
	s.mu.Unlock()
	w.Header().Set("X-Message-Id", id)
	w.WriteHeader(http.StatusAccepted)
}

// validateSendGridMail checks a payload as SendGrid does (its messages, one
// entry per problem).
func validateSendGridMail(m SendGridMail) []sendGridError {
	var errs []sendGridError
	add := func(field, message string) {
		errs = append(errs, sendGridError{Message: message, Field: &field})
	}
	if len(m.Personalizations) == 0 {
		add("personalizations", "The personalizations field is required and must have at least one personalization.")
	}
	allHaveSubject := len(m.Personalizations) > 0
	for i, p := range m.Personalizations {
		if len(p.To) == 0 {
			add(fmt.Sprintf("personalizations.%d.to", i),
				"The to array is required for all personalization objects, and must have at least one email object with a valid email address.")
		}
		for j, to := range p.To {
			if !validSendGridAddress(to.Email) {
				add(fmt.Sprintf("personalizations.%d.to.%d.email", i, j), "Does not contain a valid address.")
			}
		}
		allHaveSubject = allHaveSubject && p.Subject != ""
	}
	switch {
	case m.From == nil || m.From.Email == "":
		add("from.email", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.")
	case !validSendGridAddress(m.From.Email):
		add("from.email", "The from email does not contain a valid address.")
	}
	if m.TemplateID != "" {
		return errs
	}
	if m.Subject == "" && !allHaveSubject {
		add("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.")
	}
	if len(m.Content) == 0 {
		add("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.")
	}
	for i, c := range m.Content {
		if c.Value == "" {
			add(fmt.Sprintf("content.%d.value", i), "The content value must be a string at least one character in length.")
		}
		if c.Type == "text/plain" && i > 0 {
			add("content", "If present, text/plain content must be first, followed by text/html, followed by any other content.")
		}
	}
	return errs
}

// validSendGridAddress accepts a bare address, as the email field must be.
func validSendGridAddress(s string) bool {
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s
}

func writeSendGridErrors(w http.ResponseWriter, status int, errs ...sendGridError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]sendGridError{"errors": errs})
}

// newSendGridMessageID returns an id shaped like SendGrid's (22 characters of
// URL-safe base64).
func newSendGridMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
