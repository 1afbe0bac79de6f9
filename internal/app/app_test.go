package app

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

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
			core, err := NewCore(cfg, NewLogger(cfg, io.Discard))
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
