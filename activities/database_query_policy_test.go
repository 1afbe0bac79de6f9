package activities

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/sqlpolicy"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestDatabaseQueryPolicyAtRegistration: a refused statement is a
// registration problem on the query, with its own code and the reason.
func TestDatabaseQueryPolicyAtRegistration(t *testing.T) {
	t.Parallel()
	nt := lookupType(t, TypeDatabaseQuery, IOOptions{Databases: []string{"app"}})
	e := testExprs(t)
	for _, tt := range []struct{ query, why string }{
		{"VACUUM INTO '/tmp/copy.db'", "VACUUM statements are not allowed"},
		{"ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH statements are not allowed"},
		{"PRAGMA journal_mode = DELETE", "PRAGMA statements are not allowed"},
		{"SELECT load_extension(:lib)", "load_extension is not allowed"},
		{"SELECT pg_catalog.\"pg_read_file\"(:path)", "pg_read_file is not allowed"},
		{"COPY users TO '/tmp/users.csv'", "COPY statements are not allowed"},
		{"SET ROLE postgres", "SET statements are not allowed"},
		// Read as SQLite, the E-string is not one: the text after it is code.
		{"SELECT E'\\'', load_extension('/tmp/x.so') --'", "load_extension is not allowed"},
	} {
		cfg := map[string]any{"mode": "many", "query": tt.query}
		if strings.Contains(tt.query, ":lib") {
			cfg["params"] = map[string]any{"lib": "'x'"}
		}
		if strings.Contains(tt.query, ":path") {
			cfg["params"] = map[string]any{"path": "'x'"}
		}
		got := nt.CheckConfig([]byte(dbConfig(t, cfg)), e)
		if len(got) != 1 || got[0].Path != "query" || got[0].Code != CodeStatementNotAllowed || !strings.Contains(got[0].Message, tt.why) {
			t.Errorf("%s: problems %+v, want one on query, %s, saying %q", tt.query, got, CodeStatementNotAllowed, tt.why)
		}
	}
}

// TestDatabaseQueryPolicyAtRunTime runs refused statements through the
// activity, as a definition registered before the policy would: each fails,
// never retried, saying why; no file appears; the connection it used keeps
// nothing (no attachment, no setting) and serves the next execution.
func TestDatabaseQueryPolicyAtRunTime(t *testing.T) {
	t.Parallel()
	for _, d := range testDatabases(t) {
		t.Run(d.name, func(t *testing.T) {
			d.db.SetMaxOpenConns(1) // the node's connection is the test's
			env := newDBEnv(t, d.db)
			dir := t.TempDir()
			refused := []struct{ query, why string }{
				{"ATTACH DATABASE '" + filepath.Join(dir, "attached.db") + "' AS x", "ATTACH statements are not allowed"},
				{"VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'", "VACUUM statements are not allowed"},
				{"PRAGMA query_only = 1", "PRAGMA statements are not allowed"},
				{"SELECT load_extension('" + filepath.Join(dir, "x.so") + "')", "load_extension is not allowed"},
				{"SELECT count(*) FROM sqlite_dbpage", "sqlite_dbpage is not allowed"},
				{"CREATE TEMP TABLE t (x)", "CREATE statements are not allowed"},
				{"SELECT 1; ATTACH '" + filepath.Join(dir, "second.db") + "' AS y", "only one statement"},
				{"COPY products TO '" + filepath.Join(dir, "products.csv") + "'", "COPY statements are not allowed"},
				{"SELECT pg_read_file('/etc/hostname')", "pg_read_file is not allowed"},
				{"SELECT lo_export(lo_from_bytea(0, 'x'), '" + filepath.Join(dir, "lo.bin") + "')", "lo_export is not allowed"},
				{"SET search_path = nowhere", "SET statements are not allowed"},
				{"SELECT set_config('search_path', 'nowhere', false)", "set_config is not allowed"},
				{"BEGIN", "BEGIN statements are not allowed"},
			}
			for _, tt := range refused {
				_, err := runQuery(t, env, map[string]any{"query": tt.query, "mode": "many"}, `{}`)
				var appErr *temporal.ApplicationError
				if !errors.As(err, &appErr) || appErr.Type() != interpreter.ErrConfiguration || !appErr.NonRetryable() ||
					!strings.Contains(appErr.Message(), tt.why) {
					t.Errorf("%s: error = %v; want a non-retryable %s saying %q", tt.query, err, interpreter.ErrConfiguration, tt.why)
				}
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				t.Errorf("files written: %v, %v", entries, err)
			}
			checkConnectionUnchanged(t, d)
			jsonEqual(t, mustQuery(t, env, map[string]any{"query": "SELECT name FROM products WHERE id = :id",
				"params": map[string]any{"id": "1"}, "mode": "one"}, `{}`), `{"found": true, "row": {"name": "Widget"}}`)
		})
	}
}

// checkConnectionUnchanged checks the only connection of d: nothing
// attached, no transaction open, the search path as the URL set it.
func checkConnectionUnchanged(t *testing.T, d testDB) {
	t.Helper()
	if d.name == "sqlite" {
		var n int
		if err := d.db.Get(&n, `SELECT count(*) FROM pragma_database_list WHERE name NOT IN ('main', 'temp')`); err != nil || n != 0 {
			t.Errorf("attached databases: %d, %v", n, err)
		}
		if _, err := d.db.Exec(`BEGIN; ROLLBACK`); err != nil {
			t.Errorf("a transaction was left open: %v", err)
		}
		return
	}
	var path, timeout string
	if err := d.db.Get(&path, `SHOW search_path`); err != nil || !strings.HasPrefix(path, "test_") {
		t.Errorf("search_path = %q, %v", path, err)
	}
	if err := d.db.Get(&timeout, `SHOW statement_timeout`); err != nil || timeout != "0" {
		t.Errorf("statement_timeout = %q, %v: the node's SET LOCAL outlived its transaction", timeout, err)
	}
}

// TestDatabaseQueryEngineRefuses runs statements the policy refuses past it,
// straight into the node's run step, as if the text check had a gap: the
// engines still refuse them. On SQLite the authorizer does; on PostgreSQL
// the statement is prepared, so a second statement never runs.
func TestDatabaseQueryEngineRefuses(t *testing.T) {
	t.Parallel()
	for _, d := range testDatabases(t) {
		t.Run(d.name, func(t *testing.T) {
			d.db.SetMaxOpenConns(1)
			dir := t.TempDir()
			dialect, _ := sqlpolicy.DialectOf(d.db.DriverName())
			var texts []string
			if d.name == "sqlite" {
				texts = []string{
					"ATTACH DATABASE '" + filepath.Join(dir, "attached.db") + "' AS x",
					"VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'",
					"PRAGMA journal_mode = DELETE",
					"SELECT 1; ATTACH '" + filepath.Join(dir, "second.db") + "' AS y",
					"BEGIN",
				}
			} else {
				texts = []string{
					"SELECT 1; SET search_path = nowhere",
					"SELECT 1; COPY products TO '" + filepath.Join(dir, "products.csv") + "'",
				}
			}
			for _, text := range texts {
				if sqlpolicy.Check(text, dialect) == nil {
					t.Fatalf("the policy allows %q: this test is about statements past it", text)
				}
				q := compiledQuery{cfg: DatabaseQueryConfig{Mode: QueryModeExec}, stmt: namedSQL{text: text}, timeout: DefaultQueryTimeout}
				if _, err := q.run(context.Background(), d.db, dialect, [][]any{{}}); err == nil {
					t.Errorf("%s ran", text)
				} else if classified := q.classify(`node "q"`, err, false); !isConfigError(classified) {
					t.Errorf("%s: classified as %v, want a non-retryable configuration error", text, classified)
				}
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				t.Errorf("files written: %v, %v", entries, err)
			}
			checkConnectionUnchanged(t, d)
		})
	}
}

func isConfigError(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == interpreter.ErrConfiguration && appErr.NonRetryable()
}
