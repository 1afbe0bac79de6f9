package sqlpolicy

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrConnectionChanged is returned by RestrictSQLite when the statements
// left the connection changed (a transaction open, a database attached);
// the connection was closed instead of going back to the pool.
var ErrConnectionChanged = errors.New("the statement left the connection changed (an open transaction or an attached database); the connection was closed")

// ErrCannotRestrict is returned by RestrictSQLite when it cannot install its
// restrictions on a connection (not a modernc.org/sqlite one, or a driver
// version it does not know): fn did not run.
var ErrCannotRestrict = errors.New("cannot restrict the SQLite connection")

// maxValueLength bounds every string or blob a node's statement makes
// (SQLITE_LIMIT_LENGTH, normally 1 GB): `SELECT randomblob(1e9)` would
// otherwise make the worker hold a gigabyte before the node's output limit
// looks at it.
const maxValueLength = 16 << 20

// RestrictSQLite runs fn, which runs a node's statements on conn (a
// modernc.org/sqlite connection), with SQLite's authorizer refusing what
// Check refuses, as the engine sees it while it prepares each statement:
// ATTACH and DETACH, PRAGMA, every schema change (temporary objects and
// virtual tables included), savepoints, writes to SQLite's own tables and
// the functions and tables RefusedName names. The number of databases the
// connection may attach is 0 meanwhile, so VACUUM, which attaches its
// target, fails too, and no string or blob may pass maxValueLength.
//
// Afterwards the restrictions are lifted (the connection comes from the
// application's pool, whose own code uses PRAGMAs and DDL) and the
// connection is checked: if fn left a transaction open or a database
// attached, the connection is closed rather than returned to the pool, and
// ErrConnectionChanged is returned unless fn failed.
//
// A refused statement fails with an error IsSQLiteRefusal recognises.
func RestrictSQLite(conn *sql.Conn, fn func() error) error {
	var limit, length int32
	err := conn.Raw(func(dc any) error {
		db, err := sqliteHandle(dc)
		if err != nil {
			return err
		}
		tls := libc.NewTLS()
		defer tls.Close()
		limit = sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_ATTACHED, 0)
		length = sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_LENGTH, maxValueLength)
		if rc := sqlite3.Xsqlite3_set_authorizer(tls, db, authorizerPointer(), 0); rc != sqlite3.SQLITE_OK {
			sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_ATTACHED, limit)
			sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_LENGTH, length)
			return fmt.Errorf("sqlite3_set_authorizer: code %d", rc)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRestrict, err)
	}
	runErr := fn()
	changed := false
	err = conn.Raw(func(dc any) error {
		db, err := sqliteHandle(dc)
		if err != nil {
			return err
		}
		tls := libc.NewTLS()
		defer tls.Close()
		sqlite3.Xsqlite3_set_authorizer(tls, db, 0, 0)
		sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_ATTACHED, limit)
		sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_LENGTH, length)
		// Schema 0 is main and 1 is temp: a third is an attached database.
		if sqlite3.Xsqlite3_get_autocommit(tls, db) == 0 || sqlite3.Xsqlite3_db_name(tls, db, 2) != 0 {
			changed = true
			// database/sql closes a connection whose use ends in ErrBadConn.
			return driver.ErrBadConn
		}
		return nil
	})
	switch {
	case runErr != nil:
		return runErr
	case changed:
		return ErrConnectionChanged
	case err != nil:
		return fmt.Errorf("lifting the SQLite connection's restrictions: %w", err)
	}
	return nil
}

// IsSQLiteRefusal reports whether err is SQLite refusing a statement under
// RestrictSQLite: its authorizer's "not authorized" (code SQLITE_AUTH, or
// SQLITE_ERROR for a function) or the attach limit.
func IsSQLiteRefusal(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	msg := e.Error()
	return e.Code()&0xff == sqlite3.SQLITE_AUTH ||
		strings.Contains(msg, "not authorized") || strings.Contains(msg, "too many attached databases")
}

// sqliteHandle returns the sqlite3* handle of a modernc.org/sqlite driver
// connection. The driver offers sqlite3_limit (sqlite.Limit) but not
// sqlite3_set_authorizer, and keeps the handle in its connection's
// unexported db field; reading it is the only way to install an
// authorizer. Should a later version of the driver rename the field, this
// fails and so does every node statement on SQLite, rather than running
// unrestricted (and the tests say so).
func sqliteHandle(dc any) (uintptr, error) {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || v.Type().Elem().PkgPath() != "modernc.org/sqlite" {
		return 0, fmt.Errorf("not a modernc.org/sqlite connection: %T", dc)
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || f.Uint() == 0 {
		return 0, fmt.Errorf("the %T connection has no sqlite3 handle in a db field", dc)
	}
	return uintptr(f.Uint()), nil
}

// authorizerPointer returns authorize as the C function pointer SQLite
// calls. modernc.org/sqlite's transpiled C represents a function pointer as
// the address of a Go func value; a top-level function's value is static,
// so the address stays valid for the life of the process.
func authorizerPointer() uintptr {
	f := authorize
	return *(*uintptr)(unsafe.Pointer(&f))
}

// authorize is the sqlite3_set_authorizer callback (xAuth): it answers
// SQLITE_OK or SQLITE_DENY for each action a statement being prepared
// would take. Actions not named here are denied, so an action a later
// SQLite adds is refused until someone decides otherwise.
func authorize(tls *libc.TLS, _ uintptr, action int32, arg1, arg2, _, _ uintptr) int32 {
	switch action {
	case sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE:
		return sqlite3.SQLITE_OK
	case sqlite3.SQLITE_TRANSACTION:
		// The node's own BEGIN, COMMIT and ROLLBACK. A statement of the
		// node that opens a transaction is refused by Check, and caught by
		// RestrictSQLite's check of the connection afterwards.
		return sqlite3.SQLITE_OK
	case sqlite3.SQLITE_READ:
		// arg1 is the table (a virtual one included), arg2 the column ("" when
		// none is read, as for count(*)).
		if RefusedName(strings.ToLower(libc.GoString(arg1))) != "" {
			return sqlite3.SQLITE_DENY
		}
		return sqlite3.SQLITE_OK
	case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
		table := strings.ToLower(libc.GoString(arg1))
		if strings.HasPrefix(table, "sqlite_") || RefusedName(table) != "" {
			return sqlite3.SQLITE_DENY
		}
		return sqlite3.SQLITE_OK
	case sqlite3.SQLITE_FUNCTION:
		// arg2 is the function's name.
		if RefusedName(strings.ToLower(libc.GoString(arg2))) != "" {
			return sqlite3.SQLITE_DENY
		}
		return sqlite3.SQLITE_OK
	}
	// ATTACH, DETACH, PRAGMA, SAVEPOINT, ANALYZE, REINDEX, ALTER TABLE and
	// every CREATE and DROP, temporary and virtual ones included.
	return sqlite3.SQLITE_DENY
}
