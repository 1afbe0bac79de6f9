package workflows_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// Secrets planted by TestSecretsStayOutOfHistoryDatabaseAndLogs: distinctive
// enough that finding them anywhere is a leak, not a coincidence.
const (
	plantedPassword = "Plant3d-Passw0rd-7Qz"
	plantedToken    = "pm_leakcheck_9XyZ31"
)

// The leak test: a password and a payment-method token go through
// the registration and order flows (successes and business failures) on
// the embedded server; neither appears in Temporal's history as the SDK
// reads it without the codec (every event, marshalled), in any table of
// the app database, or in the process's logs at debug level. Stripe, the
// token's one rightful destination, does receive it.
func TestSecretsStayOutOfHistoryDatabaseAndLogs(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b testenv.Backend) {
		stripe := testenv.NewStripeServer(t)
		logs := &testenv.LockedBuffer{}
		e := newFlowEnvLogging(t, b.URL(t), stripe.URL, map[string]string{"LOG_LEVEL": "debug"}, logs)
		email := fmt.Sprintf("leak-%s@example.com", b.Name)

		var executions []string
		run := func(path, body string, want int) {
			t.Helper()
			r := e.post(t, path, body)
			if r.Status != want {
				t.Fatalf("POST %s: %d, want %d: %s", path, r.Status, want, r.Raw)
			}
			if r.executionID() == "" {
				t.Fatalf("POST %s names no execution: %s", path, r.Raw)
			}
			for _, s := range []string{plantedPassword, plantedToken} {
				if strings.Contains(r.Raw, s) {
					t.Errorf("the response to %s contains %q", path, s)
				}
			}
			executions = append(executions, r.executionID())
		}
		// Registration: created, then the email taken (a business error).
		reg := fmt.Sprintf(`{"email": %q, "password": %q, "name": "Leak"}`, email, plantedPassword)
		run("/api/users/register", reg, http.StatusCreated)
		run("/api/users/register", reg, http.StatusConflict)
		// Order: charged, then a refused total (a business error after
		// the token was in the input).
		run("/api/orders/process", fmt.Sprintf(`{"customerId": "123", "items": [{"productId": "457", "quantity": 1}], "totalAmount": 9.99, "paymentMethodId": %q}`, plantedToken), http.StatusCreated)
		run("/api/orders/process", fmt.Sprintf(`{"customerId": "123", "items": [{"productId": "457", "quantity": 1}], "totalAmount": 1, "paymentMethodId": %q}`, plantedToken), http.StatusBadRequest)

		charged := false
		for _, req := range stripe.Requests() {
			charged = charged || req.Form.Get("payment_method") == plantedToken
		}
		if !charged {
			t.Fatalf("Stripe never received the token; requests: %+v", stripe.Requests())
		}

		checkHistories(t, e, executions)
		checkDatabase(t, e)
		out := logs.String()
		if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "/api/orders/process") {
			t.Fatalf("the captured log is not the process log (%d bytes)", len(out))
		}
		for _, s := range []string{plantedPassword, plantedToken} {
			if i := strings.Index(out, s); i >= 0 {
				t.Errorf("the log contains %q: …%s…", s, out[max(0, i-200):min(len(out), i+100)])
			}
		}
	})
}

// checkHistories reads each execution's history with a client that has no
// codec, as anyone with access to Temporal would, and looks for the secrets
// in every event's wire bytes and JSON; then decodes it with the key to
// show the secrets were really there, encrypted.
func checkHistories(t *testing.T, e *flowEnv, executions []string) {
	t.Helper()
	plain, err := client.Dial(client.Options{HostPort: temporalAddress, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx := context.Background()
	var histories []*historypb.History
	summaries, failures := 0, 0
	for _, id := range executions {
		h := &historypb.History{}
		iter := plain.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			h.Events = append(h.Events, ev)
		}
		if len(h.Events) < 5 {
			t.Fatalf("history of %s has %d events", id, len(h.Events))
		}
		for _, ev := range h.Events {
			// Activity summaries (the node ids) and failure messages go
			// through the codec as well.
			if sum := ev.GetUserMetadata().GetSummary(); sum != nil {
				summaries++
				if enc := string(sum.GetMetadata()["encoding"]); enc != codec.EncodingEncrypted {
					t.Errorf("execution %s, event %d: summary encoding %q", id, ev.GetEventId(), enc)
				}
			}
			err := proxy.VisitFailures(ctx, ev, proxy.VisitFailuresOptions{Visitor: func(_ *proxy.VisitFailuresContext, f *failurepb.Failure) error {
				failures++
				if f.GetMessage() != "Encoded failure" || f.GetStackTrace() != "" {
					t.Errorf("execution %s, event %d (%s): failure message %q in plain text", id, ev.GetEventId(), ev.GetEventType(), f.GetMessage())
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			wire, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			text, err := protojson.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{plantedPassword, plantedToken} {
				if bytes.Contains(wire, []byte(s)) || bytes.Contains(text, []byte(s)) {
					t.Errorf("execution %s, event %d (%s) holds %q in plain text", id, ev.GetEventId(), ev.GetEventType(), s)
				}
			}
		}
		histories = append(histories, h)
	}

	if summaries == 0 || failures == 0 {
		t.Errorf("saw %d summaries and %d failures: the flows did not run as planned", summaries, failures)
	}

	pc, err := process.PayloadCodec(e.cfg, nil)
	if err != nil || pc == nil {
		t.Fatalf("payload codec: %v", err)
	}
	var decoded bytes.Buffer
	for _, h := range histories {
		if err := pc.DecodeMessage(ctx, h); err != nil {
			t.Fatal(err)
		}
		raw, err := proto.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		decoded.Write(raw)
	}
	for _, s := range []string{plantedPassword, plantedToken} {
		if !bytes.Contains(decoded.Bytes(), []byte(s)) {
			t.Errorf("decoded histories lack %q: the test planted nothing", s)
		}
	}
}

// checkDatabase dumps every table of the app database.
func checkDatabase(t *testing.T, e *flowEnv) {
	t.Helper()
	var tables []string
	query := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if e.db.DriverName() == "postgres" {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	if err := e.db.Select(&tables, query); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("tables: %v", tables)
	}
	rows := 0
	for _, table := range tables {
		r, err := e.db.Queryx(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for r.Next() {
			cols, err := r.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			rows++
			var line strings.Builder
			for _, c := range cols {
				if b, ok := c.([]byte); ok {
					c = string(b)
				}
				fmt.Fprintf(&line, "%v|", c)
			}
			for _, s := range []string{plantedPassword, plantedToken} {
				if strings.Contains(line.String(), s) {
					t.Errorf("table %s holds %q: %s", table, s, line.String())
				}
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		_ = r.Close()
	}
	if rows == 0 {
		t.Fatal("the database dump is empty")
	}
}
