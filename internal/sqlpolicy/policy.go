// Package sqlpolicy decides which SQL statements a database_query node may
// run, in SQLite and in PostgreSQL.
//
// A node runs one statement that reads or changes rows: SELECT, INSERT,
// UPDATE, DELETE, VALUES or REPLACE, optionally after WITH. Everything else
// is refused, because it reaches past the rows of the connection's own
// database: statements that open or write other files or databases (ATTACH,
// VACUUM INTO, COPY), change settings that would outlive the statement on a
// pooled connection (PRAGMA, SET), run code (DO, CALL, LOAD) or change the
// schema (DDL); and, inside a row statement, the functions and tables that
// do the same (load_extension, sqlite_dbpage, pg_read_file, lo_export,
// dblink, query_to_xml, set_config, ...).
//
// Check reads a statement with each dialect's own rules for comments,
// string literals and quoted identifiers, so a name cannot hide in text the
// database reads as code, nor be spelled around the check ("pg_read_file",
// pg_catalog.lo_export, [load_extension], /**/ between keywords). It runs when
// a definition is registered and again before each execution.
//
// Enforcement by the engines themselves backs the text check where they
// offer it: RestrictSQLite installs SQLite's authorizer for the duration of
// a node's statements. PostgreSQL has no authorizer a client can install
// (the database_query node prepares its statement, so the server runs
// exactly one, in a transaction whose settings are SET LOCAL); there, the
// role of the connection is the stronger defence: a role that is not a
// superuser and holds none of pg_read_server_files, pg_write_server_files
// and pg_execute_server_program cannot reach server files whatever the
// statement.
package sqlpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Dialect is an SQL dialect a statement is read in.
type Dialect string

// The dialects: the names of their database/sql drivers (modernc.org/sqlite
// and lib/pq).
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Dialects lists every dialect: a statement checked in all of them may run
// on whichever database a connection turns out to be.
func Dialects() []Dialect { return []Dialect{SQLite, Postgres} }

// DialectOf returns the dialect of a database/sql driver name.
func DialectOf(driverName string) (Dialect, bool) {
	switch d := Dialect(driverName); d {
	case SQLite, Postgres:
		return d, true
	}
	return "", false
}

func (d Dialect) String() string {
	if d == Postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// Refusal says why a statement may not run.
type Refusal struct {
	// Dialect is the dialect whose reading of the statement refused it.
	Dialect Dialect
	// Reason says what was refused and why, for the definition's author.
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// Check returns a *Refusal when stmt may not run as a database_query
// statement when read in any of dialects, nil when it may.
func Check(stmt string, dialects ...Dialect) error {
	for _, d := range dialects {
		toks, err := lex(d, stmt)
		if err != nil {
			return &Refusal{Dialect: d, Reason: fmt.Sprintf("%v (read as %s)", err, d)}
		}
		if reason := checkTokens(toks); reason != "" {
			return &Refusal{Dialect: d, Reason: reason}
		}
	}
	return nil
}

// allowedStatements are the keywords a statement may start with.
var allowedStatements = []string{"select", "insert", "update", "delete", "with", "values", "replace"}

const allowedSummary = "a database_query node runs one SELECT, INSERT, UPDATE, DELETE or VALUES statement, optionally after WITH"

// checkTokens applies the policy to a lexed statement; "" means allowed.
func checkTokens(toks []token) string {
	if len(toks) == 0 {
		return "the query holds no statement"
	}
	first := 0
	for first < len(toks) && toks[first].kind == punct && toks[first].text == "(" {
		first++
	}
	if first == len(toks) || toks[first].kind != word {
		return "the query must start with a keyword: " + allowedSummary
	}
	if kw := toks[first].text; !slices.Contains(allowedStatements, kw) {
		why := ""
		if r, ok := statementReasons[kw]; ok {
			why = " (" + r + ")"
		}
		return fmt.Sprintf("%s statements are not allowed%s: %s", strings.ToUpper(kw), why, allowedSummary)
	}
	for i, t := range toks {
		if t.kind == punct && t.text == ";" && i != len(toks)-1 {
			return fmt.Sprintf("only one statement is allowed: text follows the ';' at character %d", t.pos+1)
		}
	}
	for i, t := range toks {
		switch t.kind {
		case word:
			if t.text == "into" && !insertInto(toks[:i]) {
				return "SELECT … INTO is not allowed: it creates a table (" + allowedSummary + ")"
			}
			fallthrough
		case quotedName:
			if reason := RefusedName(t.text); reason != "" {
				return fmt.Sprintf("%s is not allowed: it %s", t.text, reason)
			}
		case literal:
			// Only SQLite's string literals carry their text (lex).
			if reason := RefusedName(t.text); t.text != "" && reason != "" {
				return fmt.Sprintf("'%s' is not allowed: it %s (SQLite reads a string where a table name belongs as that name)", t.text, reason)
			}
		}
	}
	return ""
}

// insertInto reports whether an INTO after before belongs to INSERT INTO,
// REPLACE INTO or INSERT OR <action> INTO.
func insertInto(before []token) bool {
	isWord := func(back int, words ...string) bool {
		i := len(before) - back
		return i >= 0 && before[i].kind == word && (len(words) == 0 || slices.Contains(words, before[i].text))
	}
	return isWord(1, "insert", "replace") || isWord(1) && isWord(2, "or") && isWord(3, "insert")
}

// statementReasons says why statements other than the allowed ones are
// refused, for the message; a keyword missing here is refused all the same.
var statementReasons = map[string]string{
	"attach":    "it opens another database file",
	"detach":    "it changes the databases attached to the connection",
	"vacuum":    "it rewrites the database file, and VACUUM INTO writes a copy of it anywhere",
	"pragma":    "it reads or changes settings of the connection and the database file",
	"copy":      "it reads or writes files on the database server or runs programs there",
	"load":      "it loads a shared library into the server",
	"set":       "it changes a setting that would stay on the pooled connection",
	"reset":     "it changes a setting that would stay on the pooled connection",
	"discard":   "it changes the state of the pooled connection",
	"do":        "it runs procedural code",
	"call":      "it runs a procedure",
	"listen":    "it subscribes the pooled connection to a notification channel",
	"unlisten":  "it changes the pooled connection's notification channels",
	"notify":    "it sends on a notification channel",
	"create":    "it changes the schema",
	"alter":     "it changes the schema",
	"drop":      "it changes the schema",
	"truncate":  "it empties tables wholesale",
	"grant":     "it changes privileges",
	"revoke":    "it changes privileges",
	"begin":     "the node manages transactions itself",
	"start":     "the node manages transactions itself",
	"commit":    "the node manages transactions itself",
	"end":       "the node manages transactions itself",
	"rollback":  "the node manages transactions itself",
	"abort":     "the node manages transactions itself",
	"savepoint": "the node manages transactions itself",
	"release":   "the node manages transactions itself",
	"prepare":   "it leaves a prepared statement or transaction behind",
	"execute":   "it runs a prepared statement",
	"declare":   "it opens a cursor",
}

// RefusedName returns why a function, table or view named name may not
// appear in a statement ("" when it may), whether it is written plainly,
// quoted or qualified by a schema. name is in lower case. The list covers
// both dialects: a name of one means nothing in the other.
func RefusedName(name string) string {
	if r, ok := refusedNames[name]; ok {
		return r
	}
	for _, p := range refusedPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.reason
		}
	}
	if strings.Contains(name, "_to_xml") {
		// query_to_xml, cursor_to_xml, table_to_xml, schema_to_xml,
		// database_to_xml and their xmlschema variants.
		return reasonSQLText
	}
	return ""
}

const (
	reasonServerFiles = "reads or writes files on the database server"
	reasonLargeObject = "reads or writes large objects, which lo_import and lo_export move to and from server files"
	reasonOtherDB     = "connects to another database"
	reasonSQLText     = "runs SQL given as text or dumps whole tables"
	reasonSession     = "changes session or server state that outlives the statement"
	reasonPrivileged  = "is reserved by PostgreSQL for privileged roles"
	reasonSecrets     = "holds the server's credentials or sampled column values"
	reasonNativeCode  = "loads native code into the database"
	reasonFilePages   = "reads or writes the database file's pages directly"
	reasonFileSystem  = "reads or writes files"
	reasonPragma      = "runs a PRAGMA"
)

// refusedNames are refused by exact name. The PostgreSQL entries include
// every function and relation of pg_catalog that PostgreSQL itself does not
// grant to PUBLIC (a test checks this against a live server).
var refusedNames = map[string]string{
	// SQLite
	"load_extension":   reasonNativeCode,
	"fts3_tokenizer":   reasonNativeCode,
	"sqlite_dbpage":    reasonFilePages,
	"sqlite_dbdata":    reasonFilePages,
	"sqlite_dbptr":     reasonFilePages,
	"dbstat":           reasonFilePages,
	"readfile":         reasonFileSystem,
	"writefile":        reasonFileSystem,
	"fsdir":            reasonFileSystem,
	"lsmode":           reasonFileSystem,
	"zipfile":          reasonFileSystem,
	"zipfile_cds":      reasonFileSystem,
	"sqlar_compress":   reasonFileSystem,
	"sqlar_uncompress": reasonFileSystem,

	// PostgreSQL: server files.
	"pg_stat_file":              reasonServerFiles,
	"pg_current_logfile":        reasonServerFiles,
	"pg_logdir_ls":              reasonServerFiles,
	"pg_show_all_file_settings": reasonServerFiles,
	"pg_file_settings":          reasonServerFiles,
	"pg_hba_file_rules":         reasonServerFiles,
	"pg_ident_file_mappings":    reasonServerFiles,
	"pg_config":                 reasonServerFiles,
	"lo_import":                 reasonServerFiles,
	"lo_export":                 reasonServerFiles,
	// PostgreSQL: large objects.
	"lo_open":                 reasonLargeObject,
	"lo_close":                reasonLargeObject,
	"loread":                  reasonLargeObject,
	"lowrite":                 reasonLargeObject,
	"lo_lseek":                reasonLargeObject,
	"lo_lseek64":              reasonLargeObject,
	"lo_tell":                 reasonLargeObject,
	"lo_tell64":               reasonLargeObject,
	"lo_truncate":             reasonLargeObject,
	"lo_truncate64":           reasonLargeObject,
	"lo_creat":                reasonLargeObject,
	"lo_create":               reasonLargeObject,
	"lo_unlink":               reasonLargeObject,
	"lo_get":                  reasonLargeObject,
	"lo_put":                  reasonLargeObject,
	"lo_from_bytea":           reasonLargeObject,
	"pg_largeobject":          reasonLargeObject,
	"pg_largeobject_metadata": reasonLargeObject,
	// PostgreSQL: SQL given as text.
	"ts_stat":    reasonSQLText,
	"ts_rewrite": reasonSQLText,
	// PostgreSQL's tablefunc extension.
	"connectby": reasonSQLText,
	// PostgreSQL: session and server state.
	"set_config":                          reasonSession,
	"pg_settings":                         reasonSession,
	"pg_notify":                           reasonSession,
	"pg_advisory_lock":                    reasonSession,
	"pg_advisory_lock_shared":             reasonSession,
	"pg_try_advisory_lock":                reasonSession,
	"pg_try_advisory_lock_shared":         reasonSession,
	"pg_advisory_unlock":                  reasonSession,
	"pg_advisory_unlock_shared":           reasonSession,
	"pg_advisory_unlock_all":              reasonSession,
	"pg_reload_conf":                      reasonSession,
	"pg_rotate_logfile":                   reasonSession,
	"pg_terminate_backend":                reasonSession,
	"pg_cancel_backend":                   reasonSession,
	"pg_promote":                          reasonSession,
	"pg_switch_wal":                       reasonSession,
	"pg_create_restore_point":             reasonSession,
	"pg_backup_start":                     reasonSession,
	"pg_backup_stop":                      reasonSession,
	"pg_start_backup":                     reasonSession,
	"pg_stop_backup":                      reasonSession,
	"pg_wal_replay_pause":                 reasonSession,
	"pg_wal_replay_resume":                reasonSession,
	"pg_log_backend_memory_contexts":      reasonSession,
	"pg_log_standby_snapshot":             reasonSession,
	"pg_import_system_collations":         reasonSession,
	"pg_create_physical_replication_slot": reasonSession,
	"pg_create_logical_replication_slot":  reasonSession,
	"pg_copy_physical_replication_slot":   reasonSession,
	"pg_copy_logical_replication_slot":    reasonSession,
	"pg_drop_replication_slot":            reasonSession,
	"pg_replication_slot_advance":         reasonSession,
	"pg_sync_replication_slots":           reasonSession,
	"pg_show_replication_origin_status":   reasonPrivileged,
	"pg_get_backend_memory_contexts":      reasonPrivileged,
	"pg_backend_memory_contexts":          reasonPrivileged,
	"pg_get_shmem_allocations":            reasonPrivileged,
	"pg_shmem_allocations":                reasonPrivileged,
	"pg_stat_have_stats":                  reasonPrivileged,
	// PostgreSQL: credentials and sampled values.
	"pg_authid":             reasonSecrets,
	"pg_shadow":             reasonSecrets,
	"pg_user_mapping":       reasonSecrets,
	"pg_user_mappings":      reasonSecrets,
	"pg_statistic":          reasonSecrets,
	"pg_statistic_ext_data": reasonSecrets,
	"pg_subscription":       reasonSecrets,
}

// refusedPrefixes are refused by the start of their name: families whose
// members differ between versions.
var refusedPrefixes = []struct{ prefix, reason string }{
	{"pragma_", reasonPragma},                   // SQLite: pragma_table_info(…) and the like
	{"pg_read_", reasonServerFiles},             // pg_read_file, pg_read_binary_file
	{"pg_ls_", reasonServerFiles},               // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, …
	{"pg_file_", reasonServerFiles},             // adminpack: pg_file_write, pg_file_unlink, …
	{"dblink", reasonOtherDB},                   // dblink, dblink_connect_u, dblink_exec, …
	{"crosstab", reasonSQLText},                 // tablefunc: crosstab, crosstab2, …
	{"pg_stat_reset", reasonSession},            // pg_stat_reset, pg_stat_reset_shared, …
	{"pg_replication_origin", reasonPrivileged}, // pg_replication_origin_create, …
	{"pg_logical_", reasonSession},              // pg_logical_emit_message, pg_logical_slot_get_changes, …
}
