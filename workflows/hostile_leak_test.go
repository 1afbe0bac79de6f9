package workflows_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestNoInternalErrorText: errors whose raw text would tell a caller about
// the server (its resolver, working directory, libraries) reach callers as
// clean messages with stable codes, through every path that answers them.
func TestNoInternalErrorText(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.StripeMock(t), nil)
	wd, _ := os.Getwd()
	// ":53: " is the resolver's address in Go's DNS errors ("on
	// 127.0.0.53:53: no such host"); a bare ":53" also matched the clock in
	// the answer's timestamps during any minute or second 53.
	leaks := []string{"dial tcp", "lookup ", ":53: ", "SQL logic error", "proto:", "cipher:", "file://", wd, "(1)", "*errors.", "runtime error"}
	check := func(t *testing.T, what string, r reply, status int, code string, useful ...string) {
		t.Helper()
		if r.Status != status || r.Error.Code != code {
			t.Errorf("%s: %d %.400s, want %d %s", what, r.Status, r.Raw, status, code)
		}
		for _, l := range leaks {
			if strings.Contains(r.Raw, l) {
				t.Errorf("%s: the answer carries %q: %.600s", what, l, r.Raw)
			}
		}
		for _, u := range useful {
			if !strings.Contains(r.Raw, u) {
				t.Errorf("%s: the answer does not say %q: %.600s", what, u, r.Raw)
			}
		}
	}
	run := func(t *testing.T, node string) reply {
		t.Helper()
		id := fmt.Sprintf("t-leak-%d", queueSeq.Add(1))
		def := `{"id": "` + id + `", "version": "1", "startNode": "n", "nodes": [` + node + `], "edges": []}`
		if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		return e.post(t, "/api/workflows/"+id+"/execute?wait=30s", `{"input": {}}`)
	}

	t.Run("UnresolvableHost", func(t *testing.T) {
		r := run(t, `{"id": "n", "type": "api_call", "retry": {"maximumAttempts": 1},
			"config": {"method": "GET", "url": "'http://no-such-host.invalid/path'"}}`)
		check(t, "api_call", r, http.StatusUnprocessableEntity, "execution_failed", "no-such-host.invalid", "does not resolve")
		got := e.do(t, http.MethodGet, "/api/executions/"+r.executionID(), "")
		check(t, "GET execution", got, http.StatusOK, "", "does not resolve")
	})
	t.Run("UnknownTable", func(t *testing.T) {
		r := run(t, `{"id": "n", "type": "database_query", "config": {"connection": "app", "mode": "many", "query": "SELECT * FROM nope"}}`)
		check(t, "database_query", r, http.StatusUnprocessableEntity, "execution_failed", "no such table: nope")
	})
	t.Run("CodecGarbage", func(t *testing.T) {
		const admin = "ops-secret-ops-secret-ops-secret"
		ce := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.StripeMock(t), map[string]string{"ADMIN_API_KEYS": "ops=" + admin})
		for _, body := range []string{`not json`, `{"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "Z2FyYmFnZQ=="}]}`} {
			req, _ := http.NewRequest(http.MethodPost, ce.api+"/codec/decode", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, err := ce.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var answer struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(raw, &answer)
			r := reply{Status: resp.StatusCode, Raw: string(raw)}
			r.Error.Code = answer.Error.Code
			check(t, "codec "+body, r, http.StatusBadRequest, "invalid_payload")
		}
	})
	t.Run("InputSchemaReference", func(t *testing.T) {
		r := e.post(t, "/api/workflows", `{"id": "t-leak-schema", "version": "1", "startNode": "n",
			"inputSchema": {"$ref": "#/definitions/missing"},
			"nodes": [{"id": "n", "type": "transform", "config": {"mapping": {"x": "1"}}}], "edges": []}`)
		check(t, "inputSchema", r, http.StatusBadRequest, "invalid_definition", "#/definitions/missing")
	})
	e.healthy(t)
}
