package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestHostileSQL: statements that reach files, other databases or the
// session are refused at registration, on both app databases, saying why;
// nothing is written and the API stays healthy; ordinary statements run.
func TestHostileSQL(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := newFlowEnv(t, b.URL(t), testenv.StripeMock(t), nil)
			target := filepath.Join(t.TempDir(), "stolen.db")
			for _, q := range []string{
				"VACUUM INTO '" + target + "'",
				"/* report */ VaCuUm   InTo '" + target + "'",
				"ATTACH DATABASE '" + target + "' AS stolen",
				"SELECT 1; ATTACH DATABASE '" + target + "' AS stolen",
				"PRAGMA writable_schema = ON",
				"SELECT load_extension('" + target + "')",
				"COPY users TO '" + target + "'",
				"SELECT lo_export(1, '" + target + "')",
				`SELECT pg_catalog."pg_read_file"('/etc/passwd')`,
				"SET ROLE postgres",
			} {
				id := fmt.Sprintf("t-sql-%d", queueSeq.Add(1))
				def, _ := json.Marshal(map[string]any{"id": id, "version": "1", "startNode": "q",
					"nodes": []any{map[string]any{"id": "q", "type": "database_query", "config": map[string]any{
						"connection": "app", "mode": "exec", "query": q}}}, "edges": []any{}})
				r := e.post(t, "/api/workflows", string(def))
				if r.Status != http.StatusBadRequest || r.Error.Code != "invalid_definition" ||
					!strings.Contains(r.Raw, "not allowed") || !strings.Contains(r.Raw, "nodes[0].config.query") {
					t.Errorf("%s: %d %.400s, want 400 invalid_definition saying why", q, r.Status, r.Raw)
				}
				if _, err := os.Stat(target); err == nil {
					t.Fatalf("%s wrote %s", q, target)
				}
			}
			e.healthy(t)
			// An ordinary statement still runs.
			def := `{"id": "t-sql-ok-` + b.Name + `", "version": "1", "startNode": "q", "nodes": [{"id": "q", "type": "database_query",
				"config": {"connection": "app", "mode": "one", "query": "SELECT COUNT(*) AS n FROM products WHERE id > :min", "params": {"min": "0"}}}], "edges": []}`
			if r := e.post(t, "/api/workflows", def); r.Status != http.StatusCreated {
				t.Fatalf("register: %d %s", r.Status, r.Raw)
			}
			if r := e.post(t, "/api/workflows/t-sql-ok-"+b.Name+"/execute", `{"input": {}}`); r.Status != http.StatusOK {
				t.Fatalf("execute: %d %s", r.Status, r.Raw)
			}
		})
	}
}
