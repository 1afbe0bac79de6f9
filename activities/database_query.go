package activities

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/internal/sqlpolicy"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeDatabaseQuery runs one SQL statement, fixed in the definition, on a
// named connection.
const TypeDatabaseQuery = "database_query"

// Error types of a database_query node (the Type of its
// temporal.ApplicationError, what `errors.<id>.type` reads in an edge
// condition). Cross-process contract: append only.
const (
	// ErrUniqueViolation: the statement broke a unique or primary key
	// constraint (the email is taken). Never retried.
	ErrUniqueViolation = "UniqueViolation"
	// ErrConstraintViolation: a check, foreign key, not-null or exclusion
	// constraint, or a trigger or row-security policy refusing the change.
	// Never retried.
	ErrConstraintViolation = "ConstraintViolation"
	// ErrInvalidData: the database refused a value (text where a number was
	// expected, a number out of range, several rows where one was
	// expected). Never retried.
	ErrInvalidData = "InvalidData"
	// ErrStatementTimeout: the statement outlived the node's timeout. Retried.
	ErrStatementTimeout = "StatementTimeout"
	// ErrDatabase: any other database failure (connection lost, deadlock,
	// serialization failure, database busy). Retried.
	ErrDatabase = "DatabaseError"
)

// CodeStatementNotAllowed is the registration problem of a query the
// statement policy refuses (package sqlpolicy): a statement other than one
// SELECT, INSERT, UPDATE, DELETE or VALUES, or one that names a function or
// table that reaches files, code, settings or other databases. Clients match
// on it: do not change it.
const CodeStatementNotAllowed = "statement_not_allowed"

// Query modes.
const (
	QueryModeOne  = "one"  // the first row, if any
	QueryModeMany = "many" // every row, up to maxRows
	QueryModeExec = "exec" // no rows: the number of rows affected
)

const (
	// DefaultQueryTimeout bounds a node's statements when its config has no
	// timeout.
	DefaultQueryTimeout = 10 * time.Second
	// DefaultMaxRows is how many rows a "many" query may return when its
	// config has no maxRows; more is an error, not a silent truncation.
	DefaultMaxRows = 1000
	// MaxRowsLimit bounds maxRows: rows are held in memory and recorded in
	// the workflow history.
	MaxRowsLimit = 10_000
	// MaxForEachItems bounds the statements one forEach node runs.
	MaxForEachItems = 1000
)

// DatabaseQueryConfig is the config of a database_query node.
//
//	{"connection": "app",
//	 "query": "UPDATE products SET stock = stock - :quantity WHERE id = :productId AND stock >= :quantity",
//	 "params": {"productId": "item.productId", "quantity": "item.quantity"},
//	 "mode": "exec", "forEach": "input.items", "expectRows": 1}
//
// The SQL text is fixed: values enter it only as bound parameters, never as
// text. Every :name in the query needs an expression in params and every
// param must be used; `::` is a Postgres cast, and colons inside string
// literals, quoted identifiers and comments are text. Positional markers (?
// and $1) are refused, so Postgres's jsonb ? operators must be written as
// functions (jsonb_exists). Lists and maps are bound as JSON text.
//
// The query must pass the statement policy (sqlpolicy.Check) read as SQLite
// and as PostgreSQL when the definition is registered, and in the
// connection's dialect before each execution.
type DatabaseQueryConfig struct {
	// Connection names a database from the worker's configuration ("app").
	Connection string `json:"connection"`
	// Query is one SQL statement with :name parameters.
	Query string `json:"query"`
	// Params maps each parameter name to a CEL expression.
	Params map[string]string `json:"params,omitempty"`
	// Mode is one, many or exec.
	Mode string `json:"mode"`
	// ForEach, a CEL list, runs the statement once per element (bound as
	// `item` for the params), all in one transaction. Optional.
	ForEach string `json:"forEach,omitempty"`
	// ExpectRows (exec only) is how many rows each statement must affect;
	// otherwise the transaction is rolled back and the output says
	// "applied": false. Optional.
	ExpectRows *int64 `json:"expectRows,omitempty"`
	// MaxRows (many only) caps the rows of a statement. Optional: default
	// DefaultMaxRows, at most MaxRowsLimit.
	MaxRows int `json:"maxRows,omitempty"`
	// Timeout bounds the node's statements together (a Go duration).
	// Optional: default DefaultQueryTimeout.
	Timeout string `json:"timeout,omitempty"`
}

// DatabaseNodes runs database_query nodes.
type DatabaseNodes struct {
	*Activities
	// Conns are the databases nodes may name in their config. lib/pq
	// ("postgres") and modernc.org/sqlite ("sqlite") handles are supported.
	Conns map[string]*sqlx.DB
}

// databaseQueryNode is the database_query node type. At registration a node
// that names a connection outside IOOptions.Databases is refused (nil
// Databases accepts any name), and its statement must pass the policy in
// every dialect: a connection's dialect is the worker's business. A node's
// output, by mode:
//
//	one:   {"found": bool, "row": {column: value} | null}
//	many:  {"rows": [{column: value}, ...], "count": n}
//	exec:  {"rowsAffected": n}, plus "applied": true with expectRows
//
// With forEach: {"results": [<the above, per element>], "count": n}, plus
// the total "rowsAffected" for exec and "applied": true with expectRows.
// When a statement does not affect expectRows rows, nothing is written and
// the output is {"applied": false, "failedIndex": i, "failedRowsAffected": m,
// "rowsAffected": 0}: running out of stock is an outcome, not an error.
//
// Values are JSON-friendly: text as strings, numerics as numbers, JSON
// columns decoded, timestamps as RFC 3339 strings in UTC, binary as base64.
func databaseQueryNode(d *DatabaseNodes) spec[DatabaseQueryConfig, compiledQuery] {
	return spec[DatabaseQueryConfig, compiledQuery]{Name: TypeDatabaseQuery, Kind: interpreter.KindIO,
		ConfigSchema: databaseQueryConfigSchema, Compile: compileDatabaseQuery, Run: d.databaseQuery}
}

func (d *DatabaseNodes) databaseQuery(ctx context.Context, node interpreter.Node, q compiledQuery, vars map[string]any) (any, string, error) {
	subject := fmt.Sprintf("node %q", node.ID)
	db := d.Conns[q.cfg.Connection]
	if db == nil {
		return nil, "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: connection %q is not configured on this worker", subject, q.cfg.Connection),
			interpreter.ErrConfiguration, nil)
	}
	dialect, ok := sqlpolicy.DialectOf(db.DriverName())
	if !ok {
		return nil, "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: connection %q uses the %s driver, which database_query does not support", subject, q.cfg.Connection, db.DriverName()),
			interpreter.ErrConfiguration, nil)
	}
	// Checked again in the connection's own dialect: the definition may
	// have been registered before a rule existed.
	if p := statementProblem(q.stmt.text, dialect); p != nil {
		return nil, "", configError(node, []interpreter.Problem{*p})
	}
	// Every argument is evaluated before the database is touched, so a
	// failing expression never holds a transaction open.
	argSets, err := d.queryArgs(ctx, q, vars, subject)
	if err != nil {
		return nil, "", err
	}
	qctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	out, err := q.run(qctx, db, dialect, argSets)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The activity itself was cancelled or timed out: the SDK reports it.
			return nil, "", ctxErr
		}
		// The driver's own text (it can quote the statement, addresses,
		// the database's wording) is for the log; the node's error says
		// what kind of failure it was.
		activity.GetLogger(ctx).Warn("database_query failed", "nodeId", node.ID, "error", err)
		return nil, "", q.classify(subject, err, qctx.Err() != nil)
	}
	return out, interpreter.OutcomeSuccess, nil
}

// compiledQuery is a checked database_query config.
type compiledQuery struct {
	cfg     DatabaseQueryConfig
	stmt    namedSQL
	timeout time.Duration
	maxRows int
}

// compileDatabaseQuery checks a database_query config, reporting every
// problem. At registration the connection must be one of the registration's
// databases (when it lists them) and the query must pass the statement
// policy in every dialect; at run time the node's connection decides both.
func compileDatabaseQuery(cfg DatabaseQueryConfig, c *compiling) compiledQuery {
	q := compiledQuery{cfg: cfg, timeout: DefaultQueryTimeout, maxRows: DefaultMaxRows}
	var connections []string
	var dialects []sqlpolicy.Dialect
	if c.registration != nil {
		connections, dialects = c.registration.Databases, sqlpolicy.Dialects()
	}

	switch {
	case strings.TrimSpace(cfg.Connection) == "":
		c.Add("connection", interpreter.CodeRequired, "connection is required (a configured database name such as app)")
	case connections != nil && !slices.Contains(connections, cfg.Connection):
		configured := strings.Join(connections, ", ")
		if configured == "" {
			configured = "none"
		}
		c.Add("connection", interpreter.CodeInvalidConfig, "unknown connection %q (configured: %s)", cfg.Connection, configured)
	}

	switch cfg.Mode {
	case QueryModeOne, QueryModeMany, QueryModeExec:
	case "":
		c.Add("mode", interpreter.CodeRequired, "mode is required: one, many or exec")
	default:
		c.Add("mode", interpreter.CodeInvalidConfig, "unknown mode %q: use one, many or exec", cfg.Mode)
	}

	parsed := false // the query's parameters are known
	if strings.TrimSpace(cfg.Query) == "" {
		c.Add("query", interpreter.CodeRequired, "query is required")
	} else if stmt, err := parseNamedSQL(cfg.Query); err != nil {
		c.Add("query", interpreter.CodeInvalidConfig, "%v", err)
	} else {
		q.stmt, parsed = stmt, true
		if p := statementProblem(stmt.text, dialects...); p != nil {
			c.Append(*p)
		}
		for _, name := range stmt.names {
			if _, ok := cfg.Params[name]; !ok {
				c.Add("query", interpreter.CodeInvalidConfig, "parameter :%s has no expression in params", name)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Params)) {
		path := "params." + name
		switch {
		case !problem.Name.Valid(name):
			c.Add(path, interpreter.CodeInvalidConfig, "%q is not a parameter name (%s)", name, problem.Name.Hint)
		case parsed && !slices.Contains(q.stmt.names, name):
			c.Add(path, interpreter.CodeInvalidConfig, "parameter %s is not used in the query (no :%s)", name, name)
		default:
			c.expression(path, cfg.Params[name])
		}
	}

	if cfg.ForEach != "" {
		c.expression("forEach", cfg.ForEach)
	}
	if cfg.ExpectRows != nil {
		if cfg.Mode != QueryModeExec {
			c.Add("expectRows", interpreter.CodeInvalidConfig, "expectRows applies to mode exec only")
		} else if *cfg.ExpectRows < 0 {
			c.Add("expectRows", interpreter.CodeInvalidConfig, "expectRows must be 0 or more")
		}
	}
	if cfg.MaxRows != 0 {
		switch {
		case cfg.Mode != QueryModeMany:
			c.Add("maxRows", interpreter.CodeInvalidConfig, "maxRows applies to mode many only")
		case cfg.MaxRows < 0 || cfg.MaxRows > MaxRowsLimit:
			c.Add("maxRows", interpreter.CodeInvalidConfig, "maxRows must be from 1 to %d", MaxRowsLimit)
		default:
			q.maxRows = cfg.MaxRows
		}
	}
	if d := c.Duration("timeout", cfg.Timeout); d > 0 {
		q.timeout = d
	}
	return q
}

// statementProblem is the problem of a statement (its text as the database
// receives it) the policy refuses in one of dialects, or nil.
func statementProblem(text string, dialects ...sqlpolicy.Dialect) *interpreter.Problem {
	if err := sqlpolicy.Check(text, dialects...); err != nil {
		return &interpreter.Problem{Path: "query", Code: CodeStatementNotAllowed, Message: err.Error()}
	}
	return nil
}

// queryArgs evaluates the arguments of each statement the node runs: one set,
// or one per forEach element.
func (d *DatabaseNodes) queryArgs(ctx context.Context, q compiledQuery, vars map[string]any, subject string) ([][]any, error) {
	if q.cfg.ForEach == "" {
		args, err := d.statementArgs(ctx, q, vars, subject)
		if err != nil {
			return nil, err
		}
		return [][]any{args}, nil
	}
	v, err := d.Expr.Eval(ctx, q.cfg.ForEach, vars)
	if err != nil {
		return nil, exprError(subject, "forEach", err)
	}
	items, ok := v.([]any)
	if !ok {
		return nil, exprError(subject, "forEach",
			&expr.EvalError{Expr: q.cfg.ForEach, Err: errors.New("the result is not a list")})
	}
	if len(items) > MaxForEachItems {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: forEach has %d elements; the limit is %d", subject, len(items), MaxForEachItems),
			interpreter.ErrPayloadTooBig, nil)
	}
	argSets := make([][]any, len(items))
	for i, item := range items {
		argSets[i], err = d.statementArgs(ctx, q, with(vars, expr.VarItem, item), fmt.Sprintf("%s, forEach element %d", subject, i))
		if err != nil {
			return nil, err
		}
	}
	return argSets, nil
}

// statementArgs evaluates the params in placeholder order ($1 first).
func (d *DatabaseNodes) statementArgs(ctx context.Context, q compiledQuery, vars map[string]any, subject string) ([]any, error) {
	args := make([]any, len(q.stmt.names))
	for i, name := range q.stmt.names {
		v, err := d.Expr.Eval(ctx, q.cfg.Params[name], vars)
		if err != nil {
			return nil, exprError(subject, "params."+name, err)
		}
		if args[i], err = bindValue(v); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s: params.%s: %v", subject, name, err), interpreter.ErrExpression, nil)
		}
	}
	return args, nil
}

// bindValue turns an expression's result into a driver argument.
func bindValue(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		// JSON numbers reach CEL as doubles; an integral one is almost always
		// an id or a quantity, and binding it as an integer keeps SQLite's
		// integer comparisons and Postgres's integer parsing happy.
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit a signed 64-bit integer", x)
		}
		return int64(x), nil
	case []any, map[string]any:
		// Lists and maps are bound as JSON text (json_each on SQLite,
		// ::jsonb on Postgres).
		data, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(data), nil
	}
	return v, nil
}

// run executes the statements on one connection of db, in dialect. On
// SQLite the connection is restricted meanwhile (sqlpolicy.RestrictSQLite):
// the engine itself refuses what the policy refuses, and a connection the
// statements changed is closed rather than reused by a later execution.
func (q compiledQuery) run(ctx context.Context, db *sqlx.DB, dialect sqlpolicy.Dialect, argSets [][]any) (any, error) {
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	if dialect == sqlpolicy.Postgres {
		return q.runOn(ctx, conn, true, argSets)
	}
	var out any
	err = sqlpolicy.RestrictSQLite(conn.Conn, func() error {
		var err error
		out, err = q.runOn(ctx, conn, false, argSets)
		return err
	})
	return out, err
}

// runOn executes the statements on conn, in one transaction when they must
// stand or fall together, and always on Postgres, where the transaction
// scopes the node's settings.
func (q compiledQuery) runOn(ctx context.Context, conn *sqlx.Conn, postgres bool, argSets [][]any) (any, error) {
	if !postgres && q.cfg.ForEach == "" && q.cfg.ExpectRows == nil {
		res, _, err := q.statement(ctx, textStatement{conn, q.stmt.text}, argSets[0])
		return res, err
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op once committed
	var stmt statementRunner = textStatement{tx, q.stmt.text}
	if postgres {
		// SET LOCAL ends with the transaction, so nothing stays on the
		// pooled connection. statement_timeout: the server cancels a
		// statement itself even if the client's cancellation (the context)
		// is lost; the value is our integer, not input (SET takes no bound
		// parameters). standard_conforming_strings: a backslash in '…' is
		// text, as the statement policy read it, whatever the server's
		// default.
		settings := fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL standard_conforming_strings = on", max(q.timeout.Milliseconds(), 1))
		if _, err := tx.ExecContext(ctx, settings); err != nil {
			return nil, err
		}
		// A prepared statement is exactly one statement at the server,
		// whatever its text: lib/pq sends a statement without parameters in
		// the simple query protocol, which would run each of several.
		prepared, err := tx.PreparexContext(ctx, q.stmt.text)
		if err != nil {
			return nil, err
		}
		defer func() { _ = prepared.Close() }()
		stmt = prepared
	}
	results := make([]map[string]any, 0, len(argSets))
	var total int64
	for i, args := range argSets {
		res, affected, err := q.statement(ctx, stmt, args)
		if err != nil {
			return nil, err
		}
		if q.cfg.ExpectRows != nil && affected != *q.cfg.ExpectRows {
			if err := tx.Rollback(); err != nil {
				return nil, err
			}
			return map[string]any{"applied": false, "failedIndex": i, "failedRowsAffected": affected, "rowsAffected": 0}, nil
		}
		results = append(results, res)
		total += affected
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	var out map[string]any
	if q.cfg.ForEach == "" {
		out = results[0]
	} else {
		out = map[string]any{"results": results, "count": len(results)}
		if q.cfg.Mode == QueryModeExec {
			out["rowsAffected"] = total
		}
	}
	if q.cfg.ExpectRows != nil {
		out["applied"] = true
	}
	return out, nil
}

// statementRunner runs the node's statement with arguments: a prepared
// statement (*sqlx.Stmt) or a textStatement.
type statementRunner interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryxContext(ctx context.Context, args ...any) (*sqlx.Rows, error)
}

// textStatement runs text on a connection or transaction.
type textStatement struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error)
	}
	text string
}

func (s textStatement) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.text, args...)
}

func (s textStatement) QueryxContext(ctx context.Context, args ...any) (*sqlx.Rows, error) {
	return s.db.QueryxContext(ctx, s.text, args...)
}

// statement runs the statement once and returns its output and, for exec,
// the number of rows it affected.
func (q compiledQuery) statement(ctx context.Context, stmt statementRunner, args []any) (map[string]any, int64, error) {
	if q.cfg.Mode == QueryModeExec {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return nil, 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, 0, err
		}
		return map[string]any{"rowsAffected": n}, n, nil
	}
	limit := q.maxRows
	if q.cfg.Mode == QueryModeOne {
		limit = 1
	}
	rows, err := queryRows(ctx, stmt, args, limit)
	if err != nil {
		return nil, 0, err
	}
	if q.cfg.Mode == QueryModeOne {
		if len(rows) == 0 {
			return map[string]any{"found": false, "row": nil}, 0, nil
		}
		return map[string]any{"found": true, "row": rows[0]}, 0, nil
	}
	return map[string]any{"rows": rows, "count": len(rows)}, 0, nil
}

// errTooManyRows is returned by queryRows when a many query has more rows
// than its maxRows.
var errTooManyRows = errors.New("too many rows")

// queryRows reads up to limit rows as JSON-friendly maps. With limit 1 (mode
// one) further rows are ignored; otherwise one more row is errTooManyRows.
func queryRows(ctx context.Context, stmt statementRunner, args []any, limit int) ([]map[string]any, error) {
	rows, err := stmt.QueryxContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	for i, col := range cols {
		if slices.ContainsFunc(cols[:i], func(c *sql.ColumnType) bool { return c.Name() == col.Name() }) {
			return nil, fmt.Errorf("%w: column %q appears twice (give one an alias)", errDuplicateColumn, col.Name())
		}
	}
	out := []map[string]any{}
	for rows.Next() {
		if len(out) == limit {
			if limit == 1 {
				break
			}
			return nil, errTooManyRows
		}
		values, err := rows.SliceScan()
		if err != nil {
			return nil, err
		}
		row := make(map[string]any, len(cols))
		for i, col := range cols {
			row[col.Name()] = columnValue(values[i], col.DatabaseTypeName())
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// errDuplicateColumn: a row cannot be an object if two columns share a name.
var errDuplicateColumn = errors.New("duplicate column")

// columnValue makes a scanned value JSON-friendly. dbType is the driver's
// name for the column's type ("" when it has none, as for an expression in
// SQLite).
func columnValue(v any, dbType string) any {
	dbType, _, _ = strings.Cut(strings.ToUpper(dbType), "(")
	switch x := v.(type) {
	case []byte:
		if dbType == "BYTEA" || dbType == "BLOB" {
			return x // binary: base64 in JSON
		}
		return textValue(string(x), dbType)
	case string:
		return textValue(x, dbType)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64) // JSON has no NaN
		}
	}
	return v
}

// textValue decodes the text of JSON and decimal columns (lib/pq returns both
// as text) so the output carries the value rather than its spelling.
func textValue(s, dbType string) any {
	switch dbType {
	case "JSON", "JSONB":
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			return v
		}
	case "NUMERIC", "DECIMAL":
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return s
}

// classify turns a failed statement into the error the retry policy and the
// node's error edges see. timedOut says the node's own deadline passed.
//
// Messages name the SQLSTATE, the constraint, the table and the column, never
// the values: parameters can be passwords or hashes, and the servers' own
// texts for data errors quote the offending value.
func (q compiledQuery) classify(subject string, err error, timedOut bool) error {
	var (
		pqErr *pq.Error
		sqErr *sqlite.Error
	)
	switch {
	case errors.Is(err, errTooManyRows):
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the query returned more than %d rows (maxRows); narrow it, add a LIMIT or raise maxRows", subject, q.maxRows),
			interpreter.ErrPayloadTooBig, nil)
	case errors.Is(err, errDuplicateColumn):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", subject, err), interpreter.ErrConfiguration, nil)
	case sqlpolicy.IsSQLiteRefusal(err), errors.Is(err, sqlpolicy.ErrConnectionChanged):
		// What the statement policy would have refused, stopped by the
		// engine: a definition error, never retried.
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the statement was refused: %v (a database_query node runs one SELECT, INSERT, UPDATE, DELETE or VALUES statement, on the rows of its connection's database)", subject, err),
			interpreter.ErrConfiguration, nil)
	case errors.Is(err, sqlpolicy.ErrCannotRestrict):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", subject, err), interpreter.ErrConfiguration, nil)
	case timedOut:
		return statementTimeout(subject, q.timeout)
	case errors.As(err, &pqErr):
		return classifyPostgres(subject, pqErr, q.timeout)
	case errors.As(err, &sqErr):
		return classifySQLite(subject, sqErr, q.timeout)
	}
	// Connection failures and the like: their texts name addresses.
	return temporal.NewApplicationError(fmt.Sprintf("%s: the database failed or could not be reached (retried; the worker's log has the details)", subject), ErrDatabase)
}

func statementTimeout(subject string, timeout time.Duration) error {
	return temporal.NewApplicationError(fmt.Sprintf("%s: the statement did not finish within %s", subject, timeout), ErrStatementTimeout)
}

func classifyPostgres(subject string, e *pq.Error, timeout time.Duration) error {
	// e.g. node "create_user": unique_violation (SQLSTATE 23505; constraint "users_email_key", table "users")
	where := []string{"SQLSTATE " + string(e.Code)}
	for _, f := range [][2]string{{"constraint", e.Constraint}, {"table", e.Table}, {"column", e.Column}} {
		if f[1] != "" {
			where = append(where, fmt.Sprintf("%s %q", f[0], f[1]))
		}
	}
	msg := fmt.Sprintf("%s: %s (%s)", subject, e.Code.Name(), strings.Join(where, "; "))
	switch class := e.Code.Class(); {
	case e.Code == pqerror.UniqueViolation:
		return temporal.NewNonRetryableApplicationError(msg, ErrUniqueViolation, nil)
	case class == pqerror.ClassIntegrityConstraintViolation, class == pqerror.ClassWithCheckOptionViolation,
		class == pqerror.ClassTriggeredDataChangeViolation, class == pqerror.ClassPLpgSQLError:
		// Triggers and row security refuse changes as constraints do.
		return temporal.NewNonRetryableApplicationError(msg, ErrConstraintViolation, nil)
	case class == pqerror.ClassDataException, class == pqerror.ClassCardinalityViolation:
		return temporal.NewNonRetryableApplicationError(msg, ErrInvalidData, nil)
	case e.Code == pqerror.QueryCanceled:
		return statementTimeout(subject, timeout)
	case class == pqerror.ClassSyntaxErrorOrAccessRuleViolation, class == pqerror.ClassFeatureNotSupported:
		// These messages quote the statement's own text (identifiers,
		// tokens), which the definition's author needs.
		return temporal.NewNonRetryableApplicationError(msg+": "+e.Message, interpreter.ErrConfiguration, nil)
	}
	return temporal.NewApplicationError(msg, ErrDatabase)
}

func classifySQLite(subject string, e *sqlite.Error, timeout time.Duration) error {
	// SQLite's constraint messages name columns and constraint
	// expressions, not values ("UNIQUE constraint failed: users.email");
	// its other messages are library wording ("SQL logic error: near
	// \"SELEC\": syntax error (1)"), kept for the worker's log.
	msg := fmt.Sprintf("%s: %s", subject, sqliteReason(e))
	switch code := e.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return temporal.NewNonRetryableApplicationError(msg, ErrUniqueViolation, nil)
	case code&0xff == sqlite3.SQLITE_CONSTRAINT:
		return temporal.NewNonRetryableApplicationError(msg, ErrConstraintViolation, nil)
	case code&0xff == sqlite3.SQLITE_MISMATCH, code&0xff == sqlite3.SQLITE_TOOBIG:
		return temporal.NewNonRetryableApplicationError(msg, ErrInvalidData, nil)
	case code&0xff == sqlite3.SQLITE_INTERRUPT:
		return statementTimeout(subject, timeout)
	case code&0xff == sqlite3.SQLITE_ERROR, code&0xff == sqlite3.SQLITE_RANGE:
		// A syntax error, an unknown table or column, a bad parameter.
		// The statement's own text ("no such table: nope"), without the
		// library's "SQL logic error" wording.
		return temporal.NewNonRetryableApplicationError(subject+": the database rejected the statement: "+sqliteReason(e),
			interpreter.ErrConfiguration, nil)
	}
	return temporal.NewApplicationError(subject+": the database failed (retried; the worker's log has the details)", ErrDatabase)
}

// sqliteReason is what SQLite says about the statement, without the
// library's wording around it: "SQL logic error: no such table: nope (1)"
// becomes "no such table: nope", "constraint failed: UNIQUE constraint
// failed: users.email (2067)" becomes "UNIQUE constraint failed: users.email".
func sqliteReason(e *sqlite.Error) string {
	text := e.Error()
	if i := strings.LastIndex(text, " ("); i > 0 && strings.HasSuffix(text, ")") {
		text = text[:i]
	}
	for _, prefix := range []string{"SQL logic error: ", "constraint failed: ", "datatype mismatch: ", "string or blob too big: "} {
		text = strings.TrimPrefix(text, prefix)
	}
	return text
}

// namedSQL is a statement whose :name parameters became $1, $2, ...
type namedSQL struct {
	text  string
	names []string // names[i] is bound to $(i+1)
}

// parseNamedSQL rewrites the :name parameters of one SQL statement as $n
// placeholders, one number per distinct name in order of first use. lib/pq
// and modernc.org/sqlite both bind $n by position, so the same text serves
// both dialects; sqlx's named queries would turn a Postgres cast (::) into a
// colon, and its Rebind would rewrite a ? inside a string literal.
//
// String literals ('…', E'…', $tag$…$tag$), quoted identifiers ("…", `…`)
// and comments are copied as they are. Refused: positional markers (? and
// $1, which would take the generated numbers' values), SQLite's $name and
// anything but blanks and comments after a ';' (one statement per node).
func parseNamedSQL(query string) (namedSQL, error) {
	var (
		b     strings.Builder
		names []string
		ended bool // a ';' was seen
	)
	b.Grow(len(query))
	for i := 0; i < len(query); {
		c := query[i]
		comment := strings.HasPrefix(query[i:], "--") || strings.HasPrefix(query[i:], "/*")
		if ended && !comment && !isSQLSpace(c) {
			return namedSQL{}, fmt.Errorf("only one statement is allowed: text follows the ';' at character %d", i+1)
		}
		end := i + 1
		switch {
		case c == '\'' || c == '"' || c == '`':
			// E'…' strings take backslash escapes.
			escapes := c == '\'' && i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i < 2 || !isIdentByte(query[i-2]))
			var err error
			if end, err = skipQuoted(query, i, escapes); err != nil {
				return namedSQL{}, err
			}
		case strings.HasPrefix(query[i:], "--"):
			end = len(query)
			if nl := strings.IndexByte(query[i:], '\n'); nl >= 0 {
				end = i + nl + 1
			}
		case strings.HasPrefix(query[i:], "/*"):
			close := strings.Index(query[i+2:], "*/")
			if close < 0 {
				return namedSQL{}, fmt.Errorf("unterminated comment starting at character %d", i+1)
			}
			end = i + 2 + close + 2
		case c == '$' && (i == 0 || !isIdentByte(query[i-1])):
			tag, ok := dollarTag(query, i)
			switch {
			case ok:
				close := strings.Index(query[i+len(tag):], tag)
				if close < 0 {
					return namedSQL{}, fmt.Errorf("unterminated %s-quoted string starting at character %d", tag, i+1)
				}
				end = i + len(tag) + close + len(tag)
			case i+1 < len(query) && isDigit(query[i+1]):
				return namedSQL{}, fmt.Errorf("positional parameter at character %d: use named parameters such as :email", i+1)
			case i+1 < len(query) && isNameStart(query[i+1]):
				return namedSQL{}, fmt.Errorf("$name parameter at character %d: write it :name", i+1)
			}
		case c == '?':
			return namedSQL{}, fmt.Errorf("positional parameter ? at character %d: use named parameters such as :email", i+1)
		case c == ':' && i+1 < len(query) && query[i+1] == ':':
			end = i + 2 // a Postgres cast
		case c == ':' && i+1 < len(query) && isNameStart(query[i+1]):
			end = i + 2
			for end < len(query) && isIdentByte(query[end]) && query[end] < 0x80 {
				end++
			}
			name := query[i+1 : end]
			n := slices.Index(names, name)
			if n < 0 {
				names = append(names, name)
				n = len(names) - 1
			}
			b.WriteString("$" + strconv.Itoa(n+1))
			i = end
			continue
		case c == ';':
			ended = true
		}
		b.WriteString(query[i:end])
		i = end
	}
	return namedSQL{text: b.String(), names: names}, nil
}

// skipQuoted returns the index just after the quoted text that starts at
// query[i]; a doubled quote character stands for itself.
func skipQuoted(query string, i int, backslashEscapes bool) (int, error) {
	quote := query[i]
	for j := i + 1; j < len(query); j++ {
		switch {
		case backslashEscapes && query[j] == '\\':
			j++
		case query[j] == quote:
			if j+1 < len(query) && query[j+1] == quote {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %c-quoted text starting at character %d", quote, i+1)
}

// dollarTag returns the delimiter ($$ or $tag$) of the Postgres dollar-quoted
// string that starts at query[i], if one does.
func dollarTag(query string, i int) (string, bool) {
	j := i + 1
	if j < len(query) && isDigit(query[j]) {
		return "", false // $1
	}
	for j < len(query) && isIdentByte(query[j]) {
		j++
	}
	if j < len(query) && query[j] == '$' {
		return query[i : j+1], true
	}
	return "", false
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool { return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// isIdentByte reports whether c can continue an SQL identifier (bytes of
// non-ASCII letters included).
func isIdentByte(c byte) bool { return isNameStart(c) || isDigit(c) || c >= 0x80 }

func isSQLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// databaseQueryConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const databaseQueryConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["connection", "query", "mode"],
	"properties": {
		"connection": {"type": "string", "minLength": 1, "description": "A database the workers know, e.g. app"},
		"query": {"type": "string", "minLength": 1, "description": "One SQL statement with :name parameters"},
		"params": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}},
		"mode": {"enum": ["one", "many", "exec"]},
		"forEach": {"type": "string", "description": "CEL list: one statement per element (item), in one transaction"},
		"expectRows": {"type": "integer", "minimum": 0, "description": "exec only"},
		"maxRows": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "many only"},
		"timeout": {"type": "string", "description": "Go duration"}
	}
}`
