package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/workflow-backend/workflow-backend/internal/mail"
	"github.com/workflow-backend/workflow-backend/internal/mail/sendgrid"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

const testKey = "SG.secret-test-key"

var (
	ada  = mail.Address{Name: "Ada", Email: "ada@example.com"}
	shop = mail.Address{Name: "Shop", Email: "shop@example.com"}
)

// newSendGrid returns the real SendGrid sender, pointed at baseURL.
func newSendGrid(t *testing.T, key, baseURL string) *sendgrid.Sender {
	t.Helper()
	s, err := sendgrid.New(key, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openStore opens a fresh database of backend b through store.Open, so the
// outbox runs on the app's migrated schema and connection settings.
func openStore(t *testing.T, b testenv.Backend) *sqlx.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, b.URL(t))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.DB()
}

// crashAfterSend sends through a real sender, then fails as a worker that
// died before recording the answer would.
type crashAfterSend struct{ mail.Sender }

func (c crashAfterSend) Send(ctx context.Context, msg mail.Message) (string, error) {
	if _, err := c.Sender.Send(ctx, msg); err != nil {
		return "", err
	}
	return "", errors.New("worker crashed before recording the send")
}

func mustGet(t *testing.T, o *mail.Outbox, execution, node string) mail.Record {
	t.Helper()
	rec, err := o.Get(context.Background(), execution, node)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", execution, node, err)
	}
	return rec
}

func wantRow(t *testing.T, rec mail.Record, status string, attempts int) {
	t.Helper()
	if rec.Status != status || rec.Attempts != attempts {
		t.Fatalf("row %s/%s: status %q, %d attempts; want %q, %d", rec.ExecutionID, rec.NodeID, rec.Status, rec.Attempts, status, attempts)
	}
}

func TestOutbox(t *testing.T) {
	msg := mail.Message{From: shop, To: ada, Subject: "Welcome", Text: "Hello Ada", HTML: "<p>Hello Ada</p>"}
	ctx := context.Background()
	for _, b := range testenv.Backends(t) {
		open := func(t *testing.T) *sqlx.DB { return openStore(t, b) }
		t.Run(b.Name, func(t *testing.T) {
			t.Run("SendsOnce", func(t *testing.T) {
				fake := testenv.NewSendGrid(t, testKey)
				o := mail.NewOutbox(open(t), newSendGrid(t, testKey, fake.URL))
				start := time.Now().Add(-time.Second)
				res, err := o.Send(ctx, "wf-1", "welcome", msg)
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				msgs := fake.Messages()
				if len(msgs) != 1 || res != (mail.Result{Provider: mail.ProviderSendGrid, ProviderMessageID: msgs[0].ID}) {
					t.Fatalf("result %+v; fake recorded %d messages", res, len(msgs))
				}
				rec := mustGet(t, o, "wf-1", "welcome")
				wantRow(t, rec, mail.StatusSent, 1)
				if rec.ProviderMessageID != res.ProviderMessageID || rec.Provider != mail.ProviderSendGrid ||
					rec.To != ada.Email || rec.From != shop.Email || rec.Subject != "Welcome" {
					t.Errorf("row = %+v", rec)
				}
				if rec.Text != "" || rec.HTML != "" {
					t.Errorf("the row keeps the body of a SendGrid message: %q, %q", rec.Text, rec.HTML)
				}
				if rec.CreatedAt.Before(start) || rec.UpdatedAt.Before(rec.CreatedAt) || rec.CreatedAt.Location() != time.UTC {
					t.Errorf("created %v, updated %v", rec.CreatedAt, rec.UpdatedAt)
				}

				// A retried activity: the recorded send, no second call.
				again, err := o.Send(ctx, "wf-1", "welcome", msg)
				want := mail.Result{Provider: mail.ProviderSendGrid, ProviderMessageID: res.ProviderMessageID, AlreadySent: true}
				if err != nil || again != want {
					t.Fatalf("second Send = %+v, %v; want %+v", again, err, want)
				}
				if fake.Requests() != 1 {
					t.Errorf("SendGrid got %d requests, want 1", fake.Requests())
				}
				wantRow(t, mustGet(t, o, "wf-1", "welcome"), mail.StatusSent, 1)

				// Another node of the same execution is another message.
				if _, err := o.Send(ctx, "wf-1", "receipt", msg); err != nil || len(fake.Messages()) != 2 {
					t.Fatalf("Send of another node: %v; fake has %d messages", err, len(fake.Messages()))
				}
			})

			t.Run("RetryAfterServerError", func(t *testing.T) {
				fake := testenv.NewSendGrid(t, testKey)
				fake.FailNext(1, 500, 0)
				o := mail.NewOutbox(open(t), newSendGrid(t, testKey, fake.URL))
				_, err := o.Send(ctx, "wf-2", "welcome", msg)
				var pe *mail.ProviderError
				if !errors.As(err, &pe) || !pe.Temporary() {
					t.Fatalf("first Send error = %v, want a temporary *ProviderError", err)
				}
				wantRow(t, mustGet(t, o, "wf-2", "welcome"), mail.StatusFailed, 1)

				res, err := o.Send(ctx, "wf-2", "welcome", msg)
				if err != nil || res.Resent || res.AlreadySent {
					t.Fatalf("retry = %+v, %v; want a first delivery", res, err)
				}
				if n := len(fake.Messages()); n != 1 {
					t.Errorf("fake recorded %d messages, want 1", n)
				}
				wantRow(t, mustGet(t, o, "wf-2", "welcome"), mail.StatusSent, 2)
			})

			t.Run("RefusedMessage", func(t *testing.T) {
				fake := testenv.NewSendGrid(t, testKey)
				o := mail.NewOutbox(open(t), newSendGrid(t, "SG.wrong-key", fake.URL))
				_, err := o.Send(ctx, "wf-3", "welcome", msg)
				var pe *mail.ProviderError
				if !errors.As(err, &pe) || pe.StatusCode != 401 || pe.Temporary() {
					t.Fatalf("Send error = %v, want a 401 *ProviderError", err)
				}
				wantRow(t, mustGet(t, o, "wf-3", "welcome"), mail.StatusFailed, 1)
			})

			t.Run("CrashAfterTheProviderAnswered", func(t *testing.T) {
				fake := testenv.NewSendGrid(t, testKey)
				db := open(t)
				sg := newSendGrid(t, testKey, fake.URL)
				if _, err := mail.NewOutbox(db, crashAfterSend{sg}).Send(ctx, "wf-4", "welcome", msg); err == nil {
					t.Fatal("the crashing sender succeeded")
				}
				wantRow(t, mustGet(t, mail.NewOutbox(db, sg), "wf-4", "welcome"), mail.StatusSending, 1)

				// The one case that sends twice, and says so.
				res, err := mail.NewOutbox(db, sg).Send(ctx, "wf-4", "welcome", msg)
				if err != nil || !res.Resent {
					t.Fatalf("retry = %+v, %v; want Resent", res, err)
				}
				if n := len(fake.Messages()); n != 2 {
					t.Errorf("fake recorded %d messages, want 2", n)
				}
			})

			t.Run("DevSenderKeepsTheMessage", func(t *testing.T) {
				var logs bytes.Buffer
				o := mail.NewOutbox(open(t), mail.NewDevSender(slog.New(slog.NewTextHandler(&logs, nil))))
				res, err := o.Send(ctx, "wf-5", "welcome", msg)
				if err != nil || res.Provider != mail.ProviderOutbox || !strings.HasPrefix(res.ProviderMessageID, "outbox-") {
					t.Fatalf("Send = %+v, %v", res, err)
				}
				rec := mustGet(t, o, "wf-5", "welcome")
				wantRow(t, rec, mail.StatusSent, 1)
				if rec.Provider != mail.ProviderOutbox || rec.Text != msg.Text || rec.HTML != msg.HTML || rec.ProviderMessageID != res.ProviderMessageID {
					t.Errorf("row = %+v", rec)
				}
				if !strings.Contains(logs.String(), res.ProviderMessageID) || strings.Contains(logs.String(), "Hello Ada") {
					t.Errorf("log %q should name the message id and not hold the body", logs.String())
				}

				tmpl := mail.Message{From: shop, To: ada, TemplateID: "d-1", TemplateData: map[string]any{"name": "Ada", "n": 2.0}}
				if _, err := o.Send(ctx, "wf-5", "template", tmpl); err != nil {
					t.Fatal(err)
				}
				if rec := mustGet(t, o, "wf-5", "template"); rec.TemplateID != "d-1" || rec.TemplateData != `{"n":2,"name":"Ada"}` {
					t.Errorf("template row = %+v", rec)
				}
			})

			t.Run("InvalidMessages", func(t *testing.T) {
				fake := testenv.NewSendGrid(t, testKey)
				o := mail.NewOutbox(open(t), newSendGrid(t, testKey, fake.URL))
				for i, bad := range []mail.Message{
					{To: ada, Subject: "s", Text: "t"},
					{From: shop, Subject: "s", Text: "t"},
					{From: shop, To: ada, Text: "t"},
					{From: shop, To: ada, Subject: "s"},
					{From: shop, To: ada, TemplateID: "d-1", Subject: "s"},
					{From: shop, To: ada, TemplateID: "d-1", TemplateData: map[string]any{"x": math.Inf(1)}},
				} {
					node := fmt.Sprint("n", i)
					if _, err := o.Send(ctx, "wf-6", node, bad); !errors.Is(err, mail.ErrInvalidMessage) {
						t.Errorf("Send(%+v) error = %v, want mail.ErrInvalidMessage", bad, err)
					}
					if _, err := o.Get(ctx, "wf-6", node); !errors.Is(err, mail.ErrNotFound) {
						t.Errorf("invalid message %d: Get error = %v, want mail.ErrNotFound", i, err)
					}
				}
				if fake.Requests() != 0 {
					t.Errorf("SendGrid got %d requests, want none", fake.Requests())
				}
			})

			t.Run("ConcurrentNodes", func(t *testing.T) {
				fake := testenv.NewSendGrid(t, testKey)
				o := mail.NewOutbox(open(t), newSendGrid(t, testKey, fake.URL))
				const n = 8
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i := range n {
					wg.Go(func() { _, errs[i] = o.Send(ctx, "wf-7", fmt.Sprint("node-", i), msg) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				if got := len(fake.Messages()); got != n {
					t.Errorf("fake recorded %d messages, want %d", got, n)
				}
			})
		})
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]mail.Address{
		"ada@example.com":       {Email: "ada@example.com"},
		"Ada <ada@example.com>": {Name: "Ada", Email: "ada@example.com"},
		" ada@example.com ":     {Email: "ada@example.com"},
	} {
		if got, err := mail.ParseAddress(in); err != nil || got != want {
			t.Errorf("mail.ParseAddress(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ada", "ada@", "a@b, c@d"} {
		if _, err := mail.ParseAddress(bad); err == nil || !strings.Contains(err.Error(), "not an email address") {
			t.Errorf("mail.ParseAddress(%q) error = %v", bad, err)
		}
	}
}
