package activities

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func TestStatementPolicy(t *testing.T) {
	allowed := []string{
		"SELECT * FROM users WHERE email = :email",
		"select id from products where id = :id",
		"  (SELECT 1)",
		"WITH taken AS (UPDATE products SET stock = stock - 1 WHERE id = :id RETURNING id) SELECT * FROM taken",
		"INSERT INTO users (email, name) VALUES (:email, :name) ON CONFLICT (email) DO NOTHING RETURNING id",
		"UPDATE products SET stock = stock + :n, copy = 1 WHERE id = :id", // SET and a column named copy inside DML
		"DELETE FROM stock_reservations WHERE execution_id = :id",
		"VALUES (1, 2)",
		"REPLACE INTO settings (k, v) VALUES (:k, :v)",
		"SELECT lo_price, pg_read FROM catalog", // columns, not calls
		"SELECT pragma_count FROM t",
		"SELECT * FROM pragma_table_info('users')", // SQLite's read-only pragma functions
		"SELECT '/* ATTACH */ pg_read_file(x)' AS s -- VACUUM INTO '/tmp/x'",
		"SELECT pg_advisory_xact_lock(:id)",
		"SELECT jsonb_extract_path(meta, 'a')::int FROM products",
	}
	refused := map[string]string{
		"VACUUM INTO '/tmp/copy.db'":                                         "VACUUM statements",
		"vacuum":                                                             "VACUUM statements",
		"/* report */ VaCuUm   InTo '/tmp/x'":                                "VACUUM statements",
		"ATTACH DATABASE '/tmp/x.db' AS stolen":                              "ATTACH statements",
		"attach '/tmp/x.db' as s":                                            "ATTACH statements",
		"DETACH DATABASE main":                                               "DETACH statements",
		"PRAGMA writable_schema = ON":                                        "PRAGMA statements",
		"pragma journal_mode":                                                "PRAGMA statements",
		"CREATE VIRTUAL TABLE t USING fts5(x)":                               "CREATE statements",
		"CREATE TABLE stolen AS SELECT * FROM users":                         "CREATE statements",
		"DROP TABLE users":                                                   "DROP statements",
		"ALTER TABLE users ADD COLUMN x int":                                 "ALTER statements",
		"COPY users TO '/tmp/users.csv'":                                     "COPY statements",
		"COPY (SELECT 1) TO PROGRAM 'id'":                                    "COPY statements",
		"SET ROLE postgres":                                                  "SET statements",
		"SET SESSION AUTHORIZATION postgres":                                 "SET statements",
		"RESET ALL":                                                          "RESET statements",
		"DO $$ BEGIN PERFORM 1; END $$":                                      "DO statements",
		"CALL proc()":                                                        "CALL statements",
		"LISTEN ch":                                                          "LISTEN statements",
		"NOTIFY ch":                                                          "NOTIFY statements",
		"BEGIN":                                                              "BEGIN statements",
		"EXPLAIN ANALYZE DELETE FROM users":                                  "EXPLAIN statements",
		"GRANT ALL ON users TO public":                                       "GRANT statements",
		"SELECT load_extension('/tmp/evil.so')":                              "load_extension",
		"SELECT LOAD_EXTENSION ( '/tmp/evil.so' )":                           "load_extension",
		`SELECT "load_extension"('/tmp/evil.so')`:                            "load_extension",
		"SELECT [load_extension]('/tmp/evil.so')":                            "load_extension",
		"SELECT load_extension/**/('/tmp/evil.so')":                          "load_extension",
		"SELECT * FROM sqlite_dbpage":                                        "sqlite_dbpage",
		"INSERT INTO sqlite_dbpage VALUES (1, x'00')":                        "sqlite_dbpage",
		"SELECT pg_read_file('/etc/passwd')":                                 "pg_read_file",
		`SELECT pg_catalog."pg_read_file"('/etc/passwd')`:                    "pg_read_file",
		"SELECT PG_CATALOG.PG_READ_BINARY_FILE('/x')":                        "pg_read_binary_file",
		"SELECT * FROM pg_ls_dir('/')":                                       "pg_ls_dir",
		"SELECT pg_stat_file('/etc/passwd')":                                 "pg_stat_file",
		"SELECT lo_import('/etc/passwd')":                                    "lo_import",
		"SELECT lo_export(1, '/tmp/x')":                                      "lo_export",
		"SELECT lo_from_bytea(0, 'x')":                                       "lo_from_bytea",
		"SELECT * FROM dblink('host=x', 'select 1') AS t(a int)":             "dblink",
		"SELECT query_to_xml('select pg_read_file(''/x'')', true, true, '')": "query_to_xml",
		"SELECT ts_stat('select 1')":                                         "ts_stat",
		"SELECT set_config('role', 'postgres', false)":                       "set_config",
		"SELECT pg_terminate_backend(1)":                                     "pg_terminate_backend",
		"SELECT pg_advisory_lock(1)":                                         "pg_advisory_lock",
		"SELECT 1 FROM users WHERE pg_reload_conf()":                         "pg_reload_conf",
		`SELECT U&"\0070g_read_file"('/etc/passwd')`:                         "U&",
		"WITH x AS (SELECT pg_read_file('/x')) SELECT * FROM x":              "pg_read_file",
	}
	for _, q := range allowed {
		stmt, err := parseNamedSQL(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if err := checkStatementPolicy(stmt); err != nil {
			t.Errorf("%s refused: %v", q, err)
		}
	}
	for q, why := range refused {
		stmt, err := parseNamedSQL(q)
		if err == nil {
			err = checkStatementPolicy(stmt)
		}
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want a refusal saying %q", q, err, why)
		}
	}
}

// The policy holds at run time too: a definition that reached a worker
// without registration (or registered before the policy) is refused before
// the database sees it, on SQLite and Postgres, and no file appears.
func TestStatementPolicyAtRunTime(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			env := newDBEnv(t, tdb.db)
			target := filepath.Join(t.TempDir(), "stolen.db")
			for _, q := range []string{"VACUUM INTO '" + target + "'", "ATTACH DATABASE '" + target + "' AS stolen", "SELECT lo_import('" + target + "')"} {
				_, err := runQuery(t, env, map[string]any{"connection": "app", "mode": "exec", "query": q}, `{}`)
				var appErr *temporal.ApplicationError
				if !errors.As(err, &appErr) || appErr.Type() != interpreter.ErrConfiguration || !strings.Contains(appErr.Message(), "not allowed") {
					t.Errorf("%s: %v, want a configuration error saying it is not allowed", q, err)
				}
				if _, err := os.Stat(target); err == nil {
					t.Fatalf("%s wrote %s", q, target)
				}
			}
			// The pooled connections have nothing attached.
			var n int
			if tdb.name == "sqlite" {
				if err := tdb.db.Get(&n, `SELECT COUNT(*) FROM pragma_database_list WHERE name = 'stolen'`); err != nil || n != 0 {
					t.Errorf("attached databases: %d, %v", n, err)
				}
			}
		})
	}
}
