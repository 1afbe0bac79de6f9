package activities

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/internal/mail"
	"github.com/workflow-backend/workflow-backend/internal/mail/sendgrid"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

const sendGridKey = "SG.email-test-secret"

// testWorkflowID is the workflow id the SDK's test environments give
// activities: the outbox key of every test execution here.
const testWorkflowID = "default-test-workflow-id"

var emailFrom = mail.Address{Name: "Shop", Email: "shop@example.com"}

// emailNodes returns email nodes that send with sender through an outbox in
// a fresh SQLite database.
func emailNodes(t *testing.T, sender mail.Sender) *EmailNodes {
	t.Helper()
	e := testExprs(t)
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &EmailNodes{Activities: &Activities{Expr: e}, Outbox: mail.NewOutbox(s.DB(), sender), From: emailFrom}
}

// emailEnv returns an activity environment running n's email activity.
func emailEnv(n *EmailNodes) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	n.RegisterIO(env, &IO{Email: n})
	return env
}

func sendGridSender(t *testing.T, key, baseURL string) mail.Sender {
	t.Helper()
	s, err := sendgrid.New(key, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// emailOutput decodes an email node's output, which must have exactly the
// fields of EmailOutput.
func emailOutput(t *testing.T, res interpreter.NodeResult) EmailOutput {
	t.Helper()
	m, ok := res.Output.(map[string]any)
	if !ok {
		t.Fatalf("output = %#v, want an object", res.Output)
	}
	if _, ok := m["resent"].(bool); !ok || len(m) != 4 {
		t.Fatalf("output %v: want exactly messageId, status, to and resent", m)
	}
	out := EmailOutput{Resent: m["resent"].(bool)}
	out.MessageID, _ = m["messageId"].(string)
	out.Status, _ = m["status"].(string)
	out.To, _ = m["to"].(string)
	return out
}

const emailInput = `{"email": "ada@example.com", "name": "Ada", "total": 12.5}`

func TestEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		want   testenv.SendGridMail
	}{
		{"text and html",
			`{"to": "input.email", "subject": "'Welcome, ' + input.name", "text": "'Hello ' + input.name",
			  "html": "'<p>Hello ' + input.name + '</p>'"}`,
			testenv.SendGridMail{Subject: "Welcome, Ada",
				Content: []testenv.SendGridContent{{Type: "text/plain", Value: "Hello Ada"}, {Type: "text/html", Value: "<p>Hello Ada</p>"}}}},
		{"named recipient and own sender",
			`{"to": "input.name + ' <' + input.email + '>'", "subject": "'Hi'", "text": "'x'", "from": "Orders <orders@example.com>"}`,
			testenv.SendGridMail{Subject: "Hi", From: &testenv.SendGridAddress{Email: "orders@example.com", Name: "Orders"},
				Personalizations: []testenv.SendGridPersonalization{{To: []testenv.SendGridAddress{{Email: "ada@example.com", Name: "Ada"}}}},
				Content:          []testenv.SendGridContent{{Type: "text/plain", Value: "x"}}}},
		{"dynamic template",
			`{"to": "input.email", "templateId": "d-welcome", "data": {"name": "input.name", "total": "input.total * 2", "items": "[1, 2]"}}`,
			testenv.SendGridMail{TemplateID: "d-welcome", Personalizations: []testenv.SendGridPersonalization{{
				To:                  []testenv.SendGridAddress{{Email: "ada@example.com"}},
				DynamicTemplateData: map[string]any{"name": "Ada", "total": 25.0, "items": []any{1.0, 2.0}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := testenv.NewSendGrid(t, sendGridKey)
			env := emailEnv(emailNodes(t, sendGridSender(t, sendGridKey, fake.URL)))
			next := interpreter.Edge{ID: "next", Source: "notify", Target: "done"}
			res, err := execNode(t, env, nodeRequest(t, "notify", TypeEmail, tt.config, emailInput, next))
			if err != nil {
				t.Fatal(err)
			}
			msgs := fake.Messages()
			if len(msgs) != 1 {
				t.Fatalf("SendGrid recorded %d messages, want 1", len(msgs))
			}
			out := emailOutput(t, res)
			if out != (EmailOutput{MessageID: msgs[0].ID, Status: "sent", To: "ada@example.com"}) {
				t.Errorf("output = %+v (SendGrid id %q)", out, msgs[0].ID)
			}
			if len(res.Fired) != 1 || res.Fired[0] != "next" || res.Outcome != interpreter.OutcomeSuccess {
				t.Errorf("outcome %q, fired %v", res.Outcome, res.Fired)
			}

			got, want := msgs[0].Mail, tt.want
			if want.From == nil {
				want.From = &testenv.SendGridAddress{Email: emailFrom.Email, Name: emailFrom.Name}
			}
			if want.Personalizations == nil {
				want.Personalizations = []testenv.SendGridPersonalization{{To: []testenv.SendGridAddress{{Email: "ada@example.com"}}}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("SendGrid received %+v, want %+v", got, want)
			}
		})
	}
}

func TestEmailRetryAfterRecordedSend(t *testing.T) {
	t.Parallel()
	fake := testenv.NewSendGrid(t, sendGridKey)
	env := emailEnv(emailNodes(t, sendGridSender(t, sendGridKey, fake.URL)))
	req := nodeRequest(t, "notify", TypeEmail, `{"to": "input.email", "subject": "'Hi'", "text": "'Hello'"}`, emailInput)
	first, err := execNode(t, env, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := execNode(t, env, req)
	if err != nil {
		t.Fatal(err)
	}
	if emailOutput(t, again) != emailOutput(t, first) {
		t.Errorf("retry output %+v differs from %+v", again.Output, first.Output)
	}
	if fake.Requests() != 1 || len(fake.Messages()) != 1 {
		t.Errorf("SendGrid got %d requests, recorded %d messages; want 1 and 1", fake.Requests(), len(fake.Messages()))
	}
}

func TestEmailProviderFailures(t *testing.T) {
	t.Parallel()
	config := `{"to": "input.email", "subject": "'Hi'", "text": "'Hello'"}`
	tests := []struct {
		name      string
		key       string
		fail      func(*testenv.SendGrid)
		typ       string
		retryable bool
		delay     time.Duration
	}{
		{name: "server error", fail: func(f *testenv.SendGrid) { f.FailNext(1, 500, 0) }, typ: ErrEmailUnavailable, retryable: true},
		{name: "rate limited", fail: func(f *testenv.SendGrid) { f.FailNext(1, 429, 5*time.Second) },
			typ: ErrEmailUnavailable, retryable: true, delay: 5 * time.Second},
		{name: "bad request", fail: func(f *testenv.SendGrid) { f.FailNext(1, 400, 0) }, typ: ErrEmailRejected},
		{name: "wrong key", key: "SG.wrong-email-secret", typ: interpreter.ErrConfiguration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := testenv.NewSendGrid(t, sendGridKey)
			if tt.fail != nil {
				tt.fail(fake)
			}
			key := sendGridKey
			if tt.key != "" {
				key = tt.key
			}
			env := emailEnv(emailNodes(t, sendGridSender(t, key, fake.URL)))
			req := nodeRequest(t, "notify", TypeEmail, config, emailInput)
			_, err := execNode(t, env, req)
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != tt.typ || appErr.NonRetryable() == tt.retryable ||
				appErr.NextRetryDelay() != tt.delay {
				t.Fatalf("error = %v; want type %s, retryable %v, next retry delay %v", err, tt.typ, tt.retryable, tt.delay)
			}
			if !strings.Contains(appErr.Message(), `node "notify"`) || strings.Contains(appErr.Message(), key) {
				t.Errorf("message %q should name the node and not hold the key", appErr.Message())
			}
			if !tt.retryable {
				return
			}
			// The retry sends the message once.
			res, err := execNode(t, env, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			msgs := fake.Messages()
			if len(msgs) != 1 || emailOutput(t, res).MessageID != msgs[0].ID || emailOutput(t, res).Resent {
				t.Errorf("retry output %v; SendGrid recorded %d messages, want 1", res.Output, len(msgs))
			}
		})
	}
}

func TestEmailRunTimeErrors(t *testing.T) {
	t.Parallel()
	fake := testenv.NewSendGrid(t, sendGridKey)
	nodes := emailNodes(t, sendGridSender(t, sendGridKey, fake.URL))
	env := emailEnv(nodes)
	tests := []struct {
		name, config, typ, contains string
	}{
		{"invalid recipient", `{"to": "input.name", "subject": "'Hi'", "text": "'x'"}`, ErrEmailRejected, `to: "Ada" is not an email address`},
		{"not a string", `{"to": "input.email", "subject": "input.total", "text": "'x'"}`, interpreter.ErrExpression, "subject"},
		{"missing field", `{"to": "input.email", "subject": "'Hi'", "text": "input.missing"}`, interpreter.ErrExpression, "text"},
		{"data that is not JSON", `{"to": "input.email", "templateId": "d-1", "data": {"x": "1.0 / 0.0"}}`, interpreter.ErrExpression, "data.x"},
		{"empty body", `{"to": "input.email", "subject": "'Hi'", "text": "''"}`, ErrEmailRejected, "no text or html"},
		{"bad config", `{"to": "input.email", "subject": "'Hi'"}`, interpreter.ErrConfiguration, "text or html is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execNode(t, env, nodeRequest(t, "notify", TypeEmail, tt.config, emailInput))
			appErr := appError(t, err, tt.typ)
			if !strings.Contains(appErr.Message(), tt.contains) || !strings.Contains(appErr.Message(), `"notify"`) {
				t.Errorf("message %q should name the node and contain %q", appErr.Message(), tt.contains)
			}
		})
	}

	nodes.From = mail.Address{}
	_, err := execNode(t, env, nodeRequest(t, "notify", TypeEmail, `{"to": "input.email", "subject": "'Hi'", "text": "'x'"}`, emailInput))
	if appErr := appError(t, err, interpreter.ErrConfiguration); !strings.Contains(appErr.Message(), "EMAIL_FROM") {
		t.Errorf("message %q should name EMAIL_FROM", appErr.Message())
	}
	if fake.Requests() != 0 {
		t.Errorf("SendGrid got %d requests, want none", fake.Requests())
	}
}

func TestEmailDevOutbox(t *testing.T) {
	t.Parallel()
	nodes := emailNodes(t, mail.NewDevSender(slog.New(slog.DiscardHandler)))
	env := emailEnv(nodes)
	res, err := execNode(t, env, nodeRequest(t, "notify", TypeEmail,
		`{"to": "input.email", "subject": "'Welcome'", "text": "'Hello ' + input.name"}`, emailInput))
	if err != nil {
		t.Fatal(err)
	}
	out := emailOutput(t, res)
	rec, err := nodes.Outbox.Get(context.Background(), testWorkflowID, "notify")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.MessageID, "outbox-") || rec.ProviderMessageID != out.MessageID ||
		rec.Status != mail.StatusSent || rec.Provider != mail.ProviderOutbox || rec.Text != "Hello Ada" || rec.To != "ada@example.com" {
		t.Errorf("output %+v, outbox row %+v", out, rec)
	}
}

// TestEmailInWorkflow runs an email node in the interpreter, whose retry
// policy takes it past a SendGrid 500.
func TestEmailInWorkflow(t *testing.T) {
	t.Parallel()
	fake := testenv.NewSendGrid(t, sendGridKey)
	fake.FailNext(1, 500, 0)
	nodes := emailNodes(t, sendGridSender(t, sendGridKey, fake.URL))
	reg := interpreter.NewRegistry(append(PureNodeTypes(), lookupType(t, TypeEmail, IOOptions{}))...)
	def, problems := interpreter.Parse([]byte(`{"id": "welcome", "version": "1", "startNode": "send",
		"nodes": [{"id": "send", "type": "email",
			"config": {"to": "input.email", "subject": "'Welcome'", "text": "'Hello ' + input.name"}}],
		"edges": []}`), reg, nodes.Expr)
	if len(problems) != 0 {
		t.Fatalf("definition problems: %+v", problems)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	interpreter.New(reg).Register(env)
	nodes.RegisterPure(env)
	nodes.RegisterIO(env, &IO{Email: nodes})
	env.ExecuteWorkflow(interpreter.WorkflowName, interpreter.ExecutionInput{Definition: def, Input: decodeJSON(t, emailInput)})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var out map[string]any
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || fake.Requests() != 2 {
		t.Fatalf("SendGrid got %d requests and recorded %d messages; want 2 and 1", fake.Requests(), len(msgs))
	}
	jsonEqual(t, out, `{"send": {"messageId": "`+msgs[0].ID+`", "status": "sent", "to": "ada@example.com", "resent": false}}`)
}

func TestEmailCheckConfig(t *testing.T) {
	t.Parallel()
	p := problemAt
	nt := lookupType(t, TypeEmail, IOOptions{})
	if nt.Kind != interpreter.KindIO {
		t.Errorf("kind = %v, want KindIO", nt.Kind)
	}
	checkProblems(t, nt, `{"to": "input.email", "subject": "'Hi'", "text": "'x'"}`, nil)
	checkProblems(t, nt, `{"to": "input.email", "subject": "'Hi'", "html": "'<p>x</p>'", "from": "Shop <shop@example.com>"}`, nil)
	checkProblems(t, nt, `{"to": "input.email", "templateId": "d-1", "data": {"name": "input.name"}}`, nil)
	checkProblems(t, nt, `{"to": "input.email", "templateId": "d-1"}`, nil)
	checkProblems(t, nt, `{}`, []interpreter.Problem{
		p("to", interpreter.CodeRequired), p("subject", interpreter.CodeRequired), p("text", interpreter.CodeRequired)})
	checkProblems(t, nt, `{"to": "input.", "subject": "nope(1)", "text": "'x' +", "html": "1 +", "data": {"a": "1"}, "from": "shop"}`,
		[]interpreter.Problem{
			p("to", interpreter.CodeInvalidExpression), p("subject", interpreter.CodeInvalidExpression),
			p("text", interpreter.CodeInvalidExpression), p("html", interpreter.CodeInvalidExpression),
			p("data", interpreter.CodeInvalidConfig), p("from", interpreter.CodeInvalidConfig)})
	checkProblems(t, nt, `{"to": "input.email", "templateId": "welcome", "subject": "'Hi'", "text": "'x'", "html": "'y'",
		"data": {"b": "input.", "": "1", "a": "1"}}`,
		[]interpreter.Problem{
			p("subject", interpreter.CodeInvalidConfig), p("text", interpreter.CodeInvalidConfig), p("html", interpreter.CodeInvalidConfig),
			p("templateId", interpreter.CodeInvalidConfig), p("data", interpreter.CodeInvalidConfig),
			p("data.b", interpreter.CodeInvalidExpression)})
	checkProblems(t, nt, `{"to": "input.email", "subject": "'Hi'", "text": "'x'", "cc": "x"}`,
		[]interpreter.Problem{p("", interpreter.CodeInvalidConfig)})
	checkProblems(t, nt, `{"to": "input.email", "subject": "'Hi'", "text": 1}`,
		[]interpreter.Problem{p("text", interpreter.CodeInvalidConfig)})
}
