package workflows_test

import (
	"encoding/json"
	"net/http"
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
		if r.Data.Output["name"] != c.name || r.Data.Output["email"] != c.email {
			t.Errorf("output %v, want the literal email and name", r.Data.Output)
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
