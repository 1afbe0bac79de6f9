package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// sqlHostileCase is a database_query statement of a refused class and a
// part of the reason registration gives.
type sqlHostileCase struct {
	class, query, why string
}

// code is the problem code registration gives: the statement policy's, but
// for a second statement, which the query's parameter parser refuses first.
func (h sqlHostileCase) code() string {
	if h.class == "multi-statement" {
		return interpreter.CodeInvalidConfig
	}
	return activities.CodeStatementNotAllowed
}

// sqlHostileCases builds the refused statements, their file targets in
// dir.
func sqlHostileCases(dir string) []sqlHostileCase {
	file := func(name string) string { return filepath.Join(dir, name) }
	return []sqlHostileCase{
		{"VACUUM INTO", "VACUUM INTO '" + file("copy.db") + "'", "VACUUM statements are not allowed"},
		{"VACUUM INTO", "/* backup */ vacuum main INTO '" + file("copy2.db") + "'", "VACUUM statements are not allowed"},
		{"ATTACH", "ATTACH DATABASE '" + file("attached.db") + "' AS x", "ATTACH statements are not allowed"},
		{"ATTACH", "attach 'file:" + file("uri.db") + "?mode=rwc' as y", "ATTACH statements are not allowed"},
		{"DETACH", "DETACH DATABASE x", "DETACH statements are not allowed"},
		{"PRAGMA", "PRAGMA journal_mode = DELETE", "PRAGMA statements are not allowed"},
		{"PRAGMA", "PRAGMA writable_schema = ON", "PRAGMA statements are not allowed"},
		{"PRAGMA function", "SELECT * FROM pragma_database_list", "pragma_database_list is not allowed"},
		{"load_extension", "SELECT load_extension('" + file("evil.so") + "')", "load_extension is not allowed"},
		{"load_extension", "SELECT [load_extension]('" + file("evil.so") + "')", "load_extension is not allowed"},
		{"sqlite_dbpage", "SELECT data FROM sqlite_dbpage WHERE pgno = 1", "sqlite_dbpage is not allowed"},
		{"file functions", "SELECT writefile('" + file("w.txt") + "', 'x')", "writefile is not allowed"},
		{"DDL", "CREATE VIRTUAL TABLE v USING fts5(x)", "CREATE statements are not allowed"},
		{"DDL", "DROP TABLE users", "DROP statements are not allowed"},
		{"DDL", "SELECT * INTO users_copy FROM users", "SELECT … INTO is not allowed"},
		{"transaction control", "BEGIN IMMEDIATE", "BEGIN statements are not allowed"},
		{"multi-statement", "SELECT 1; ATTACH '" + file("second.db") + "' AS z", "only one statement is allowed"},
		{"multi-statement", "SELECT 1 /* ; */ -- x\n; VACUUM", "only one statement is allowed"},
		{"COPY", "COPY users TO '" + file("users.csv") + "'", "COPY statements are not allowed"},
		{"COPY", "COPY users FROM PROGRAM 'id'", "COPY statements are not allowed"},
		{"server files", "SELECT pg_read_file('/etc/passwd')", "pg_read_file is not allowed"},
		{"server files", "SELECT pg_catalog.\"pg_read_binary_file\"('/etc/passwd')", "pg_read_binary_file is not allowed"},
		{"server files", "SELECT * FROM pg_ls_dir('.')", "pg_ls_dir is not allowed"},
		{"large objects", "SELECT lo_export(lo_from_bytea(0, 'x'), '" + file("lo.bin") + "')", "is not allowed"},
		{"large objects", "SELECT lo_import('/etc/passwd')", "lo_import is not allowed"},
		{"other databases", "SELECT * FROM dblink('host=127.0.0.1', 'SELECT 1') AS t(x int)", "dblink is not allowed"},
		{"SQL as text", "SELECT query_to_xml('SELECT 1', true, true, '')", "query_to_xml is not allowed"},
		{"settings", "SET ROLE postgres", "SET statements are not allowed"},
		{"settings", "SET SESSION AUTHORIZATION postgres", "SET statements are not allowed"},
		{"settings", "RESET ALL", "RESET statements are not allowed"},
		{"settings", "SELECT set_config('search_path', 'x', false)", "set_config is not allowed"},
		{"code", "DO $$ BEGIN NULL; END $$", "DO statements are not allowed"},
		{"code", "CALL p()", "CALL statements are not allowed"},
		{"LISTEN/NOTIFY", "LISTEN ch", "LISTEN statements are not allowed"},
		{"LISTEN/NOTIFY", "SELECT pg_notify('ch', 'x')", "pg_notify is not allowed"},
		{"hidden by quoting", "SELECT U&\"pg\\005fread_file\"('/etc/passwd')", "Unicode-escaped identifier"},
		{"hidden by a comment", "SELECT /* /* */ ' */ pg_read_file('/etc/passwd') --'", "pg_read_file is not allowed"},
		{"hidden by a string", "SELECT E'\\'', pg_read_file('/etc/passwd') --'", "pg_read_file is not allowed"},
	}
}

// TestHostileSQL drives the statement policy through the real path on each
// app database: registering a database_query node of each refused class
// answers 400 invalid_definition with a problem on the query saying why;
// definitions stored before the policy (written straight to the store) fail
// at run time with a configuration error; no file appears at any target;
// the process stays healthy and ordinary queries keep working.
func TestHostileSQL(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b testenv.Backend) {
		dsn := b.URL(t)
		e := newFlowEnvLogging(t, dsn, testenv.NewStripeServer(t).URL, nil, io.Discard) // the refusals are expected
		dir := t.TempDir()

		t.Run("Registration", func(t *testing.T) {
			for i, h := range sqlHostileCases(dir) {
				def := sqlDefinition(fmt.Sprintf("t-hostile-sql-%d", i), h.query)
				r := e.post(t, "/api/workflows", def)
				if r.Status != http.StatusBadRequest || r.Error.Code != "invalid_definition" {
					t.Errorf("%s: register %q: %d %s", h.class, h.query, r.Status, r.Raw)
					continue
				}
				if !listsSQLProblem(t, r.Raw, "nodes[0].config.query", h.code(), h.why) {
					t.Errorf("%s: register %q: no problem on the query saying %q: %s", h.class, h.query, h.why, r.Raw)
				}
				healthyAfterSQL(t, e)
			}
		})

		t.Run("StoredBeforeThePolicy", func(t *testing.T) {
			st, err := store.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = st.Close() }()
			stored := []string{
				"ATTACH DATABASE '" + filepath.Join(dir, "run-attached.db") + "' AS x",
				"VACUUM INTO '" + filepath.Join(dir, "run-copy.db") + "'",
				"SELECT pg_read_file('/etc/hostname')",
				"COPY (SELECT 1) TO '" + filepath.Join(dir, "run-copy.csv") + "'",
			}
			for i, query := range stored {
				id := fmt.Sprintf("t-stored-sql-%d", i)
				doc, err := interpreter.CanonicalJSON([]byte(sqlDefinition(id, query)))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Register(t.Context(), store.Definition{ID: id, Version: "1", Name: id, Document: doc}); err != nil {
					t.Fatal(err)
				}
				r := e.post(t, "/api/workflows/"+id+"/execute", `{"input": {}}`)
				if r.Status != http.StatusUnprocessableEntity || r.Error.Code != "execution_failed" ||
					!strings.Contains(r.Raw, `"nodeId":"q"`) || !strings.Contains(r.Raw, "invalid config: query: ") || !strings.Contains(r.Raw, "not allowed") {
					t.Errorf("execute %q: %d %s; want 422 execution_failed saying what the query may not do", query, r.Status, r.Raw)
				}
				healthyAfterSQL(t, e)
			}
		})

		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Errorf("files at the targets: %v, %v", entries, err)
		}

		t.Run("OrdinaryQueriesWork", func(t *testing.T) {
			def := sqlDefinition("t-ordinary-sql", "SELECT count(*) AS n FROM products WHERE stock >= :min")
			def = strings.Replace(def, `"mode":"one"`, `"mode":"one","params":{"min":"input.min"}`, 1)
			if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", r.Status, r.Raw)
			}
			r := e.post(t, "/api/workflows/t-ordinary-sql/execute", `{"input": {"min": 0}}`)
			want := e.scalar(t, `SELECT count(*) FROM products`)
			row, _ := r.Data.Output["row"].(map[string]any)
			if r.Status != http.StatusOK || row["n"] != float64(want) {
				t.Fatalf("execute: %d %s; want the %d products counted", r.Status, r.Raw, want)
			}
		})
	})
}

// sqlDefinition is a definition whose only node runs query on app.
func sqlDefinition(id, query string) string {
	def := map[string]any{
		"id": id, "version": "1", "startNode": "q",
		"nodes": []map[string]any{{"id": "q", "type": activities.TypeDatabaseQuery,
			"config": map[string]any{"connection": "app", "query": query, "mode": "one"},
			"retry":  map[string]any{"maximumAttempts": 1}}},
		"edges":  []any{},
		"output": map[string]any{"row": "nodes.q.row"},
	}
	raw, err := json.Marshal(def)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

// listsSQLProblem reports whether an error answer lists a problem at path with
// code whose message contains why.
func listsSQLProblem(t *testing.T, raw, path, code, why string) bool {
	t.Helper()
	var body struct {
		Error struct {
			Details []interpreter.Problem `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	for _, p := range body.Error.Details {
		if p.Path == path && p.Code == code && strings.Contains(p.Message, why) {
			return true
		}
	}
	return false
}

// healthyAfterSQL fails the test unless GET /health answers 200.
func healthyAfterSQL(t *testing.T, e *flowEnv) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.api+"/health", nil)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("/health: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %s", resp.Status)
	}
}
