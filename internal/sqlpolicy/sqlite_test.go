package sqlpolicy

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/store"
)

// openApp opens a fresh app database (migrated, with the app's pragmas)
// whose pool holds one connection, so every statement of a test, restricted
// or not, runs on the same connection.
func openApp(t *testing.T) *sql.DB {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	db := st.DB().DB
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// restricted runs query on db under RestrictSQLite and returns the error.
func restricted(t *testing.T, db *sql.DB, query string) error {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	return RestrictSQLite(conn, func() error {
		rows, err := conn.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		return errors.Join(rows.Err(), rows.Close())
	})
}

// TestRestrictSQLiteRefuses runs statements Check refuses straight on the
// engine, as a definition registered before the policy existed would: the
// authorizer refuses each, no file appears, nothing stays attached, and the
// connection goes back to the pool with the application's own rights
// (PRAGMAs, DDL, ATTACH) intact.
func TestRestrictSQLiteRefuses(t *testing.T) {
	db := openApp(t)
	dir := t.TempDir()
	target := func(name string) string { return filepath.Join(dir, name) }
	refused := []struct{ class, query, file string }{
		{"ATTACH", "ATTACH DATABASE '" + target("attached.db") + "' AS x", "attached.db"},
		{"ATTACH of a URI", "ATTACH 'file:" + target("uri.db") + "?mode=rwc' AS x", "uri.db"},
		{"DETACH", "DETACH DATABASE temp", ""},
		{"VACUUM INTO", "VACUUM INTO '" + target("copy.db") + "'", "copy.db"},
		{"VACUUM", "VACUUM", ""},
		{"PRAGMA that changes state", "PRAGMA journal_mode = DELETE", ""},
		{"PRAGMA that reads", "PRAGMA database_list", ""},
		{"PRAGMA writable_schema", "PRAGMA writable_schema = ON", ""},
		{"PRAGMA function", "SELECT * FROM pragma_database_list", ""},
		{"load_extension", "SELECT load_extension('" + target("lib.so") + "')", ""},
		{"sqlite_dbpage read", "SELECT count(*) FROM sqlite_dbpage", ""},
		{"sqlite_dbpage column", "SELECT data FROM sqlite_dbpage WHERE pgno = 1", ""},
		{"sqlite_dbpage named by a string", "SELECT count(*) FROM 'sqlite_dbpage'", ""},
		{"PRAGMA function named by a string", "SELECT * FROM 'pragma_database_list'", ""},
		{"dbstat", "SELECT count(*) FROM dbstat", ""},
		{"sqlite_dbpage write", "INSERT INTO sqlite_dbpage (pgno, data) VALUES (1, zeroblob(4096))", ""},
		{"write to sqlite_sequence", "DELETE FROM sqlite_sequence", ""},
		{"CREATE TABLE", "CREATE TABLE t (x)", ""},
		{"CREATE TEMP TABLE", "CREATE TEMP TABLE t (x)", ""},
		{"CREATE TEMP TRIGGER", "CREATE TEMP TRIGGER tr AFTER INSERT ON notes BEGIN SELECT 1; END", ""},
		{"CREATE VIRTUAL TABLE", "CREATE VIRTUAL TABLE v USING fts5(x)", ""},
		{"CREATE VIEW", "CREATE TEMP VIEW v AS SELECT 1", ""},
		{"DROP TABLE", "DROP TABLE notes", ""},
		{"ALTER TABLE", "ALTER TABLE notes ADD COLUMN y", ""},
		{"CREATE INDEX", "CREATE INDEX i ON notes (body)", ""},
		{"REINDEX", "REINDEX", ""},
		{"ANALYZE", "ANALYZE", ""},
		{"SAVEPOINT", "SAVEPOINT s", ""},
		{"second statement", "SELECT 1; ATTACH DATABASE '" + target("second.db") + "' AS y", "second.db"},
	}
	for _, tt := range refused {
		t.Run(tt.class, func(t *testing.T) {
			err := restricted(t, db, tt.query)
			if err == nil {
				t.Fatalf("%s ran", tt.query)
			}
			if !IsSQLiteRefusal(err) {
				t.Errorf("error = %v, want a refusal by the authorizer or the attach limit", err)
			}
			if tt.file != "" {
				if _, err := os.Stat(target(tt.file)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists (stat: %v)", tt.file, err)
				}
			}
			checkPristine(t, db)
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("files in the target directory: %v, %v", entries, err)
	}
}

// checkPristine checks that db's connection (the only one) is back to the
// application's rights and state: nothing attached, no transaction, PRAGMAs,
// DDL and ATTACH allowed.
func checkPristine(t *testing.T, db *sql.DB) {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_database_list WHERE name NOT IN ('main', 'temp')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("attached databases: %d, %v", n, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS app_owned (x)`); err != nil {
		t.Fatalf("the application's DDL: %v", err)
	}
	if _, err := db.Exec(`BEGIN; ROLLBACK`); err != nil {
		t.Fatalf("a transaction was left open: %v", err)
	}
}

// TestRestrictSQLiteAllows runs the statements nodes need under the
// authorizer: reads, writes with AUTOINCREMENT and RETURNING, upserts,
// recursive CTEs, JSON table functions, the node's own transactions.
func TestRestrictSQLiteAllows(t *testing.T) {
	db := openApp(t)
	for _, q := range []string{
		`INSERT INTO notes (body) VALUES ('a') RETURNING id`,
		`INSERT INTO notes (id, body) VALUES (1, 'b') ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
		`INSERT OR REPLACE INTO notes (id, body) VALUES (2, 'c')`,
		`UPDATE notes SET body = upper(body) WHERE id = 1`,
		`SELECT n.id, j.value FROM notes n, json_each('[1,2]') j`,
		`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) SELECT sum(x) FROM c`,
		`SELECT name FROM sqlite_schema WHERE type = 'table'`,
		`SELECT datetime('now'), json_object('a', 1), abs(-1), coalesce(NULL, 1)`,
		`DELETE FROM notes WHERE id = 2`,
	} {
		if err := restricted(t, db, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	err = RestrictSQLite(conn, func() error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (body) VALUES ('in a transaction')`); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		t.Fatalf("a transaction under the authorizer: %v", err)
	}
}

// TestRestrictSQLiteClosesAChangedConnection: a statement that leaves a
// transaction open (BEGIN passes the authorizer, which cannot tell it from
// the node's own) costs the connection, not a later execution's isolation.
func TestRestrictSQLiteClosesAChangedConnection(t *testing.T) {
	db := openApp(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = RestrictSQLite(conn, func() error {
		_, err := conn.ExecContext(ctx, `BEGIN; INSERT INTO notes (body) VALUES ('uncommitted')`)
		return err
	})
	_ = conn.Close()
	if !errors.Is(err, ErrConnectionChanged) {
		t.Fatalf("error = %v, want ErrConnectionChanged", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("notes = %d, %v; want the insert rolled back with the closed connection", n, err)
	}
	checkPristine(t, db)
}

// TestRestrictSQLiteOtherDriver: a connection that is not modernc's is
// refused rather than run unrestricted.
func TestRestrictSQLiteOtherDriver(t *testing.T) {
	if _, err := sqliteHandle(struct{ db uintptr }{1}); err == nil {
		t.Fatal("a foreign connection was accepted")
	}
}

// A node's statement cannot make a huge value: SQLite refuses it before
// allocating, and the connection's normal limit comes back afterwards.
func TestRestrictSQLiteBoundsValues(t *testing.T) {
	db := openApp(t)
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = RestrictSQLite(conn, func() error {
		var n int64
		return conn.QueryRowContext(t.Context(), "SELECT length(randomblob(1000000000))").Scan(&n)
	})
	if err == nil || !strings.Contains(err.Error(), "too big") {
		t.Fatalf("err = %v, want string or blob too big", err)
	}
	var n int64
	if err := conn.QueryRowContext(t.Context(), "SELECT length(randomblob(20000000))").Scan(&n); err != nil || n != 20000000 {
		t.Fatalf("after: %d, %v", n, err)
	}
}
