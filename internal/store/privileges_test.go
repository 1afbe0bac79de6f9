package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestServerFileAccess: SQLite never has it; the tests' PostgreSQL user
// (a superuser) has it; a plain login role that owns the app's schema does
// not.
func TestServerFileAccess(t *testing.T) {
	ctx := context.Background()
	sqlite := openStore(t, filepath.Join(t.TempDir(), "app.db"))
	if access, err := sqlite.ServerFileAccess(ctx); err != nil || access {
		t.Errorf("SQLite: %v, %v; want false", access, err)
	}
	base := os.Getenv(testenv.DatabaseURLEnv)
	if base == "" {
		t.Skip(testenv.DatabaseURLEnv + " not set")
	}
	if access, err := openStore(t, testenv.PostgresSchemaURL(t, base)).ServerFileAccess(ctx); err != nil || !access {
		t.Errorf("as %s's user: %v, %v; want true (a superuser)", testenv.DatabaseURLEnv, access, err)
	}

	// A role of its own, created and dropped by the test (roles are
	// cluster-wide), owning a fresh schema's objects.
	schemaURL := testenv.PostgresSchemaURL(t, base)
	admin, err := sqlx.Open("postgres", schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	role := "test_role_" + hex.EncodeToString(b[:])
	var schema string
	if err := admin.Get(&schema, `SELECT current_schema()`); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`CREATE ROLE ` + role + ` LOGIN`, `GRANT ALL ON SCHEMA ` + schema + ` TO ` + role} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, stmt := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := admin.Exec(stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	plain := openStore(t, u.String()) // migrates the schema as the role
	if access, err := plain.ServerFileAccess(ctx); err != nil || access {
		t.Errorf("as %s: %v, %v; want false", role, access, err)
	}
}
