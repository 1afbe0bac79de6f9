package workflows_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestFlows runs both pre-configured flows through the REST API on each app
// database, with stripe-go against stripe-mock and sendgrid-go against a
// local SendGrid, and checks the HTTP answers, the rows written and the
// path each case takes through the graph (testdata/paths).
func TestFlows(t *testing.T) {
	t.Parallel()
	stripeMock := testenv.StripeMock(t)
	onEachBackend(t, func(t *testing.T, b testenv.Backend) {
		e := newFlowEnv(t, b.URL(t), stripeMock, nil)
		t.Run("Registration", func(t *testing.T) { testRegistration(t, e) })
		t.Run("ConcurrentRegistration", func(t *testing.T) { testConcurrentRegistration(t, e) })
		t.Run("Order", func(t *testing.T) { testOrder(t, e) })
		t.Run("OrderRefusals", func(t *testing.T) { testOrderRefusals(t, e) })
		t.Run("Compensation", func(t *testing.T) { testCompensation(t, e, b.Name) })
		t.Run("SQLInjection", func(t *testing.T) { testSQLInjection(t, e) })
		t.Run("APICallRefusesInternal", func(t *testing.T) { testAPICallRefusesInternal(t, e) })
		t.Run("BadInput", func(t *testing.T) { testBadFlowInput(t, e) })
	})
}

func testRegistration(t *testing.T, e *flowEnv) {
	r := e.post(t, "/api/users/register", `{"email": "Ada@Example.com", "password": "analytical1", "name": "Ada"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	// The respond node answered with the user before the welcome email;
	// the execution goes on and its output says the email went out.
	created := r.Data.Response.Body
	if r.Data.Response.NodeID != "created" || created["email"] != "ada@example.com" || created["name"] != "Ada" || created["id"] == nil {
		t.Errorf("response = %s", r.Raw)
	}
	e.waitDone(t, r.executionID())
	final := e.do(t, http.MethodGet, "/api/executions/"+r.executionID(), "")
	if final.Data.Status != "completed" || final.Data.Output["welcomeEmailSent"] != true || final.Data.Output["id"] != created["id"] {
		t.Errorf("final state = %s", final.Raw)
	}
	for _, secret := range []string{"analytical1", "$2a$", "password"} {
		if strings.Contains(r.Raw, secret) {
			t.Errorf("the response contains %q: %s", secret, r.Raw)
		}
	}
	e.checkGolden(t, "user-registration-success", r)
	var hash string
	if err := e.db.Get(&hash, e.db.Rebind(`SELECT password_hash FROM users WHERE email = ?`), "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2a$12$") {
		t.Errorf("password_hash = %q, want a bcrypt hash of cost 12", hash)
	}
	sent := false
	for _, m := range e.sendgrid.Messages() {
		if m.Mail.Personalizations[0].To[0].Email == "ada@example.com" && strings.Contains(m.Mail.Subject, "Welcome") {
			sent = true
		}
	}
	if !sent {
		t.Errorf("no welcome email among %d messages", len(e.sendgrid.Messages()))
	}

	r = e.post(t, "/api/users/register", `{"email": "ada@example.com", "password": "another1pass"}`)
	if r.Status != http.StatusConflict || r.Error.Code != "email_exists" {
		t.Fatalf("second registration: %d %s", r.Status, r.Raw)
	}
	e.checkGolden(t, "user-registration-email-taken", r)

	r = e.post(t, "/api/users/register", `{"email": "not-an-email", "password": "short"}`)
	if r.Status != http.StatusBadRequest || r.Error.Code != "validation_failed" {
		t.Fatalf("bad registration: %d %s", r.Status, r.Raw)
	}
	fields := map[string]bool{}
	for _, d := range r.Error.Details {
		fields[d.Field] = true
	}
	if !fields["email"] || !fields["password"] {
		t.Errorf("field errors = %s", r.Raw)
	}
	e.checkGolden(t, "user-registration-invalid", r)

	// Wrong JSON types are field errors too, never a node failure.
	r = e.post(t, "/api/users/register", `{"email": ["x"], "password": 12345678}`)
	if r.Status != http.StatusBadRequest || r.Error.Code != "validation_failed" || len(r.Error.Details) < 2 {
		t.Errorf("wrong types: %d %s", r.Status, r.Raw)
	}

	for _, body := range []string{`[]`, `{"email": `, `"x"`} {
		if r := e.post(t, "/api/users/register", body); r.Status != http.StatusBadRequest {
			t.Errorf("body %s: %d %s", body, r.Status, r.Raw)
		}
	}
}

// Ten registrations of one email at once: the database's unique email
// decides, one 201 and nine 409. All ten pass the existence check and hash
// the password (bcrypt cost 12, ~250 ms of a core each) before the insert
// decides: on a loaded 2-core machine that outlasted the default 10 s wait
// (202s), so the test waits longer; the race is what it checks.
func testConcurrentRegistration(t *testing.T, e *flowEnv) {
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = e.post(t, "/api/users/register?wait=55s", `{"email": "race@example.com", "password": "same1password"}`).Status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != 9 {
		t.Errorf("statuses = %v, want one 201 and nine 409", count)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM users WHERE email = ?`, "race@example.com"); n != 1 {
		t.Errorf("%d users with the email", n)
	}
}

func testOrder(t *testing.T, e *flowEnv) {
	before := e.stock(t, 456)
	r := e.post(t, "/api/orders/process", `{"customerId": "123", "items": [{"productId": "456", "quantity": 2}], "totalAmount": 99.98, "paymentMethodId": "pm_card_visa"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	out := r.Data.Output
	if out["totalAmount"] != 99.98 || out["status"] != "confirmed" || out["orderId"] == nil || out["confirmationEmailSent"] != true {
		t.Errorf("output = %v", out)
	}
	e.checkGolden(t, "order-processing-success", r)
	if got := e.stock(t, 456); got != before-2 {
		t.Errorf("stock = %d, want %d", got, before-2)
	}
	orderID := int64(out["orderId"].(float64))
	if n := e.scalar(t, `SELECT COUNT(*) FROM order_items WHERE order_id = ? AND product_id = 456 AND quantity = 2 AND unit_price_cents = 4999`, orderID); n != 1 {
		t.Errorf("order items: %d", n)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM payments WHERE order_id = ? AND status = 'charged' AND amount_cents = 9998`, orderID); n != 1 {
		t.Errorf("payments linked to the order: %d", n)
	}
	// The product route shows the new stock.
	p := e.do(t, http.MethodGet, "/api/products/456", "")
	if p.Status != http.StatusOK || !strings.Contains(p.Raw, fmt.Sprintf(`"stock":%d`, before-2)) {
		t.Errorf("GET /api/products/456: %d %s", p.Status, p.Raw)
	}
}

func testOrderRefusals(t *testing.T, e *flowEnv) {
	tests := []struct {
		name, body string
		status     int
		code       string
		golden     string
	}{
		{"unknown customer", `{"customerId": 999, "items": [{"productId": 456, "quantity": 1}], "totalAmount": 49.99, "paymentMethodId": "pm_card_visa"}`,
			http.StatusNotFound, "customer_not_found", "order-processing-unknown-customer"},
		{"unknown product", `{"customerId": 123, "items": [{"productId": 999, "quantity": 1}], "totalAmount": 49.99, "paymentMethodId": "pm_card_visa"}`,
			http.StatusNotFound, "product_not_found", "order-processing-unknown-product"},
		{"amount mismatch", `{"customerId": 123, "items": [{"productId": 456, "quantity": 1}], "totalAmount": 10, "paymentMethodId": "pm_card_visa"}`,
			http.StatusBadRequest, "amount_mismatch", "order-processing-amount-mismatch"},
		{"out of stock", `{"customerId": 123, "items": [{"productId": 457, "quantity": 1}, {"productId": 458, "quantity": 2}], "totalAmount": 59.99, "paymentMethodId": "pm_card_visa"}`,
			http.StatusConflict, "out_of_stock", "order-processing-out-of-stock"},
		{"invalid", `{"customerId": "abc", "items": [{"productId": 456, "quantity": 0}, {"productId": 456, "quantity": 1}], "paymentMethodId": "pm_card_visa"}`,
			http.StatusBadRequest, "validation_failed", "order-processing-invalid"},
		{"no payment method with Stripe configured", `{"customerId": 123, "items": [{"productId": 456, "quantity": 1}], "totalAmount": 49.99}`,
			http.StatusBadRequest, "validation_failed", ""},
		{"card number instead of a token", `{"customerId": 123, "items": [{"productId": 456, "quantity": 1}], "totalAmount": 49.99, "paymentMethodId": "4242 4242 4242 4242"}`,
			http.StatusBadRequest, "validation_failed", ""},
	}
	stock := map[int]int64{456: e.stock(t, 456), 457: e.stock(t, 457), 458: e.stock(t, 458)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, "/api/orders/process", tt.body)
			if r.Status != tt.status || r.Error.Code != tt.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Raw, tt.status, tt.code)
			}
			if tt.golden != "" {
				e.checkGolden(t, tt.golden, r)
			}
		})
	}
	for id, want := range stock {
		if got := e.stock(t, id); got != want {
			t.Errorf("stock of %d = %d after refused orders, want %d", id, got, want)
		}
	}
}

// A failure after the charge runs the saga in the graph: refund, mark the
// payment refunded, cancel the order, release the stock. A trigger that
// refuses new orders stands for the failure.
func testCompensation(t *testing.T, e *flowEnv, dialect string) {
	refuse := map[string][]string{
		"sqlite": {`CREATE TRIGGER refuse_orders BEFORE INSERT ON orders BEGIN SELECT RAISE(ABORT, 'orders are closed'); END`},
		"postgres": {
			`CREATE FUNCTION refuse_orders() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'orders are closed'; END; $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER refuse_orders BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_orders()`,
		},
	}[dialect]
	for _, stmt := range refuse {
		e.db.MustExec(stmt)
	}
	defer e.db.MustExec(`DROP TRIGGER refuse_orders` + map[string]string{"sqlite": "", "postgres": " ON orders"}[dialect])

	before := e.stock(t, 457)
	r := e.post(t, "/api/orders/process", `{"customerId": 123, "items": [{"productId": 457, "quantity": 3}], "totalAmount": 29.97, "paymentMethodId": "pm_card_visa"}`)
	if r.Status != http.StatusInternalServerError || r.Error.Code != "order_failed" {
		t.Fatalf("order with orders refused: %d %s", r.Status, r.Raw)
	}
	e.checkGolden(t, "order-processing-compensated", r)
	if got := e.stock(t, 457); got != before {
		t.Errorf("stock = %d after compensation, want %d", got, before)
	}
	if n := e.scalar(t, `SELECT COUNT(*) FROM payments WHERE execution_id = ? AND status = 'refunded'`, r.executionID()); n != 1 {
		t.Errorf("refunded payments of the execution: %d", n)
	}
}
