package workflows_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// SQL-injection strings in the input reach the database only as bound
// parameters: the rows hold the literal strings, the lookup by email does
// not match other users, and every table is intact.
func testSQLInjection(t *testing.T, e *flowEnv) {
	usersBefore := e.scalar(t, `SELECT COUNT(*) FROM users`)
	cases := []struct{ email, name string }{
		// Emails must be valid addresses, which allows quotes and dashes.
		{`robert'--@example.com`, `Robert'); DROP TABLE users; --`},
		// If the existence check were built by concatenation, this email
		// would match every user and answer 409.
		{`x'or'1'='1@example.com`, `' OR '1'='1`},
		{`o'brien'/*@example.com`, `*/; UPDATE users SET name = 'pwned'; --`},
		{`bobby@example.com`, `x"; DELETE FROM products; --`},
	}
	for _, c := range cases {
		body, _ := json.Marshal(map[string]string{"email": c.email, "name": c.name, "password": "injection1pass"})
		r := e.post(t, "/api/users/register", string(body))
		if r.Status != http.StatusCreated {
			t.Fatalf("register %s: %d %s", c.email, r.Status, r.Raw)
		}
		if got := r.Data.Response.Body; got["name"] != c.name || got["email"] != c.email {
			t.Errorf("response %v, want the literal email and name", got)
		}
		if n := e.scalar(t, `SELECT COUNT(*) FROM users WHERE email = ? AND name = ?`, c.email, c.name); n != 1 {
			t.Errorf("%d rows hold the literal email %q and name %q", n, c.email, c.name)
		}
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM users`); n != usersBefore+int64(len(cases)) {
		t.Errorf("users: %d, want %d", n, usersBefore+int64(len(cases)))
	}
	for _, table := range []string{"users", "products", "orders", "order_items", "payments"} {
		e.scalar(t, `SELECT COUNT(*) FROM `+table) // fails the test if the table is gone
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM products`); n == 0 {
		t.Error("the products are gone")
	}
}

// api_call in a real execution refuses loopback, private and link-local
// destinations, named or literal, and redirects to them: the execution
// fails with a clear error and the local server behind them sees no
// connection. No packet goes to those ranges: literals are refused before
// dialing, names at dial time after resolution, before connecting.
func testAPICallRefusesInternal(t *testing.T, e *flowEnv) {
	var conns atomic.Int32
	local := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	local.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	local.Start()
	defer local.Close()
	_, port, _ := net.SplitHostPort(local.Listener.Addr().String())

	id := fmt.Sprintf("t-ssrf-%d", queueSeq.Add(1))
	def := map[string]any{"id": id, "version": "1", "startNode": "call", "nodes": []map[string]any{
		{"id": "call", "type": "api_call", "config": map[string]any{"method": "GET", "url": "input.url"}, "retry": map[string]any{"maximumAttempts": 1}},
	}, "edges": []any{}}
	raw, _ := json.Marshal(def)
	if r := e.post(t, "/api/workflows", string(raw)); r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	for _, c := range []struct{ url, reason string }{
		{local.URL + "/", "loopback"},
		{"http://localhost:" + port + "/", "loopback"},
		{"http://[::1]:" + port + "/", "loopback"},
		{"http://10.0.0.1/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://169.254.169.254/latest/meta-data/?token=s3cr3t", "link-local"},
		{"http://[fe80::1]/", "link-local"},
	} {
		body, _ := json.Marshal(map[string]any{"input": map[string]string{"url": c.url}})
		r := e.post(t, "/api/workflows/"+id+"/execute", string(body))
		if r.Status != http.StatusUnprocessableEntity || r.Error.Code != "execution_failed" ||
			!strings.Contains(r.Raw, "refused") || !strings.Contains(r.Raw, c.reason) || strings.Contains(r.Raw, "s3cr3t") {
			t.Errorf("%s: %d %s; want 422 execution_failed saying refused (%s), without the query", c.url, r.Status, r.Raw, c.reason)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the loopback server accepted %d connections", n)
	}
}

// Bad input to the flow and product routes is a 4xx with the error
// envelope, never a 500 or internal error text.
func testBadFlowInput(t *testing.T, e *flowEnv) {
	internal := []string{"json: ", "cannot unmarshal", "invalid character", "sql: ", "SQLSTATE", "sqlite", "pq: ",
		"goroutine", "panic", ".go:", "rpc error", "strconv.", "Go struct", "interface {}", "map[string]", "payload item"}
	huge := `{"email": "` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct{ method, path, body string }{
		{"POST", "/api/users/register", `{`},
		{"POST", "/api/users/register", `[]`},
		{"POST", "/api/users/register", `null`},
		{"POST", "/api/users/register", ``},
		{"POST", "/api/users/register", `{"email": 1e999, "password": "x"}`},
		{"POST", "/api/users/register", `{"email": {"$ne": null}, "password": ["a"]}`},
		{"POST", "/api/users/register", `{"email": "a@example.com", "password": "long1enough", "name": 7}`},
		{"POST", "/api/users/register", huge},
		{"POST", "/api/orders/process", `{"customerId": "1; DROP TABLE orders", "items": [{"productId": "456", "quantity": 1}], "totalAmount": 1}`},
		{"POST", "/api/orders/process", `{"customerId": "123", "items": "all", "totalAmount": 1}`},
		{"POST", "/api/orders/process", `{"customerId": "123", "items": [{"productId": "x' OR 1=1 --", "quantity": -1}], "totalAmount": "NaN"}`},
		{"POST", "/api/orders/process", `{"customerId": "123", "items": [{"productId": "456", "quantity": 1e999}], "totalAmount": 1}`},
		{"POST", "/api/orders/process", `{"customerId": "123", "items": [], "totalAmount": 0}`},
		{"POST", "/api/orders/process", `{"customerId": "123", "items": [{"productId": "456", "quantity": 1}], "totalAmount": 49.99, "paymentMethodId": "4242424242424242"}`},
		{"GET", "/api/products/1%27%20OR%201=1", ``},
		{"GET", "/api/products/-1", ``},
	}
	for _, c := range cases {
		r := e.do(t, c.method, c.path, c.body)
		if r.Status < 400 || r.Status >= 500 || r.Error.Code == "" {
			t.Errorf("%s %s %.80s: %d %.300s; want a 4xx in the envelope", c.method, c.path, c.body, r.Status, r.Raw)
		}
		for _, frag := range internal {
			if strings.Contains(r.Raw, frag) {
				t.Errorf("%s %s %.80s: answer carries %q: %.300s", c.method, c.path, c.body, frag, r.Raw)
			}
		}
	}
}
