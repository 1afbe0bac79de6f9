package activities

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/internal/outbound"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// httpEnv runs the HTTP node types in a test activity environment and
// records every address their client connects to.
type httpEnv struct {
	*testsuite.TestActivityEnvironment
	mu       sync.Mutex
	connects []string
}

// newHTTPEnv registers api_call and notification with a client whose policy
// allows only allow (tests pass "127.0.0.1" for the test server).
func newHTTPEnv(t *testing.T, maxOutput int, webhooks map[string]string, allow ...string) *httpEnv {
	t.Helper()
	e := testExprs(t)
	env := &httpEnv{}
	client, err := outbound.NewClient(outbound.Options{
		Allow: allow,
		OnConnect: func(_, address string) {
			env.mu.Lock()
			defer env.mu.Unlock()
			env.connects = append(env.connects, address)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHTTPNodes(&Activities{Expr: e, MaxOutputBytes: maxOutput}, client, webhooks)
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env.TestActivityEnvironment = suite.NewTestActivityEnvironment()
	h.RegisterIO(env, &IO{HTTP: h})
	return env
}

// connected returns the addresses connected to so far and forgets them.
func (e *httpEnv) connected() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.connects
	e.connects = nil
	return out
}

// testServer is an httptest server on 127.0.0.1 with canned endpoints:
//
//	/json, /text, /empty, /bad-json   answers of each kind
//	/echo                             the request as JSON
//	/status/{code}                    that status; Retry-After from ?retryAfter=
//	/slow                             answers after 5 s (or when the client gives up)
//	/big                              2 KiB of text
//	/hooks/...                        "ok", as a webhook does
//	/redirect?to=URL                  a 302 to URL
type testServer struct {
	*httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	last     receivedRequest
}

// receivedRequest is what the test server saw of a request.
type receivedRequest struct {
	method, contentType, body string
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	s := &testServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Request-Id", "r-1")
		w.Header().Add("Set-Cookie", "session=secret")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Origin")
		_, _ = io.WriteString(w, `{"id": 7, "tags": ["a"]}`)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello")
	})
	mux.HandleFunc("/bad-json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		_, _ = io.WriteString(w, "{not json")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "contentType": r.Header.Get("Content-Type"),
			"auth": r.Header.Get("Authorization"), "body": string(body),
		})
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("retryAfter"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		var code int
		if err := json.Unmarshal([]byte(r.PathValue("code")), &code); err != nil {
			t.Errorf("bad status %q", r.PathValue("code"))
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"error": "status `+r.PathValue("code")+`"}`)
	})
	mux.HandleFunc("/slow", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 2<<10))
	})
	mux.HandleFunc("/hooks/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.last = receivedRequest{method: r.Method, contentType: r.Header.Get("Content-Type"), body: string(body)}
		s.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("test server listens on %s, want 127.0.0.1", s.URL)
	}
	return s
}

func (s *testServer) lastRequest() receivedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *testServer) port() string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

// callRequest builds an api_call request; the input holds the server's base
// URL as input.base.
func callRequest(t *testing.T, srv *testServer, config string) interpreter.NodeRequest {
	t.Helper()
	base, _ := json.Marshal(srv.URL)
	return nodeRequest(t, "call", TypeAPICall, config, `{"base": `+string(base)+`, "name": "Ada", "token": "t0k"}`)
}

func TestAPICall(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	env := newHTTPEnv(t, 0, nil, "127.0.0.1")
	tests := []struct {
		name, config string
		want         string // the output
		sent         string // the body the server received
	}{
		{"JSON response", `{"method": "GET", "url": "input.base + '/json'"}`,
			`{"status": 200, "headers": {"content-type": "application/json; charset=utf-8", "x-request-id": "r-1",
			  "vary": "Accept, Origin", "content-length": "24", "date": "*"}, "body": {"id": 7, "tags": ["a"]}}`, ""},
		{"text response", `{"method": "GET", "url": "input.base + '/text'"}`,
			`{"status": 200, "headers": {"content-type": "text/plain", "content-length": "5", "date": "*"}, "body": "hello"}`, ""},
		{"JSON that does not parse is text", `{"method": "GET", "url": "input.base + '/bad-json'"}`,
			`{"status": 200, "headers": {"content-type": "application/problem+json", "content-length": "9", "date": "*"}, "body": "{not json"}`, ""},
		{"empty response", `{"method": "DELETE", "url": "input.base + '/empty'"}`,
			`{"status": 204, "headers": {"date": "*"}, "body": null}`, ""},
		{"JSON body and header from expressions",
			`{"method": "POST", "url": "input.base + '/echo'", "headers": {"Authorization": "'Bearer ' + input.token"},
			  "body": "{'name': input.name, 'n': 2}"}`,
			`{"method": "POST", "contentType": "application/json", "auth": "Bearer t0k", "body": "{\"n\":2,\"name\":\"Ada\"}"}`,
			`{"n":2,"name":"Ada"}`},
		{"string body sent as it is", `{"method": "PUT", "url": "input.base + '/echo'", "body": "'name=' + input.name"}`,
			`{"method": "PUT", "contentType": "text/plain; charset=utf-8", "auth": "", "body": "name=Ada"}`, "name=Ada"},
		{"content type from the headers", `{"method": "PATCH", "url": "input.base + '/echo'",
			  "headers": {"content-type": "'application/merge-patch+json'"}, "body": "{'a': null}"}`,
			`{"method": "PATCH", "contentType": "application/merge-patch+json", "auth": "", "body": "{\"a\":null}"}`, `{"a":null}`},
		{"accepted error status", `{"method": "GET", "url": "input.base + '/status/404'", "successStatus": [200, 404]}`,
			`{"status": 404, "headers": {"content-length": "23", "content-type": "text/plain; charset=utf-8", "date": "*"},
			  "body": "{\"error\": \"status 404\"}"}`, ""},
		{"redirect followed", `{"method": "GET", "url": "input.base + '/redirect?to=/text'"}`,
			`{"status": 200, "headers": {"content-type": "text/plain", "content-length": "5", "date": "*"}, "body": "hello"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := execNode(t, env.TestActivityEnvironment, callRequest(t, srv, tt.config))
			if err != nil {
				t.Fatal(err)
			}
			out := res.Output.(map[string]any)
			if strings.Contains(tt.config, "/echo") {
				// The echo's own headers do not matter here.
				jsonEqual(t, out["body"], tt.want)
				if got := srv.lastRequest().body; got != tt.sent {
					t.Fatalf("server received %q, want %q", got, tt.sent)
				}
				return
			}
			// Date varies: check it is there, then compare the rest.
			headers := out["headers"].(map[string]any)
			if headers["date"] == nil || headers["date"] == "" {
				t.Fatalf("no date header in %v", headers)
			}
			headers["date"] = "*"
			jsonEqual(t, out, tt.want)
			if res.Outcome != interpreter.OutcomeSuccess {
				t.Fatalf("outcome %q", res.Outcome)
			}
		})
	}
}

// checkHTTPError checks an HTTP node's error: its type, retryability, the delay it
// asks for and that its message names the node and carries no secret.
func checkHTTPError(t *testing.T, err error, typ string, retryable bool, delay time.Duration) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error = %v, want an ApplicationError of type %s", err, typ)
	}
	if appErr.Type() != typ || appErr.NonRetryable() == retryable {
		t.Fatalf("error %v: type %s, non-retryable %v; want %s, retryable %v",
			err, appErr.Type(), appErr.NonRetryable(), typ, retryable)
	}
	if got := appErr.NextRetryDelay(); got != delay {
		t.Fatalf("next retry delay %v, want %v", got, delay)
	}
	if !strings.Contains(appErr.Message(), `node "`) || strings.Contains(appErr.Message(), "s3cr3t") {
		t.Fatalf("message %q should name the node and carry no secret", appErr.Message())
	}
	return appErr
}

func TestAPICallFailures(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	env := newHTTPEnv(t, 0, nil, "127.0.0.1")
	closed := closedPort(t)
	tests := []struct {
		name, config string
		typ          string
		retryable    bool
		delay        time.Duration
		status       int // the HTTPFailure's status, for ErrHTTPStatus
		message      string
	}{
		{"503 with Retry-After seconds", `{"method": "GET", "url": "input.base + '/status/503?retryAfter=7&key=s3cr3t'"}`,
			ErrHTTPStatus, true, 7 * time.Second, 503, "GET http://127.0.0.1:" + srv.port() + "/status/503 answered 503 Service Unavailable"},
		{"429 with a huge Retry-After", `{"method": "GET", "url": "input.base + '/status/429?retryAfter=99999999999999999999'"}`,
			ErrHTTPStatus, true, outbound.MaxRetryAfter, 429, "429 Too Many Requests"},
		{"408 without Retry-After", `{"method": "POST", "url": "input.base + '/status/408'"}`,
			ErrHTTPStatus, true, 0, 408, "408 Request Timeout"},
		{"500 with an unreadable Retry-After", `{"method": "GET", "url": "input.base + '/status/500?retryAfter=soon'"}`,
			ErrHTTPStatus, true, 0, 500, "500 Internal Server Error"},
		{"404", `{"method": "GET", "url": "input.base + '/status/404?retryAfter=5'"}`,
			ErrHTTPStatus, false, 0, 404, "404 Not Found"},
		{"success status not accepted", `{"method": "GET", "url": "input.base + '/status/200'", "successStatus": [201]}`,
			ErrHTTPStatus, false, 0, 200, "200 OK"},
		{"the connection was refused", `{"method": "GET", "url": "'http://` + closed + `/x?key=s3cr3t'"}`,
			ErrNetwork, true, 0, 0, "the connection was refused"},
		{"timeout", `{"method": "GET", "url": "input.base + '/slow'", "timeout": "100ms"}`,
			ErrNetwork, true, 0, 0, "no response within the node's timeout (100ms)"},
		{"URL not absolute", `{"method": "GET", "url": "'/relative'"}`,
			interpreter.ErrExpression, false, 0, 0, "url \"'/relative'\": result not an absolute URL"},
		{"header injection", `{"method": "GET", "url": "input.base + '/json'", "headers": {"X-A": "'a\\r\\nX-B: b'"}}`,
			interpreter.ErrExpression, false, 0, 0, "headers.X-A"},
		{"body fails", `{"method": "POST", "url": "input.base + '/echo'", "body": "input.missing.x"}`,
			interpreter.ErrExpression, false, 0, 0, "body"},
		{"config checked at run time", `{"method": "get", "url": "input.base"}`,
			interpreter.ErrConfiguration, false, 0, 0, "method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execNode(t, env.TestActivityEnvironment, callRequest(t, srv, tt.config))
			appErr := checkHTTPError(t, err, tt.typ, tt.retryable, tt.delay)
			if !strings.Contains(appErr.Message(), tt.message) {
				t.Fatalf("message %q does not contain %q", appErr.Message(), tt.message)
			}
			// The URL's path names the endpoint; its query may hold a secret.
			if strings.Contains(appErr.Message(), "s3cr3t") {
				t.Fatalf("message %q quotes the query", appErr.Message())
			}
			if tt.typ != ErrHTTPStatus {
				return
			}
			var detail HTTPFailure
			if err := appErr.Details(&detail); err != nil {
				t.Fatal(err)
			}
			if want := `{"error": "status `; detail.Status != tt.status || !strings.HasPrefix(detail.Body, want) {
				t.Fatalf("detail = %+v, want status %d and the body", detail, tt.status)
			}
		})
	}
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestAPICallRetryAfterDate(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	env := newHTTPEnv(t, 0, nil, "127.0.0.1")
	at := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	config := `{"method": "GET", "url": "input.base + '/status/429?retryAfter=` + strings.ReplaceAll(at, " ", "%20") + `'"}`
	_, err := execNode(t, env.TestActivityEnvironment, callRequest(t, srv, config))
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.NonRetryable() {
		t.Fatalf("err = %v, want a retryable application error", err)
	}
	if d := appErr.NextRetryDelay(); d < 20*time.Second || d > 30*time.Second {
		t.Fatalf("next retry delay %v, want about 30s", d)
	}
}

func TestAPICallBodyCap(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	env := newHTTPEnv(t, 1<<10, nil, "127.0.0.1")
	_, err := execNode(t, env.TestActivityEnvironment, callRequest(t, srv, `{"method": "GET", "url": "input.base + '/big'"}`))
	appErr := checkHTTPError(t, err, interpreter.ErrPayloadTooBig, false, 0)
	if !strings.Contains(appErr.Message(), "over 1024 bytes") {
		t.Fatalf("message %q", appErr.Message())
	}
	// An error status with a big body is still classified by its status.
	_, err = execNode(t, env.TestActivityEnvironment, callRequest(t, srv, `{"method": "GET", "url": "input.base + '/big'", "successStatus": [201]}`))
	checkHTTPError(t, err, ErrHTTPStatus, false, 0)
}

// TestAPICallRefused checks that a refused destination is a clear
// non-retryable error and that nothing connects to it: the hook sees no
// connect attempt, and the test server (the only listener the loopback
// URLs could reach) receives no request. Non-loopback destinations are
// literal addresses, refused before anything is dialled.
func TestAPICallRefused(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	closedEnv := newHTTPEnv(t, 0, nil) // nothing allowed
	openEnv := newHTTPEnv(t, 0, nil, "127.0.0.1")
	tests := []struct {
		name string
		env  *httpEnv
		url  string
		want string
	}{
		{"loopback not allowed", closedEnv, srv.URL + "/json", "loopback"},
		{"name resolving to loopback", closedEnv, "http://localhost:" + srv.port() + "/json", "loopback"},
		{"IPv6 loopback", closedEnv, "http://[::1]:" + srv.port() + "/json", "loopback"},
		{"private", openEnv, "http://10.0.0.1/x", "private"},
		{"metadata", openEnv, "http://169.254.169.254/latest/meta-data/?token=s3cr3t", "link-local"},
		{"scheme", openEnv, "file:///etc/passwd", `scheme "file"`},
		{"redirect to metadata", openEnv, srv.URL + "/redirect?to=http://169.254.169.254/latest/meta-data/", "link-local"},
		{"redirect to a private IPv6 address", openEnv, srv.URL + "/redirect?to=http://[fd00::1]/", "unique local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.requests.Store(0)
			input, _ := json.Marshal(map[string]string{"url": tt.url})
			req := nodeRequest(t, "call", TypeAPICall, `{"method": "GET", "url": "input.url"}`, string(input))
			_, err := execNode(t, tt.env.TestActivityEnvironment, req)
			appErr := checkHTTPError(t, err, ErrDestinationRefused, false, 0)
			if msg := appErr.Message(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "?") {
				t.Fatalf("message %q should say %q and not quote the query", msg, tt.want)
			}
			wantRequests := int32(0)
			if strings.Contains(tt.url, "/redirect") {
				wantRequests = 1 // the redirect itself
			}
			if n := srv.requests.Load(); n != wantRequests {
				t.Fatalf("server saw %d requests, want %d", n, wantRequests)
			}
			for _, addr := range tt.env.connected() {
				if addr != "127.0.0.1:"+srv.port() || tt.env == closedEnv {
					t.Fatalf("connected to %s", addr)
				}
			}
		})
	}
}

func TestAPICallCheckConfig(t *testing.T) {
	t.Parallel()
	p := problemAt
	nt := lookupType(t, TypeAPICall, IOOptions{})
	if nt.Kind != interpreter.KindIO {
		t.Fatalf("kind %v", nt.Kind)
	}
	tests := []configCase{
		{"minimal", `{"method": "GET", "url": "'https://example.com'"}`, nil},
		{"full", `{"method": "POST", "url": "input.url", "headers": {"X-Key": "input.k", "Accept": "'application/json'"},
		  "body": "{'a': 1}", "successStatus": [200, 201, 409], "timeout": "2s"}`, nil},
		{"empty", `{}`, []interpreter.Problem{p("method", interpreter.CodeRequired), p("url", interpreter.CodeRequired)}},
		{"not an object", `[]`, []interpreter.Problem{p("", interpreter.CodeInvalidConfig)}},
		{"unknown field", `{"method": "GET", "url": "'x'", "query": {}}`, []interpreter.Problem{p("", interpreter.CodeInvalidConfig)}},
		{"everything wrong", `{"method": "FETCH", "url": "input.", "headers": {"Bad Name": "'x'", "X-A": "nope(", "x-a": "'y'"},
		  "body": "1 +", "successStatus": [99, 200, 600], "timeout": "soon"}`, []interpreter.Problem{
			p("method", interpreter.CodeInvalidConfig),
			p("url", interpreter.CodeInvalidExpression),
			p("headers.Bad Name", interpreter.CodeInvalidConfig),
			p("headers.X-A", interpreter.CodeInvalidExpression),
			p("headers.x-a", interpreter.CodeInvalidConfig),
			p("body", interpreter.CodeInvalidExpression),
			p("successStatus[0]", interpreter.CodeInvalidConfig),
			p("successStatus[2]", interpreter.CodeInvalidConfig),
			p("timeout", interpreter.CodeInvalidDuration),
		}},
		{"empty header expression and negative timeout", `{"method": "GET", "url": "'x'", "headers": {"A": ""}, "timeout": "-1s"}`,
			[]interpreter.Problem{p("headers.A", interpreter.CodeRequired), p("timeout", interpreter.CodeInvalidDuration)}},
	}
	checkConfigCases(t, nt, tests)
}
