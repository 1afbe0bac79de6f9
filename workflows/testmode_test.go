package workflows_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// A real registration, on the real server with its database and SendGrid,
// becomes a test case (GET /api/executions/{id}/testcase) that test mode
// (POST /api/workflows/test) runs to the same path and output, with no
// side effect.
func TestTestModeReplaysARealRegistration(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, filepath.Join(t.TempDir(), "app.db"), "http://127.0.0.1:1", nil)
	r := e.post(t, "/api/users/register", `{"email": "grace@example.com", "password": "cobol1959", "name": "Grace"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	id := r.executionID()
	e.waitDone(t, id)

	var real struct {
		Status string
		Output json.RawMessage
		Nodes  []struct {
			ID, Status string
			StartedAt  *time.Time
		}
	}
	e.getData(t, "/api/executions/"+id, &real)
	if real.Status != "completed" {
		t.Fatalf("the real execution %s", real.Status)
	}
	var realPath []string
	ran := slices.DeleteFunc(slices.Clone(real.Nodes), func(n struct {
		ID, Status string
		StartedAt  *time.Time
	}) bool {
		return n.Status != "completed" && n.Status != "failed"
	})
	slices.SortStableFunc(ran, func(a, b struct {
		ID, Status string
		StartedAt  *time.Time
	}) int {
		return a.StartedAt.Compare(*b.StartedAt)
	})
	for _, n := range ran {
		realPath = append(realPath, n.ID)
	}

	var tc map[string]any
	raw := e.getData(t, "/api/executions/"+id+"/testcase", &tc)
	if strings.Contains(raw, "cobol1959") {
		t.Errorf("the test case shows the password: %s", raw)
	}
	if tc["id"] != "user-registration" || tc["version"] == "" {
		t.Errorf("test case %s", raw)
	}
	mocks, _ := tc["mocks"].(map[string]any)
	for _, node := range []string{"check_email", "create_user", "welcome_email"} {
		if _, ok := mocks[node]; !ok {
			t.Errorf("no mock for I/O node %s in %s", node, raw)
		}
	}

	users := e.count(t, "SELECT COUNT(*) FROM users")
	emails := len(e.sendgrid.Messages())
	start := time.Now()
	body, _ := json.Marshal(tc)
	var test struct {
		Status     string
		Output     json.RawMessage
		Path       []string
		Mismatches *[]string
	}
	resp := e.do(t, http.MethodPost, "/api/workflows/test", string(body))
	if resp.Status != http.StatusOK {
		t.Fatalf("test: %d %s", resp.Status, resp.Raw)
	}
	e.getDataOf(t, resp.Raw, &test)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("test mode took %s", d)
	}
	if test.Status != "completed" || !jsonEqual(t, test.Output, real.Output) {
		t.Errorf("test run %s %s, real run %s", test.Status, test.Output, real.Output)
	}
	t.Logf("path %v, output %s", test.Path, test.Output)
	if !slices.Equal(test.Path, realPath) {
		t.Errorf("test path %v, real path %v", test.Path, realPath)
	}
	if got := e.count(t, "SELECT COUNT(*) FROM users"); got != users {
		t.Errorf("test mode wrote to the database: %d users, was %d", got, users)
	}
	if got := len(e.sendgrid.Messages()); got != emails {
		t.Errorf("test mode sent %d email(s)", got-emails)
	}
	// The test case expects what the real run gave.
	expect, _ := tc["expect"].(map[string]any)
	if expect["status"] != "completed" || !jsonEqual(t, mustJSON(t, expect["output"]), real.Output) {
		t.Errorf("expect %v", expect)
	}
	if test.Mismatches == nil || len(*test.Mismatches) != 0 {
		t.Errorf("mismatches %v, want none", test.Mismatches)
	}
}

// getData GETs path, decodes its data into v and returns the raw body.
func (e *flowEnv) getData(t *testing.T, path string, v any) string {
	t.Helper()
	resp, err := e.http.Get(e.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	e.getDataOf(t, string(raw), v)
	return string(raw)
}

func (e *flowEnv) getDataOf(t *testing.T, raw string, v any) {
	t.Helper()
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("decode %s: %v", env.Data, err)
	}
}

func (e *flowEnv) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
