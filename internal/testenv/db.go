package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" driver
)

// DatabaseURLEnv names the variable holding the Postgres URL tests may use
// (.ci/run sets it to the machine's Postgres).
const DatabaseURLEnv = "TEST_DATABASE_URL"

// Backend is a database the tests of the app database run against.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// URL returns the URL of a fresh, empty database for t: an SQLite file
	// in t.TempDir(), or a Postgres schema dropped when t ends.
	URL func(t testing.TB) string
}

// Backends returns SQLite always, and Postgres when TEST_DATABASE_URL is set.
func Backends(t testing.TB) []Backend {
	t.Helper()
	bs := []Backend{{
		Name: "sqlite",
		URL:  func(t testing.TB) string { return filepath.Join(t.TempDir(), "app.db") },
	}}
	base := os.Getenv(DatabaseURLEnv)
	if base == "" {
		t.Log(DatabaseURLEnv + " not set: skipping Postgres")
		return bs
	}
	return append(bs, Backend{
		Name: "postgres",
		URL:  func(t testing.TB) string { return PostgresSchemaURL(t, base) },
	})
}

// PostgresSchemaURL creates a schema with a random name, drops it when t
// ends, and returns base with search_path pointing at it, so tests never
// see each other's tables.
func PostgresSchemaURL(t testing.TB, base string) string {
	t.Helper()
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		t.Fatalf("open %s: %v", DatabaseURLEnv, err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	// Registered after the caller's own cleanups of connections to the
	// schema would be: cleanups run last-in first-out, so callers that open
	// the URL after this returns close their pools first.
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", DatabaseURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
