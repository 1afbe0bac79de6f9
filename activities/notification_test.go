package activities

import (
	"net/http"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func TestNotification(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	env := newHTTPEnv(t, 0, map[string]string{
		"alerts":   srv.URL + "/hooks/T000/s3cr3t",
		"broken":   srv.URL + "/status/500?token=s3cr3t",
		"gone":     srv.URL + "/status/410?token=s3cr3t",
		"internal": "http://10.0.0.1/hooks/s3cr3t",
	}, "127.0.0.1")
	input := `{"base": "` + srv.URL + `", "order": 42}`
	tests := []struct {
		name, config string
		typ          string // error type; "" for success
		retryable    bool
		message      string
	}{
		{"connection", `{"connection": "alerts", "message": "'Order ' + string(int(input.order)) + ' failed'"}`, "", false, ""},
		{"url", `{"url": "input.base + '/hooks/x'", "message": "'Order ' + string(int(input.order)) + ' failed'", "timeout": "5s"}`, "", false, ""},
		{"server error", `{"connection": "broken", "message": "'x'"}`,
			ErrHTTPStatus, true, `webhook connection "broken" answered 500`},
		{"client error", `{"connection": "gone", "message": "'x'"}`,
			ErrHTTPStatus, false, `webhook connection "gone" answered 410`},
		{"refused", `{"connection": "internal", "message": "'x'"}`,
			ErrDestinationRefused, false, "10.0.0.1 is a private address"},
		{"unknown connection", `{"connection": "nope", "message": "'x'"}`,
			interpreter.ErrConfiguration, false, `no webhook connection "nope"`},
		{"message fails", `{"connection": "alerts", "message": "input.missing"}`,
			interpreter.ErrExpression, false, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.requests.Store(0)
			res, err := execNode(t, env.TestActivityEnvironment, nodeRequest(t, "notify", TypeNotification, tt.config, input))
			if tt.typ != "" {
				appErr := checkHTTPError(t, err, tt.typ, tt.retryable, 0)
				if !strings.Contains(appErr.Message(), tt.message) {
					t.Fatalf("message %q does not contain %q", appErr.Message(), tt.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, res.Output, `{"status": 200}`)
			want := receivedRequest{method: http.MethodPost, contentType: "application/json", body: `{"text":"Order 42 failed"}`}
			if got := srv.lastRequest(); got != want || srv.requests.Load() != 1 {
				t.Fatalf("server received %+v (%d requests), want %+v", got, srv.requests.Load(), want)
			}
		})
	}
	for _, addr := range env.connected() {
		if addr != "127.0.0.1:"+srv.port() {
			t.Fatalf("connected to %s", addr)
		}
	}
}

func TestNotificationCheckConfig(t *testing.T) {
	t.Parallel()
	p := problemAt
	nt := lookupType(t, TypeNotification, IOOptions{})
	if nt.Kind != interpreter.KindIO {
		t.Fatalf("kind %v", nt.Kind)
	}
	tests := []configCase{
		{"connection", `{"connection": "alerts", "message": "'hi'"}`, nil},
		{"url", `{"url": "input.hook", "message": "'hi ' + input.name", "timeout": "3s"}`, nil},
		{"empty", `{}`, []interpreter.Problem{p("connection", interpreter.CodeRequired), p("message", interpreter.CodeRequired)}},
		{"both", `{"connection": "alerts", "url": "'https://x'", "message": "'hi'"}`,
			[]interpreter.Problem{p("", interpreter.CodeInvalidConfig)}},
		{"bad expressions and timeout", `{"url": "input.", "message": "1 +", "timeout": "1 minute"}`, []interpreter.Problem{
			p("url", interpreter.CodeInvalidExpression), p("message", interpreter.CodeInvalidExpression),
			p("timeout", interpreter.CodeInvalidDuration)}},
		{"unknown field", `{"connection": "alerts", "message": "'hi'", "channel": "#ops"}`,
			[]interpreter.Problem{p("", interpreter.CodeInvalidConfig)}},
	}
	checkConfigCases(t, nt, tests)
}

func TestNewHTTPNodes(t *testing.T) {
	t.Parallel()
	client := &http.Client{}
	tests := []struct {
		name     string
		client   *http.Client
		webhooks map[string]string
		want     string // error substring; "" for success
	}{
		{"ok", client, map[string]string{"alerts": "https://hooks.example.com/s3cr3t"}, ""},
		{"no client", nil, nil, "client"},
		{"default client", http.DefaultClient, nil, "client"},
		{"relative webhook", client, map[string]string{"alerts": "hooks.example.com/s3cr3t"}, `webhook "alerts": not an absolute URL`},
		{"unparsable webhook", client, map[string]string{"alerts": "https://hooks.example.com/%zz/s3cr3t"}, `webhook "alerts"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHTTPNodes(&Activities{}, tt.client, tt.webhooks)
			if tt.want == "" {
				if err != nil || h.Client != client {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("err = %v, want one containing %q and no secret", err, tt.want)
			}
		})
	}
}
