package activities

import (
	"fmt"
	"slices"
	"strings"
)

// The statement policy of database_query: what a node's SQL may do.
//
// A node's statement is fixed in its definition, and definitions are
// written by API users, so the statement must not reach past the tables:
// on SQLite, `VACUUM INTO '/any/path'` copies the whole database to a file
// and `ATTACH DATABASE` creates one (and stays attached on the pooled
// connection); on Postgres, COPY, the large-object and pg_read_file
// functions read and write server files, SET ROLE changes the session,
// dblink reaches other servers. The policy is an allow-list where it can
// be: one statement (parseNamedSQL), which must be a query or a change of
// rows (SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE, SQLite's
// REPLACE), so ATTACH, DETACH, VACUUM, PRAGMA, COPY, SET, RESET, DO, CALL,
// LISTEN, NOTIFY, DDL, transaction control and everything else that is
// not DML is refused whatever its spelling (case, comments, quoting), as
// neither dialect lets those appear inside DML. What DML can still reach is
// functions: a deny-list names those of both dialects that touch files,
// other databases or the session, or run SQL given as text.
//
// It is checked at registration (a problem saying why) and again before
// every run, for definitions registered before a rule existed. It is a
// second line: on Postgres, give node queries a role without superuser or
// file privileges (README).

// allowedStatements are the keywords a statement may start with.
var allowedStatements = []string{"select", "insert", "update", "delete", "with", "values", "table", "replace"}

// deniedFunctions may not be called, by any name or quoting.
var deniedFunctions = []string{
	// SQLite: extensions and files.
	"load_extension", "readfile", "writefile", "fts3_tokenizer", "zipfile", "sqlar_compress", "sqlar_uncompress",
	// Postgres: server files, SQL from text, the session and the server.
	"pg_read_file", "pg_read_binary_file", "pg_stat_file", "loread", "lowrite",
	"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
	"ts_stat", "ts_rewrite", "set_config", "pg_reload_conf", "pg_rotate_logfile", "pg_terminate_backend",
	"pg_cancel_backend", "pg_promote", "pg_switch_wal", "pg_notify", "pg_logical_emit_message",
	"pg_import_system_collations",
	// Session-level advisory locks outlive the node on the pooled
	// connection (the _xact_ ones are released at commit).
	"pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
	"pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all",
}

// deniedPrefixes are families of such functions.
var deniedPrefixes = []string{"lo_", "pg_ls_", "pg_read_", "pg_file_", "dblink", "pg_stat_reset", "pg_replication_",
	"pg_create_", "pg_drop_", "pg_logical_slot_"}

// deniedTables are virtual tables that read or write raw pages or files
// (named without a call in FROM and INSERT INTO).
var deniedTables = []string{"sqlite_dbpage", "sqlite_dbdata", "sqlite_dbptr", "fsdir", "zipfile"}

// checkStatementPolicy returns why stmt is refused, or nil.
func checkStatementPolicy(stmt namedSQL) error {
	if len(stmt.words) == 0 {
		return fmt.Errorf("the statement has no keyword")
	}
	if first := stmt.words[0].name; !slices.Contains(allowedStatements, first) {
		return fmt.Errorf("%s statements are not allowed: a node's statement must be a query or a change of rows (%s)",
			strings.ToUpper(first), strings.ToUpper(strings.Join(allowedStatements, ", ")))
	}
	for _, w := range stmt.words {
		if slices.Contains(deniedTables, w.name) {
			return fmt.Errorf("%s is not allowed: it reads or writes raw database pages or files", w.name)
		}
		if !w.call {
			continue
		}
		if slices.Contains(deniedFunctions, w.name) || slices.ContainsFunc(deniedPrefixes, func(p string) bool { return strings.HasPrefix(w.name, p) }) {
			return fmt.Errorf("the function %s is not allowed: it reaches files, other databases or the session, or runs SQL given as text", w.name)
		}
	}
	return nil
}
