// Package store keeps the application's own data (graph definitions) in
// SQLite, the embedded default, or Postgres, through one sqlx handle.
//
// Open picks the driver from the URL, applies the embedded goose migrations
// for that dialect and returns a Store. Errors returned by Store methods wrap
// driver errors for logging; callers must map them (ErrNotFound, ErrConflict,
// anything else is internal) and never show their text to users.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names (Store.dialect).
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// sqlitePragmas are added to every SQLite DSN unless the caller's URL sets the
// same pragma: WAL lets readers run beside the single writer, busy_timeout
// makes concurrent writers wait instead of failing with SQLITE_BUSY, and
// synchronous=normal is durable under WAL (only the last transactions can be
// lost on power failure, never corrupted) and much faster than full.
func sqlitePragmas() [][2]string {
	return [][2]string{
		{"journal_mode", "WAL"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
		{"synchronous", "NORMAL"},
	}
}

//go:embed migrations
var migrations embed.FS

// Store is the application database. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect string
}

// Open connects to the database named by dsn and migrates it to the latest
// schema.
//
// A dsn starting with postgres:// or postgresql:// uses Postgres (lib/pq; any
// connection parameter lib/pq accepts, such as sslmode or search_path, may be
// given as a query parameter). Anything else is an SQLite database file: an
// "sqlite://path", "sqlite:path", "file:path" or a plain path, optionally with
// query parameters for modernc.org/sqlite. The parent directory of an SQLite
// file is created if it is missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("store: empty database URL")
	}
	var (
		s   *Store
		err error
	)
	if isPostgres(dsn) {
		s, err = openPostgres(ctx, dsn)
	} else {
		s, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func isPostgres(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	return &Store{db: db, dialect: dialectPostgres}, nil
}

func openSQLite(ctx context.Context, dsn string) (*Store, error) {
	path, query, memory, err := sqliteDSN(dsn)
	if err != nil {
		return nil, err
	}
	if !memory {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("store: create database directory: %w", err)
			}
		}
	}
	db, err := sqlx.Open("sqlite", "file:"+path+"?"+query)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	if memory {
		// Every connection to ":memory:" is a separate database: keep one.
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return &Store{db: db, dialect: dialectSQLite}, nil
}

// sqliteDSN splits an SQLite URL into the file path and the query string to
// give modernc.org/sqlite, with the default pragmas added.
func sqliteDSN(dsn string) (path, query string, memory bool, err error) {
	rest := dsn
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if len(rest) >= len(prefix) && strings.EqualFold(rest[:len(prefix)], prefix) {
			rest = rest[len(prefix):]
			break
		}
	}
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", "", false, fmt.Errorf("store: no file path in SQLite URL %q", dsn)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", "", false, fmt.Errorf("store: bad query in SQLite URL: %w", err)
	}
	set := map[string]bool{}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(p, "(")
		name, _, _ = strings.Cut(name, "=")
		set[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for _, p := range sqlitePragmas() {
		if !set[p[0]] {
			q.Add("_pragma", p[0]+"("+p[1]+")")
		}
	}
	if q.Get("_time_format") == "" {
		q.Set("_time_format", "sqlite")
	}
	if q.Get("_txlock") == "" {
		// Take the write lock when a transaction begins, so two writers
		// never deadlock upgrading read locks (busy_timeout then applies).
		q.Set("_txlock", "immediate")
	}
	memory = path == ":memory:" || q.Get("mode") == "memory"
	return path, q.Encode(), memory, nil
}

// migrate applies the embedded migrations of the store's dialect.
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return fmt.Errorf("store: migrations for %s: %w", s.dialect, err)
	}
	gooseDialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == dialectPostgres {
		gooseDialect = goose.DialectPostgres
		// Replicas starting together take turns. The lock id is derived from
		// the current schema so that separate schemas (tests, tenants) do not
		// wait on each other.
		var schema string
		if err := s.db.GetContext(ctx, &schema, "SELECT current_schema()"); err != nil {
			return fmt.Errorf("store: read current schema: %w", err)
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte("workflow-backend/store:" + schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 120),
		)
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// SQLite has no session lock that goose can hold while it migrates on
	// the same connection. Each migration runs in its own transaction
	// (DDL is transactional in SQLite), so when two processes open a new file
	// together the loser's transaction fails and rolls back; running Up again
	// then finds the migration applied. A few attempts cover that race.
	attempts := 1
	if s.dialect == dialectSQLite {
		attempts = 5
	}
	for attempt := 1; ; attempt++ {
		err = s.migrateOnce(ctx, gooseDialect, fsys, opts)
		if err == nil || attempt == attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

func (s *Store) migrateOnce(ctx context.Context, dialect goose.Dialect, fsys fs.FS, opts []goose.ProviderOption) error {
	// The provider is not closed: Provider.Close would close s.db.
	p, err := goose.NewProvider(dialect, s.db.DB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.dialect, err)
	}
	return nil
}

// DB returns the underlying handle, for packages that keep their own tables
// in the same database (use Rebind for placeholders).
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping checks that the database answers (for readiness checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// ServerFileAccess reports whether the database role the store connects as
// can reach the database server's files and programs: a PostgreSQL
// superuser, or a member of pg_read_server_files, pg_write_server_files or
// pg_execute_server_program. database_query nodes run as this role, so the
// process warns about such a role at start-up. Always false on SQLite, whose
// node statements the engine's authorizer restricts.
func (s *Store) ServerFileAccess(ctx context.Context) (bool, error) {
	if s.dialect != dialectPostgres {
		return false, nil
	}
	var access bool
	err := s.db.GetContext(ctx, &access, `SELECT rolsuper
		OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')
		OR pg_has_role(current_user, 'pg_write_server_files', 'MEMBER')
		OR pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER')
		FROM pg_roles WHERE rolname = current_user`)
	if err != nil {
		return false, fmt.Errorf("store: read the role's privileges: %w", err)
	}
	return access, nil
}

// Close closes the database handle.
func (s *Store) Close() error {
	return s.db.Close()
}
