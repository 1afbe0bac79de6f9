package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// internalText are fragments of Go, database and Temporal error text that
// must never reach a client.
var internalText = []string{
	"json: ", "cannot unmarshal", "invalid character", "unexpected end of JSON", "sql: ", "SQLSTATE",
	"sqlite", "pq: ", "pgx", "goroutine", "panic", "runtime error", ".go:", "rpc error", "strconv.",
	"interface {}", "map[string]", "[]interface", "context deadline", "serviceerror", "Go struct",
	"workflowservice", "connection refused", "nil pointer", "payload item", "wrapError",
}

// checkClientError asserts a 4xx in the error envelope with a message and
// none of internalText.
func checkClientError(t *testing.T, name string, r response) {
	t.Helper()
	if r.Status < 400 || r.Status >= 500 {
		t.Errorf("%s: status %d, want 4xx: %s", name, r.Status, r.Raw)
		return
	}
	if r.Body.Success || r.Body.Error == nil || r.Body.Error.Code == "" || r.Body.Error.Message == "" {
		t.Errorf("%s: %d without the error envelope: %s", name, r.Status, r.Raw)
		return
	}
	for _, frag := range internalText {
		if strings.Contains(string(r.Raw), frag) {
			t.Errorf("%s: %d answer carries internal text %q: %s", name, r.Status, frag, r.Raw)
		}
	}
}

// Bad input on every route is a 4xx with a clear message in the envelope,
// never a 500 and never internal error text.
func TestBadInputEverywhere(t *testing.T) {
	id := uniqueID("t-bad-input")
	register(t, apitest.Definition(id, "1", "w", []map[string]any{apitest.Node("w", "wait", map[string]any{"signal": "go"})}, nil), http.StatusCreated)
	r := execute(t, id, "", nil, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var running executeResponse
	r.DecodeData(t, &running)

	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	huge := `{"input": "` + strings.Repeat("a", int(env.bodyLimit)) + `"}`
	exec := "/api/workflows/" + id + "/execute"
	type tc struct {
		name, method, path string
		body               any
		headers            []string
	}
	cases := []tc{
		// Registration.
		{"register: malformed", "POST", "/api/workflows", `{"id": `, nil},
		{"register: trailing garbage", "POST", "/api/workflows", `{"id": "a"} x`, nil},
		{"register: array", "POST", "/api/workflows", `[]`, nil},
		{"register: string", "POST", "/api/workflows", `"x"`, nil},
		{"register: null", "POST", "/api/workflows", `null`, nil},
		{"register: empty", "POST", "/api/workflows", ``, nil},
		{"register: wrong types", "POST", "/api/workflows", `{"id": 5, "nodes": "x", "edges": {}}`, nil},
		{"register: node of wrong type", "POST", "/api/workflows", `{"id": "x", "version": "1", "startNode": "a", "nodes": [5, "a", null]}`, nil},
		{"register: number overflow", "POST", "/api/workflows", `{"id": 1e999}`, nil},
		{"register: deep nesting", "POST", "/api/workflows", `{"id": ` + deep + `}`, nil},
		{"register: invalid UTF-8", "POST", "/api/workflows", "{\"id\": \"\xff\xfe\"}", nil},
		{"register: huge", "POST", "/api/workflows", huge, nil},
		{"register: text/plain", "POST", "/api/workflows", `hello`, []string{"Content-Type", "text/plain"}},
		// Reading definitions.
		{"definition: unknown", "GET", "/api/workflows/no-such-def", nil, nil},
		{"definition: odd id", "GET", "/api/workflows/%00%27%22", nil, nil},
		{"definition: long id", "GET", "/api/workflows/" + strings.Repeat("a", 5000), nil, nil},
		{"definition: traversal", "GET", "/api/workflows/..%2F..%2Fetc", nil, nil},
		{"version: unknown", "GET", "/api/workflows/" + id + "/versions/9.9", nil, nil},
		{"version: odd", "GET", "/api/workflows/" + id + "/versions/%27%3B--", nil, nil},
		// Execute.
		{"execute: unknown definition", "POST", "/api/workflows/no-such-def/execute", nil, nil},
		{"execute: odd definition id", "POST", "/api/workflows/%27%20OR%201=1/execute", nil, nil},
		{"execute: malformed", "POST", exec, `{"input": `, nil},
		{"execute: unknown field", "POST", exec, `{"inputs": 1}`, nil},
		{"execute: version of wrong type", "POST", exec, `{"version": 5}`, nil},
		{"execute: unknown version", "POST", exec, `{"version": "7"}`, nil},
		{"execute: number overflow", "POST", exec, `{"input": 1e999}`, nil},
		{"execute: deep nesting", "POST", exec, `{"input": ` + deep + `}`, nil},
		{"execute: huge", "POST", exec, huge, nil},
		{"execute: bad wait", "POST", exec + "?wait=soon", nil, nil},
		{"execute: negative wait", "POST", exec + "?wait=-5", nil, nil},
		{"execute: NaN wait", "POST", exec + "?wait=NaN", nil, nil},
		{"execute: infinite wait", "POST", exec + "?wait=Inf", nil, nil},
		{"execute: overflowing wait", "POST", exec + "?wait=99999999999h", nil, nil},
		{"execute: empty wait", "POST", exec + "?wait=", nil, nil},
		{"execute: empty Idempotency-Key", "POST", exec, nil, []string{"Idempotency-Key", ""}},
		{"execute: long Idempotency-Key", "POST", exec, nil, []string{"Idempotency-Key", strings.Repeat("k", 300)}},
		{"execute: non-ASCII Idempotency-Key", "POST", exec, nil, []string{"Idempotency-Key", "clé"}},
		{"execute: two Idempotency-Keys", "POST", exec, nil, []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}},
		// Executions.
		{"list: bad status", "GET", "/api/executions?status=sleeping", nil, nil},
		{"list: bad page size", "GET", "/api/executions?pageSize=0", nil, nil},
		{"list: page size not a number", "GET", "/api/executions?pageSize=ten", nil, nil},
		{"list: huge page size", "GET", "/api/executions?pageSize=99999999999999999999", nil, nil},
		{"list: bad token", "GET", "/api/executions?pageToken=!!!", nil, nil},
		{"list: forged token", "GET", "/api/executions?pageToken=AAAAAAAAAAAA", nil, nil},
		{"list: bad time", "GET", "/api/executions?startedAfter=yesterday", nil, nil},
		{"list: injected definition id", "GET", "/api/executions?definitionId=x'%20OR%20'1'='1", nil, nil},
		{"execution: unknown", "GET", "/api/executions/no-such-execution", nil, nil},
		{"execution: odd id", "GET", "/api/executions/%27%22%00", nil, nil},
		{"execution: control characters", "GET", "/api/executions/a%0Ab%7F", nil, nil},
		{"execution: invalid UTF-8", "GET", "/api/executions/%FF%FE", nil, nil},
		{"execution: long id", "GET", "/api/executions/" + strings.Repeat("e", 5000), nil, nil},
		{"signal: bad name", "POST", "/api/executions/" + running.ExecutionID + "/signals/1-go", nil, nil},
		{"signal: long name", "POST", "/api/executions/" + running.ExecutionID + "/signals/" + strings.Repeat("s", 300), nil, nil},
		{"signal: malformed payload", "POST", "/api/executions/" + running.ExecutionID + "/signals/go", `{"a": `, nil},
		{"signal: huge payload", "POST", "/api/executions/" + running.ExecutionID + "/signals/go", huge, nil},
		{"signal: number overflow", "POST", "/api/executions/" + running.ExecutionID + "/signals/go", `{"n": 1e999}`, nil},
		{"signal: unknown execution", "POST", "/api/executions/nope/signals/go", `{}`, nil},
		{"cancel: unknown execution", "POST", "/api/executions/nope/cancel", nil, nil},
		// Products and the rest.
		{"product: not a number", "GET", "/api/products/abc", nil, nil},
		{"product: overflow", "GET", "/api/products/99999999999999999999999", nil, nil},
		{"product: unknown", "GET", "/api/products/424242", nil, nil},
		{"unknown route", "GET", "/api/nothing/here", nil, nil},
		{"wrong method", "PUT", "/health", nil, nil},
		{"wrong method on execute", "GET", exec, nil, nil},
	}
	for _, c := range cases {
		checkClientError(t, c.name, call(t, c.method, c.path, c.body, c.headers...))
	}
	// Nothing above signaled or canceled the running execution.
	if v := getExecution(t, running.ExecutionID); v.Status != "running" {
		t.Errorf("execution %s is %s", running.ExecutionID, v.Status)
	}
	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+running.ExecutionID+"/cancel", nil), http.StatusAccepted, "")
}
