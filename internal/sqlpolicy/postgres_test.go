package sqlpolicy

import (
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" driver

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestRefusedNamesCoverPostgresPrivileged asks a live PostgreSQL for every
// function and relation of pg_catalog that PUBLIC may not use (PostgreSQL
// keeps those for superusers and roles such as pg_read_server_files), and
// checks that the policy refuses each by name: if a new server version adds
// one, this fails until the list covers it.
func TestRefusedNamesCoverPostgresPrivileged(t *testing.T) {
	url := os.Getenv(testenv.DatabaseURLEnv)
	if url == "" {
		t.Skip(testenv.DatabaseURLEnv + " not set")
	}
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var names []string
	err = db.Select(&names, `
		SELECT DISTINCT p.proname FROM pg_proc p
		WHERE p.pronamespace = 'pg_catalog'::regnamespace
		  AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
		UNION
		SELECT DISTINCT c.relname FROM pg_class c
		WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind IN ('r', 'v', 'm')
		  AND NOT has_table_privilege('public', c.oid, 'SELECT')
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("only %d privileged names: %v", len(names), names)
	}
	for _, name := range names {
		if RefusedName(name) == "" {
			t.Errorf("%s is not granted to PUBLIC, but the policy allows it", name)
		}
		if Check("SELECT * FROM pg_catalog."+name+"()", Postgres) == nil {
			t.Errorf("a statement calling %s was allowed", name)
		}
	}
}
