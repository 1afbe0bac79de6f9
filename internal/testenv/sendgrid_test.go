package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sendGridTestKey = "SG.test-key"

const validSendGridMail = `{
	"personalizations": [{"to": [{"email": "ada@example.com", "name": "Ada"}]}],
	"from": {"email": "shop@example.com"},
	"subject": "Hello",
	"content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}]
}`

type sendGridAnswer struct {
	status int
	header http.Header
	errors []sendGridError
}

func postSendGrid(t *testing.T, s *SendGrid, method, path, auth, body string) sendGridAnswer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := sendGridAnswer{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		var body struct {
			Errors []sendGridError `json:"errors"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("error body %q is not SendGrid's JSON: %v", raw, err)
		}
		a.errors = body.Errors
	}
	return a
}

func sendGridFields(errs []sendGridError) []string {
	out := []string{}
	for _, e := range errs {
		if e.Message == "" {
			return []string{"<an error without a message>"}
		}
		if e.Field != nil {
			out = append(out, *e.Field)
		} else {
			out = append(out, "null")
		}
	}
	return out
}

func TestSendGridChecksRequests(t *testing.T) {
	s := NewSendGrid(t, sendGridTestKey)
	bearer := "Bearer " + sendGridTestKey
	tests := []struct {
		name         string
		method, path string
		auth, body   string
		status       int
		fields       []string
	}{
		{"no key", http.MethodPost, SendGridMailPath, "", validSendGridMail, 401, []string{"null"}},
		{"wrong key", http.MethodPost, SendGridMailPath, "Bearer SG.other", validSendGridMail, 401, []string{"null"}},
		{"not JSON", http.MethodPost, SendGridMailPath, bearer, `{"personalizations":`, 400, []string{"null"}},
		{"empty payload", http.MethodPost, SendGridMailPath, bearer, `{}`, 400,
			[]string{"personalizations", "from.email", "subject", "content"}},
		{"bad addresses and content order", http.MethodPost, SendGridMailPath, bearer, `{
			"personalizations": [{"to": [{"email": "Ada <ada@example.com>"}]}, {"to": []}],
			"from": {"email": "nope"}, "subject": "s",
			"content": [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": ""}]}`, 400,
			[]string{"personalizations.0.to.0.email", "personalizations.1.to", "from.email", "content.1.value", "content"}},
		{"template needs no subject or content", http.MethodPost, SendGridMailPath, bearer, `{
			"personalizations": [{"to": [{"email": "ada@example.com"}], "dynamic_template_data": {"n": 1}}],
			"from": {"email": "shop@example.com"}, "template_id": "d-123"}`, 202, nil},
		{"subjects in every personalization", http.MethodPost, SendGridMailPath, bearer, `{
			"personalizations": [{"to": [{"email": "ada@example.com"}], "subject": "s"}],
			"from": {"email": "shop@example.com"}, "content": [{"type": "text/plain", "value": "x"}]}`, 202, nil},
		{"valid", http.MethodPost, SendGridMailPath, bearer, validSendGridMail, 202, nil},
		{"other path", http.MethodPost, "/v3/templates", bearer, validSendGridMail, 404, []string{"null"}},
		{"GET", http.MethodGet, SendGridMailPath, bearer, "", 405, []string{"null"}},
	}
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := postSendGrid(t, s, tt.method, tt.path, tt.auth, tt.body)
			if a.status != tt.status {
				t.Fatalf("status = %d (%+v), want %d", a.status, sendGridFields(a.errors), tt.status)
			}
			if tt.status == http.StatusAccepted {
				accepted++
				id := a.header.Get("X-Message-Id")
				msgs := s.Messages()
				if len(id) != 22 || len(msgs) != accepted || msgs[accepted-1].ID != id {
					t.Fatalf("X-Message-Id %q; recorded %d messages, want %d, the last with that id", id, len(msgs), accepted)
				}
				return
			}
			if got := sendGridFields(a.errors); !reflect.DeepEqual(got, tt.fields) {
				t.Fatalf("error fields = %v, want %v", got, tt.fields)
			}
		})
	}
	if s.Requests() != len(tests) {
		t.Errorf("Requests() = %d, want %d", s.Requests(), len(tests))
	}
}

func TestSendGridRecordsPayload(t *testing.T) {
	s := NewSendGrid(t, sendGridTestKey)
	if a := postSendGrid(t, s, http.MethodPost, SendGridMailPath, "Bearer "+sendGridTestKey, validSendGridMail); a.status != http.StatusAccepted {
		t.Fatalf("status = %d", a.status)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("recorded %d messages, want 1", len(msgs))
	}
	want := SendGridMail{
		Personalizations: []SendGridPersonalization{{To: []SendGridAddress{{Email: "ada@example.com", Name: "Ada"}}}},
		From:             &SendGridAddress{Email: "shop@example.com"},
		Subject:          "Hello",
		Content:          []SendGridContent{{"text/plain", "Hi"}, {"text/html", "<p>Hi</p>"}},
	}
	if !reflect.DeepEqual(msgs[0].Mail, want) {
		t.Errorf("recorded %+v, want %+v", msgs[0].Mail, want)
	}
}

func TestSendGridFailNext(t *testing.T) {
	s := NewSendGrid(t, sendGridTestKey)
	s.FailNext(1, http.StatusTooManyRequests, 3*time.Second)
	s.FailNext(2, http.StatusInternalServerError, 0)
	want := []struct {
		status     int
		retryAfter string
	}{{429, "3"}, {500, ""}, {500, ""}, {202, ""}}
	for i, w := range want {
		a := postSendGrid(t, s, http.MethodPost, SendGridMailPath, "Bearer "+sendGridTestKey, validSendGridMail)
		if a.status != w.status || a.header.Get("Retry-After") != w.retryAfter {
			t.Fatalf("request %d: status %d, Retry-After %q; want %d, %q",
				i, a.status, a.header.Get("Retry-After"), w.status, w.retryAfter)
		}
		if w.status != http.StatusAccepted && (len(a.errors) != 1 || a.errors[0].Message == "") {
			t.Fatalf("request %d: errors %+v, want one with a message", i, a.errors)
		}
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("recorded %d messages, want 1 (failed requests are not recorded)", n)
	}
}
