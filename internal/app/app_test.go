package app

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/store"
)

// A worker configured for real payments without a key refuses to start
// instead of silently approving orders; the fake connector must be asked for.
func TestNewIOPayments(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tests := []struct {
		name    string
		environ map[string]string
		wantErr string
	}{
		{"stripe without a key", map[string]string{}, "STRIPE_SECRET_KEY is not set"},
		{"stripe with a publishable key", map[string]string{"STRIPE_SECRET_KEY": "pk_test_123"}, "secret (sk_…)"},
		{"stripe with a key", map[string]string{"STRIPE_SECRET_KEY": "sk_test_123"}, ""},
		{"fake asked for", map[string]string{"PAYMENTS_PROVIDER": "fake"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.environ["DATA_DIR"] = dir
			cfg, err := config.Load(tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			core, err := NewCore(cfg, process.NewLogger(cfg, io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			ioNodes, err := core.NewIO(st)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewIO: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewIO error = %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && ioNodes.Services.Connectors["stripe"] == nil:
				t.Fatal("no connector for the stripe service")
			}
		})
	}
}

// The codec endpoints reveal every execution's payloads: admin keys may use
// them, client keys may not (they see only their own executions).
func TestCodecEndpointTakesAdminKeys(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := config.Load(map[string]string{
		"DATA_DIR":       dir,
		"PAYLOAD_KEYS":   "k1=" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"API_KEYS":       "shop=client-secret-0123456789",
		"ADMIN_API_KEYS": "ops=admin-secret-0123456789",
	})
	if err != nil {
		t.Fatal(err)
	}
	core, err := NewCore(cfg, process.NewLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	// A lazy client never dials: the codec endpoints do not use Temporal.
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	srv, err := core.NewAPI(tc, st, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		secret string
		want   int
	}{
		{"admin-secret-0123456789", http.StatusOK},
		{"client-secret-0123456789", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodPost, "/codec/decode", strings.NewReader(`{"payloads":[]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		if tt.secret != "" {
			req.Header.Set("Authorization", "Bearer "+tt.secret)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("bearer %q: status %d, want %d (%s)", tt.secret, rec.Code, tt.want, rec.Body)
		}
	}
}
