package sendgrid

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/mail"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

const testKey = "SG.secret-test-key"

var (
	ada  = mail.Address{Name: "Ada", Email: "ada@example.com"}
	shop = mail.Address{Name: "Shop", Email: "shop@example.com"}
)

func newSendGrid(t *testing.T, key, baseURL string) *Sender {
	t.Helper()
	s, err := New(key, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendGridSend(t *testing.T) {
	fake := testenv.NewSendGrid(t, testKey)
	sg := newSendGrid(t, testKey, fake.URL+"/") // a trailing slash is fine
	to := []testenv.SendGridAddress{{Email: ada.Email, Name: ada.Name}}
	from := &testenv.SendGridAddress{Email: shop.Email, Name: shop.Name}
	tests := []struct {
		name string
		msg  mail.Message
		want testenv.SendGridMail
	}{
		{"text and html",
			mail.Message{From: shop, To: ada, Subject: "Hi", Text: "Hello", HTML: "<p>Hello & welcome</p>"},
			testenv.SendGridMail{From: from, Subject: "Hi",
				Personalizations: []testenv.SendGridPersonalization{{To: to}},
				Content:          []testenv.SendGridContent{{Type: "text/plain", Value: "Hello"}, {Type: "text/html", Value: "<p>Hello & welcome</p>"}}}},
		{"html only",
			mail.Message{From: shop, To: ada, Subject: "Hi", HTML: "<p>Hello</p>"},
			testenv.SendGridMail{From: from, Subject: "Hi",
				Personalizations: []testenv.SendGridPersonalization{{To: to}},
				Content:          []testenv.SendGridContent{{Type: "text/html", Value: "<p>Hello</p>"}}}},
		{"dynamic template",
			mail.Message{From: shop, To: ada, TemplateID: "d-123", TemplateData: map[string]any{"name": "Ada", "total": 12.5}},
			testenv.SendGridMail{From: from, TemplateID: "d-123",
				Personalizations: []testenv.SendGridPersonalization{{To: to, DynamicTemplateData: map[string]any{"name": "Ada", "total": 12.5}}}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := sg.Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := fake.Messages()
			if len(msgs) != i+1 || msgs[i].ID != id || id == "" {
				t.Fatalf("id %q; fake recorded %d messages, want %d, the last with that id", id, len(msgs), i+1)
			}
			if !reflect.DeepEqual(msgs[i].Mail, tt.want) {
				t.Errorf("payload = %+v, want %+v", msgs[i].Mail, tt.want)
			}
		})
	}
}

func TestSendGridErrors(t *testing.T) {
	valid := mail.Message{From: shop, To: ada, Subject: "Hi", Text: "Hello"}
	tests := []struct {
		name       string
		key        string
		fail       func(*testenv.SendGrid)
		msg        mail.Message
		status     int
		temporary  bool
		retryAfter time.Duration
		contains   string
	}{
		{name: "server error", fail: func(f *testenv.SendGrid) { f.FailNext(1, 500, 0) }, msg: valid,
			status: 500, temporary: true, contains: "Internal Server Error"},
		{name: "rate limited", fail: func(f *testenv.SendGrid) { f.FailNext(1, 429, 7*time.Second) }, msg: valid,
			status: 429, temporary: true, retryAfter: 7 * time.Second},
		// Validate would refuse this message: here it reaches SendGrid.
		{name: "bad payload", msg: mail.Message{From: shop, To: ada, Subject: "Hi"},
			status: 400, contains: "content: Unless a valid template_id is provided"},
		{name: "wrong key", key: "SG.wrong-secret-key", msg: valid,
			status: 401, contains: "authorization grant is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := testenv.NewSendGrid(t, testKey)
			if tt.fail != nil {
				tt.fail(fake)
			}
			key := testKey
			if tt.key != "" {
				key = tt.key
			}
			_, err := newSendGrid(t, key, fake.URL).Send(context.Background(), tt.msg)
			var pe *mail.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("error = %v, want a *mail.ProviderError", err)
			}
			if pe.StatusCode != tt.status || pe.Temporary() != tt.temporary || pe.RetryAfter != tt.retryAfter {
				t.Errorf("error %+v: want status %d, temporary %v, retry after %v", pe, tt.status, tt.temporary, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), tt.contains) || strings.Contains(err.Error(), key) {
				t.Errorf("error %q should contain %q and not the key", err, tt.contains)
			}
			if len(fake.Messages()) != 0 {
				t.Error("the fake recorded a message")
			}
		})
	}
}

func TestSendGridTransportError(t *testing.T) {
	// A call cut short gets no answer: its outcome is unknown, so the error
	// is not a *mail.ProviderError.
	fake := testenv.NewSendGrid(t, testKey)
	sg := newSendGrid(t, testKey, fake.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sg.Send(ctx, mail.Message{From: shop, To: ada, Subject: "Hi", Text: "Hello"})
	var pe *mail.ProviderError
	if err == nil || errors.As(err, &pe) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want a transport error wrapping context.Canceled", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error %q contains the key", err)
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"ftp://api.sendgrid.com", "api.sendgrid.com", "https://", "https://x?y=1", "://"} {
		if _, err := New(testKey, bad); err == nil {
			t.Errorf("New(%q) succeeded, want an error", bad)
		}
	}
	if _, err := New("", ""); err == nil {
		t.Error("New with no key succeeded")
	}
	sg, err := New(testKey, "")
	if err != nil || sg.baseURL != DefaultBaseURL {
		t.Errorf("New(key, \"\") = %v, %v; want the default base URL", sg, err)
	}
}

// TestRetryAfter covers what retryAfter adds to outbound.RetryAfter (whose
// parsing of Retry-After is tested in internal/outbound): SendGrid's
// X-RateLimit-Reset, and Retry-After taking precedence over it.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"SendGrid rate limit reset", http.Header{"X-Ratelimit-Reset": {"1714564810"}}, 10 * time.Second},
		{"Retry-After wins", http.Header{"Retry-After": {"2"}, "X-Ratelimit-Reset": {"1714564810"}}, 2 * time.Second},
		{"none", http.Header{}, 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("%s: retryAfter = %v, want %v", tt.name, got, tt.want)
		}
	}
}
