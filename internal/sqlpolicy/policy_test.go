package sqlpolicy

import (
	"errors"
	"strings"
	"testing"
)

// The statements the shipped flows and the database_query tests run, with
// their :name parameters already rewritten as $n.
var allowedQueries = []string{
	"SELECT id, email, name FROM users WHERE id = $1",
	"INSERT INTO stock_reservations (execution_id, product_id, quantity) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
	"INSERT INTO orders (execution_id, customer_id) VALUES ($1, $2) ON CONFLICT (execution_id) DO UPDATE SET execution_id = excluded.execution_id RETURNING id, status, created_at",
	"UPDATE payments SET status = 'refunded', updated_at = CURRENT_TIMESTAMP WHERE execution_id = $1",
	"DELETE FROM stock_reservations WHERE execution_id = $1",
	"UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1",
	"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) SELECT count(*) AS n FROM c",
	"WITH moved AS (DELETE FROM a WHERE id = $1 RETURNING *) INSERT INTO b SELECT * FROM moved",
	"SELECT ':nope' AS s, /* :nope */ id FROM products -- :nope\n WHERE id = $1 OR id = $1 + 1 ORDER BY id",
	"SELECT id FROM products WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id",
	"VALUES (1, 2)",
	"(SELECT 1) UNION (SELECT 2)",
	"SELECT 1;",
	"UPDATE t SET n = $1;  -- done\n",
	"INSERT OR IGNORE INTO t (a) VALUES (1)",
	"REPLACE INTO t (a) VALUES (1)",
	"SELECT 'pg_read_file(''/etc/passwd'')' AS harmless_text, 'ATTACH' AS word",
	"SELECT \"into\", \"pragma\" FROM t", // quoted, they are names, not keywords
	"SELECT lo_price, file_name, pragmatic FROM t",
	"SELECT pg_sleep(0)",
}

// postgresOnly are allowed when read as PostgreSQL (dollar quotes,
// E-strings and casts mean nothing to SQLite, or the opposite).
var postgresOnly = []string{
	"SELECT $1::text AS t, $$it's :not a param$$ AS d, E'\\':x' AS e",
	"SELECT $tag$ ; DROP TABLE users $tag$",
	"SELECT E'it\\'s' AS s",
	"SELECT E'\\' , pg_read_file(''/etc/passwd'') --'", // one string
	"SELECT id FROM products WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)",
	"SELECT /* nested /* comment */ still comment; DROP TABLE t */ 1",
	"SELECT now(), current_setting('TimeZone'), gen_random_uuid(), pg_advisory_xact_lock(1)",
}

func TestCheckAllows(t *testing.T) {
	for _, q := range allowedQueries {
		if err := Check(q, Dialects()...); err != nil {
			t.Errorf("Check(%q) = %v, want allowed in both dialects", q, err)
		}
	}
	for _, q := range postgresOnly {
		if err := Check(q, Postgres); err != nil {
			t.Errorf("Check(%q, Postgres) = %v, want allowed", q, err)
		}
	}
}

// refusal is a refused statement and a part of the reason given.
type refusal struct {
	class string // what the row stands for, for the report
	query string
	why   string
}

// refusedEverywhere are refused whichever dialect reads them.
var refusedEverywhere = []refusal{
	// Statements other than row statements, however they are dressed.
	{"ATTACH", "ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH statements are not allowed (it opens another database file)"},
	{"ATTACH", "attach '/tmp/x.db' as x", "ATTACH statements"},
	{"ATTACH", "/* SELECT */ ATTACH '/tmp/x.db' AS x", "ATTACH statements"},
	{"ATTACH", "-- SELECT\nATTACH '/tmp/x.db' AS x", "ATTACH statements"},
	{"ATTACH", "  \n\tATTACH '/tmp/x.db' AS x", "ATTACH statements"},
	{"ATTACH", "(ATTACH '/tmp/x.db' AS x)", "ATTACH statements"},
	{"DETACH", "DETACH DATABASE x", "DETACH statements"},
	{"VACUUM", "VACUUM", "VACUUM statements"},
	{"VACUUM INTO", "VACUUM INTO '/tmp/copy.db'", "VACUUM statements are not allowed (it rewrites the database file, and VACUUM INTO"},
	{"VACUUM INTO", "vacuum main into '/tmp/copy.db'", "VACUUM statements"},
	{"PRAGMA", "PRAGMA journal_mode = DELETE", "PRAGMA statements"},
	{"PRAGMA", "PRAGMA writable_schema = 1", "PRAGMA statements"},
	{"PRAGMA", "PRAGMA table_info(users)", "PRAGMA statements"},
	{"PRAGMA", "SELECT * FROM pragma_table_info('users')", "pragma_table_info is not allowed: it runs a PRAGMA"},
	{"DDL", "CREATE TABLE t (x)", "CREATE statements are not allowed (it changes the schema)"},
	{"DDL", "CREATE VIRTUAL TABLE v USING fts5(x)", "CREATE statements"},
	{"DDL", "CREATE TEMP TRIGGER t AFTER INSERT ON users BEGIN SELECT 1; END", "CREATE statements"},
	{"DDL", "DROP TABLE users", "DROP statements"},
	{"DDL", "ALTER TABLE users ADD COLUMN x", "ALTER statements"},
	{"DDL", "TRUNCATE users", "TRUNCATE statements"},
	{"DDL", "REINDEX", "REINDEX statements"},
	{"DDL", "ANALYZE", "ANALYZE statements"},
	{"DDL", "SELECT * INTO copy_of_users FROM users", "SELECT … INTO is not allowed"},
	{"DDL", "WITH u AS (SELECT * FROM users) SELECT * INTO t FROM u", "SELECT … INTO is not allowed"},
	{"transaction control", "BEGIN", "BEGIN statements are not allowed (the node manages transactions itself)"},
	{"transaction control", "COMMIT", "COMMIT statements"},
	{"transaction control", "SAVEPOINT s", "SAVEPOINT statements"},
	{"other statement", "EXPLAIN SELECT 1", "EXPLAIN statements are not allowed: a database_query node runs one SELECT"},
	{"other statement", "\"SELECT\" 1", "must start with a keyword"},
	// More than one statement.
	{"multi-statement", "SELECT 1; ATTACH '/tmp/x.db' AS x", "only one statement is allowed"},
	{"multi-statement", "SELECT 1;;", "only one statement is allowed"},
	{"multi-statement", "SELECT 1 /* ; */; VACUUM", "only one statement is allowed"},
	{"multi-statement", "SELECT 1 -- \n; PRAGMA x", "only one statement is allowed"},
	{"multi-statement", "SELECT 'a;b'; DROP TABLE users", "only one statement is allowed"},
	// Functions and tables that reach files, code or other databases.
	{"load_extension", "SELECT load_extension('/tmp/evil.so')", "load_extension is not allowed: it loads native code"},
	{"load_extension", "SELECT LOAD_EXTENSION('/tmp/evil.so')", "load_extension is not allowed"},
	{"load_extension", "SELECT \"load_extension\"('/tmp/evil.so')", "load_extension is not allowed"},
	{"load_extension", "SELECT main . load_extension ('/tmp/evil.so')", "load_extension is not allowed"},
	{"load_extension", "SELECT 1load_extension('/tmp/evil.so')", "load_extension is not allowed"},
	{"sqlite_dbpage", "SELECT data FROM sqlite_dbpage", "sqlite_dbpage is not allowed: it reads or writes the database file's pages"},
	{"sqlite_dbpage", "INSERT INTO sqlite_dbpage (pgno, data) VALUES (1, x'00')", "sqlite_dbpage is not allowed"},
	{"sqlite_dbpage", "SELECT * FROM dbstat", "dbstat is not allowed"},
	{"file functions", "SELECT writefile('/tmp/x', 'data')", "writefile is not allowed: it reads or writes files"},
	{"file functions", "SELECT readfile('/etc/passwd')", "readfile is not allowed"},
	{"file functions", "SELECT * FROM fsdir('/')", "fsdir is not allowed"},
	{"file functions", "SELECT * FROM zipfile('/tmp/a.zip')", "zipfile is not allowed"},
	{"fts3_tokenizer", "SELECT fts3_tokenizer('simple', x'0000000000000000')", "fts3_tokenizer is not allowed"},
	{"server files", "SELECT pg_read_file('/etc/passwd')", "pg_read_file is not allowed: it reads or writes files on the database server"},
	{"server files", "SELECT PG_READ_FILE('/etc/passwd')", "pg_read_file is not allowed"},
	{"server files", "SELECT \"pg_read_file\"('/etc/passwd')", "pg_read_file is not allowed"},
	{"server files", "SELECT pg_catalog.pg_read_file('/etc/passwd')", "pg_read_file is not allowed"},
	{"server files", "SELECT \"pg_catalog\".\"pg_read_binary_file\"('/etc/passwd')", "pg_read_binary_file is not allowed"},
	{"server files", "SELECT pg_read_file/**/('/etc/passwd')", "pg_read_file is not allowed"},
	{"server files", "SELECT * FROM pg_ls_dir('.')", "pg_ls_dir is not allowed"},
	{"server files", "SELECT * FROM pg_ls_waldir()", "pg_ls_waldir is not allowed"},
	{"server files", "SELECT pg_stat_file('postgresql.conf')", "pg_stat_file is not allowed"},
	{"server files", "SELECT pg_current_logfile()", "pg_current_logfile is not allowed"},
	{"server files", "SELECT * FROM pg_file_settings", "pg_file_settings is not allowed"},
	{"server files", "SELECT * FROM pg_hba_file_rules", "pg_hba_file_rules is not allowed"},
	{"server files", "SELECT pg_file_write('/tmp/x', 'data', false)", "pg_file_write is not allowed"},
	{"large objects", "SELECT lo_import('/etc/passwd')", "lo_import is not allowed: it reads or writes files on the database server"},
	{"large objects", "SELECT pg_catalog.lo_export(16384, '/tmp/x')", "lo_export is not allowed"},
	{"large objects", "SELECT lo_from_bytea(0, 'data')", "lo_from_bytea is not allowed: it reads or writes large objects"},
	{"large objects", "SELECT loread(lo_open(1, 262144), 100)", "loread is not allowed"},
	{"large objects", "SELECT lo_get(16384)", "lo_get is not allowed"},
	{"large objects", "SELECT data FROM pg_largeobject", "pg_largeobject is not allowed"},
	{"other databases", "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(x int)", "dblink is not allowed: it connects to another database"},
	{"other databases", "SELECT dblink_connect_u('host=evil')", "dblink_connect_u is not allowed"},
	{"SQL as text", "SELECT query_to_xml('SELECT pg_read_file(''x'')', true, true, '')", "query_to_xml is not allowed: it runs SQL given as text"},
	{"SQL as text", "SELECT database_to_xml(true, true, '')", "database_to_xml is not allowed"},
	{"SQL as text", "SELECT table_to_xmlschema('users', true, true, '')", "table_to_xmlschema is not allowed"},
	{"SQL as text", "SELECT cursor_to_xml('c', 1, true, true, '')", "cursor_to_xml is not allowed"},
	{"SQL as text", "SELECT * FROM ts_stat('SELECT vector FROM docs')", "ts_stat is not allowed"},
	{"SQL as text", "SELECT * FROM crosstab('SELECT 1, 2, 3') AS t(a int, b int)", "crosstab is not allowed"},
	{"SQL as text", "SELECT * FROM public.connectby('t', 'id', 'parent', '1', 0) AS t(id text)", "connectby is not allowed"},
	{"session state", "SELECT set_config('search_path', 'evil', false)", "set_config is not allowed: it changes session or server state"},
	{"session state", "UPDATE pg_settings SET setting = 'off' WHERE name = 'log_statement'", "pg_settings is not allowed"},
	{"session state", "SELECT pg_advisory_lock(1)", "pg_advisory_lock is not allowed"},
	{"session state", "SELECT pg_notify('ch', 'x')", "pg_notify is not allowed"},
	{"session state", "SELECT pg_reload_conf()", "pg_reload_conf is not allowed"},
	{"session state", "SELECT pg_terminate_backend(1)", "pg_terminate_backend is not allowed"},
	{"session state", "SELECT pg_stat_reset_shared('bgwriter')", "pg_stat_reset_shared is not allowed"},
	{"session state", "SELECT pg_create_logical_replication_slot('s', 'test_decoding')", "pg_create_logical_replication_slot is not allowed"},
	{"credentials", "SELECT rolpassword FROM pg_authid", "pg_authid is not allowed"},
	{"credentials", "SELECT passwd FROM pg_catalog.pg_shadow", "pg_shadow is not allowed"},
	// PostgreSQL statements.
	{"COPY", "COPY users TO '/tmp/users.csv'", "COPY statements are not allowed (it reads or writes files on the database server or runs programs"},
	{"COPY", "COPY users FROM PROGRAM 'curl evil'", "COPY statements"},
	{"COPY", "copy (SELECT 1) to stdout", "COPY statements"},
	{"SET", "SET ROLE postgres", "SET statements are not allowed (it changes a setting that would stay on the pooled connection)"},
	{"SET", "SET SESSION AUTHORIZATION postgres", "SET statements"},
	{"SET", "set search_path = evil", "SET statements"},
	{"SET", "RESET ALL", "RESET statements"},
	{"DO", "DO $$ BEGIN PERFORM pg_sleep(1); END $$", "DO statements are not allowed (it runs procedural code)"},
	{"CALL", "CALL p()", "CALL statements are not allowed (it runs a procedure)"},
	{"LISTEN/NOTIFY", "LISTEN ch", "LISTEN statements"},
	{"LISTEN/NOTIFY", "NOTIFY ch, 'x'", "NOTIFY statements"},
	{"LOAD", "LOAD '/tmp/evil.so'", "LOAD statements are not allowed (it loads a shared library"},
	{"PREPARE", "PREPARE p AS SELECT 1", "PREPARE statements"},
	{"DDL", "CREATE EXTENSION dblink", "CREATE statements"},
	{"DDL", "GRANT ALL ON users TO PUBLIC", "GRANT statements"},
	{"NUL", "SELECT 1\x00; ATTACH 'x' AS y", "NUL character"},
}

func TestCheckRefusesEverywhere(t *testing.T) {
	for _, d := range Dialects() {
		for _, tt := range refusedEverywhere {
			err := Check(tt.query, d)
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(r.Reason, tt.why) || r.Dialect != d {
				t.Errorf("%s: Check(%q, %s) = %v; want a refusal saying %q", tt.class, tt.query, d, err, tt.why)
			}
		}
	}
}

// Bypass attempts that depend on how a dialect reads comments, quotes and
// parameters: each is refused when read as the dialect that would run the
// hidden part.
var refusedIn = map[Dialect][]refusal{
	Postgres: {
		// Block comments nest: a reader that closed this comment at the first
		// */ would take the string that follows for the code.
		{"nested comment", "SELECT /* /* */ ' */ pg_read_file('/etc/passwd') --'", "pg_read_file is not allowed"},
		// A -- comment ends at a carriage return.
		{"comment ended by CR", "SELECT 1 --\r, pg_read_file('/etc/passwd')", "pg_read_file is not allowed"},
		// Backslash escapes inside E'…', and in its continuation after a line
		// break.
		{"E-string escape hides a quote", "SELECT E'\\'', pg_read_file('/etc/passwd') --'", "pg_read_file is not allowed"},
		{"E-string continued", "SELECT E'a'\n'\\' , 1 ' , pg_read_file('/etc/passwd') , 'x'", "pg_read_file is not allowed"},
		// Backticks and brackets are not quotes in PostgreSQL.
		{"backtick", "SELECT `x`, pg_read_file('/etc/passwd') -- `", "pg_read_file is not allowed"},
		{"bracket", "SELECT [x, pg_read_file('/etc/passwd')]", "pg_read_file is not allowed"},
		// Names spelled with Unicode escapes.
		{"unicode identifier", "SELECT U&\"pg\\005fread_file\"('/etc/passwd')", "Unicode-escaped identifier"},
		{"unicode identifier", "SELECT u&\"lo_export\"(1, '/tmp/x')", "Unicode-escaped identifier"},
		// Dollar quotes: a statement after one is still seen.
		{"after dollar quote", "SELECT $a$ x $a$; COPY users TO '/tmp/x'", "only one statement is allowed"},
		{"dollar quote with a lookalike", "SELECT $a$ $b$ $a$, pg_ls_dir('.')", "pg_ls_dir is not allowed"},
		{"unterminated", "SELECT $a$ pg_read_file('/etc/passwd')", "unterminated $a$-quoted string"},
		{"unterminated", "SELECT /* pg_read_file('/etc/passwd')", "unterminated comment"},
	},
	SQLite: {
		// Block comments do not nest: the comment ends at the first */.
		{"non-nesting comment", "SELECT /* /* */ load_extension('/tmp/x.so') /* */", "load_extension is not allowed"},
		// A -- comment runs to a line feed, past carriage returns.
		{"comment not ended by CR", "SELECT 1 --\r'\n, load_extension('/tmp/x.so') --'", "load_extension is not allowed"},
		// Backslashes do not escape in SQLite strings.
		{"backslash", "SELECT 'a\\', load_extension('/tmp/x.so') --'", "load_extension is not allowed"},
		// Brackets and backticks quote identifiers, and can call functions.
		{"bracket identifier", "SELECT [load_extension]('/tmp/x.so')", "load_extension is not allowed"},
		{"backtick identifier", "SELECT `LOAD_EXTENSION`('/tmp/x.so')", "load_extension is not allowed"},
		{"bracketed table", "SELECT * FROM [sqlite_dbpage]", "sqlite_dbpage is not allowed"},
		// A string where only a name fits is the name.
		{"string as a table", "SELECT count(*) FROM 'sqlite_dbpage'", "'sqlite_dbpage' is not allowed"},
		{"string as a table", "SELECT * FROM main.'PRAGMA_DATABASE_LIST'", "'pragma_database_list' is not allowed"},
		// $$ is not a string in SQLite: what it seems to quote is code.
		{"dollar quote", "SELECT $$ , load_extension('/tmp/x.so') , $$", "load_extension is not allowed"},
		// A variable's (…) suffix runs to ')' or white space, quotes
		// included: $a(') is one token.
		{"variable suffix", "SELECT @a(') , load_extension('/tmp/x.so') , @b(')", "load_extension is not allowed"},
		{"variable suffix", "SELECT $1(') , load_extension('/tmp/x.so') , $2(')", "load_extension is not allowed"},
		// Blobs end at the first quote.
		{"blob", "SELECT x'', load_extension('/tmp/x.so'), ''", "load_extension is not allowed"},
		{"E is not a prefix", "SELECT E'\\', load_extension('/tmp/x.so') --'", "load_extension is not allowed"},
		// A byte order mark between tokens is white space.
		{"byte order mark", "SELECT 1,\xef\xbb\xbfload_extension('/tmp/x.so')", "load_extension is not allowed"},
		{"unterminated", "SELECT 'abc", "unterminated string"},
		{"unterminated", "SELECT [abc", "unterminated [identifier]"},
	},
}

func TestCheckRefusesInDialect(t *testing.T) {
	for d, cases := range refusedIn {
		for _, tt := range cases {
			err := Check(tt.query, d)
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(r.Reason, tt.why) {
				t.Errorf("%s, %s: Check(%q) = %v; want a refusal saying %q", d, tt.class, tt.query, err, tt.why)
			}
			// A definition is checked in every dialect when it is registered.
			if Check(tt.query, Dialects()...) == nil {
				t.Errorf("%s, %s: Check(%q) in every dialect allowed it", d, tt.class, tt.query)
			}
		}
	}
}

func TestRefusalNamesTheDialect(t *testing.T) {
	err := Check("SELECT E'it\\'s'", Dialects()...)
	var r *Refusal
	if !errors.As(err, &r) || r.Dialect != SQLite || !strings.Contains(r.Reason, "(read as SQLite)") {
		t.Fatalf("Check = %#v; want an SQLite reading's refusal that says so", err)
	}
}

func TestDialectOf(t *testing.T) {
	for name, want := range map[string]Dialect{"sqlite": SQLite, "postgres": Postgres} {
		if d, ok := DialectOf(name); !ok || d != want {
			t.Errorf("DialectOf(%q) = %v, %v", name, d, ok)
		}
	}
	if _, ok := DialectOf("mysql"); ok {
		t.Error("DialectOf(mysql) is known")
	}
}
