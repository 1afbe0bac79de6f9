package devserver

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"strings"

	"go.temporal.io/server/common/config"
	serverlog "go.temporal.io/server/common/log"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// Schemas of the server's Postgres plugin, as the server module embeds
// them (go.temporal.io/server/schema): the versioned upgrades under
// <name>/versioned are what `temporal-sql-tool update-schema` applies.
const (
	postgresSchema           = "postgresql/v12/temporal"
	postgresVisibilitySchema = "postgresql/v12/visibility"
	// postgresShards is the history shard count of a Postgres-backed
	// server. It is fixed when the database is first used: a server started
	// later with another count refuses to run. Four shards let four
	// workflow-task and timer streams go through the database side by side
	// (SQLite's one connection gains nothing from more than one); more
	// shards cost more idle queue polling on two cores.
	postgresShards = 4
)

// postgresStores returns the persistence configs of the default and
// visibility stores in Postgres at rawURL
// ("postgres://user:password@host:5432/temporal?sslmode=disable"): the
// database the URL names, and the same name with "_visibility" for the
// visibility store, as Temporal's own docker-compose setup splits them.
// Both databases are created if missing and their schemas set up and
// upgraded to this server's version with the server's own schema tool
// (temporal-sql-tool's setup-schema -v 0.0 and update-schema), so a
// database from an older server version is upgraded in place, and a start
// on an up-to-date one changes nothing.
func postgresStores(rawURL string, logger serverlog.Logger) (defaultStore, visibilityStore *config.SQL, err error) {
	base, err := parsePostgresURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	visibility := *base
	visibility.DatabaseName = base.DatabaseName + "_visibility"
	visibility.ConnectAttributes = maps.Clone(base.ConnectAttributes)
	for _, s := range []struct {
		store  *config.SQL
		schema string
	}{{base, postgresSchema}, {&visibility, postgresVisibilitySchema}} {
		if err := setUpPostgres(s.store, s.schema, logger); err != nil {
			return nil, nil, fmt.Errorf("devserver: Postgres database %s: %w", s.store.DatabaseName, err)
		}
	}
	return base, &visibility, nil
}

// parsePostgresURL turns a postgres:// URL into the plugin's config.
func parsePostgresURL(rawURL string) (*config.SQL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("devserver: the Temporal database URL must look like postgres://user:password@host:5432/temporal (got %s)", redact(rawURL))
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		name = "temporal"
	}
	if strings.ContainsAny(name, "/\"'; ") {
		return nil, fmt.Errorf("devserver: database name %q in the Temporal database URL", name)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	c := &config.SQL{
		PluginName:      postgresplugin.PluginName,
		DatabaseName:    name,
		ConnectAddr:     net.JoinHostPort(host, port),
		ConnectProtocol: "tcp",
		User:            u.User.Username(),
		// The server's connection pool per store; its default (no limit
		// on open, 2 idle) opens and closes connections under load.
		MaxConns:          20,
		MaxIdleConns:      20,
		ConnectAttributes: map[string]string{},
	}
	if pw, ok := u.User.Password(); ok {
		c.Password = pw
	}
	for k, v := range u.Query() {
		c.ConnectAttributes[k] = v[0]
	}
	if c.ConnectAttributes["sslmode"] == "" {
		c.ConnectAttributes["sslmode"] = "disable"
	}
	return c, nil
}

// setUpPostgres creates the database if missing, then brings its schema
// to this server's version.
func setUpPostgres(store *config.SQL, schemaName string, logger serverlog.Logger) error {
	create := *store
	create.ConnectAttributes = maps.Clone(store.ConnectAttributes)
	// DoCreateDatabase connects to the maintenance database "postgres"
	// and creates store's database unless it exists.
	if err := sqltool.DoCreateDatabase(&create, "postgres", logger); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	conn, err := sqltool.NewConnection(store, logger)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// Version tables and version 0.0 unless a version is recorded.
	if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
		return fmt.Errorf("set up schema: %w", err)
	}
	if err := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{DBName: store.DatabaseName, SchemaName: schemaName}, logger).Run(); err != nil {
		return fmt.Errorf("update schema: %w", err)
	}
	return nil
}

// redact hides the password of a database URL in messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
