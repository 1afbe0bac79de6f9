package devserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	_ "github.com/lib/pq" // the test's own connection, to drop its databases
)

// postgresURL returns a URL naming a fresh database on the Postgres of
// TEST_DATABASE_URL (skipping without it); the database and its
// _visibility sibling, which Start creates, are dropped when t ends.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL not set: no Postgres to run the server on")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "temporal_test_" + hex.EncodeToString(b[:])
	u.Path = "/" + name
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", base)
		if err != nil {
			t.Errorf("drop test databases: %v", err)
			return
		}
		defer admin.Close()
		for _, db := range []string{name, name + "_visibility"} {
			// WITH (FORCE): the server's pooled connections may linger.
			if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + db + ` WITH (FORCE)`); err != nil {
				t.Errorf("drop %s: %v", db, err)
			}
		}
	})
	return u.String()
}

// TestPostgresKeepsStateAcrossRestarts runs the server on Postgres: the
// first start creates both databases and their schemas with the server's
// schema tool and registers the namespace; a second start on the same
// databases finds the schema current, keeps the namespace, its search
// attributes and the executions.
func TestPostgresKeepsStateAcrossRestarts(t *testing.T) {
	t.Parallel()
	dbURL := postgresURL(t)
	attrs := map[string]enumspb.IndexedValueType{"DefinitionId": enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	opts := Options{PostgresURL: dbURL, Namespace: "devserver-pg", Retention: 48 * time.Hour, SearchAttributes: attrs, Logger: quietLogger()}

	first := startServer(t, opts)
	c := dial(t, first)
	assertSearchAttributes(t, c, "devserver-pg", attrs)
	assertRetention(t, c, "devserver-pg", 48*time.Hour)
	if got := runGreeting(t, c, "greet-pg", client.StartWorkflowOptions{}); got != "hello temporal" {
		t.Fatalf("result = %q", got)
	}
	c.Close()
	first.Stop()

	second := startServer(t, opts)
	c = dial(t, second)
	assertSearchAttributes(t, c, "devserver-pg", attrs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, "greet-pg", "")
	if err != nil {
		t.Fatalf("the execution of the first start: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("greet-pg is %v after the restart", st)
	}
	if got := runGreeting(t, c, "greet-pg-2", client.StartWorkflowOptions{}); got != "hello temporal" {
		t.Errorf("result after the restart = %q", got)
	}
}

// TestPostgresTimerResolution is TestTimerResolution on Postgres: the
// timer queue settings of embeddedDynamicConfig apply there too.
func TestPostgresTimerResolution(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{PostgresURL: postgresURL(t), Logger: quietLogger()})
	const timer = 100 * time.Millisecond
	delays := timerDelays(t, s, 20, timer)
	p50, maxDelay := delays[len(delays)/2], delays[len(delays)-1]
	t.Logf("Postgres, 100ms timer, 20 runs: min %v p50 %v max %v",
		delays[0].Round(time.Millisecond), p50.Round(time.Millisecond), maxDelay.Round(time.Millisecond))
	if delays[0] < timer {
		t.Errorf("a %v timer fired after %v", timer, delays[0])
	}
	if p50 > 500*time.Millisecond {
		t.Errorf("p50 delay of a %v timer = %v, want < 500ms", timer, p50)
	}
}

// TestParsePostgresURL: the URL's parts land in the plugin's config and
// a bad URL is refused with the password hidden.
func TestParsePostgresURL(t *testing.T) {
	c, err := parsePostgresURL("postgres://temporal:s3cret@db.internal:6432/tmp?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseName != "tmp" || c.ConnectAddr != "db.internal:6432" || c.User != "temporal" || c.Password != "s3cret" || c.ConnectAttributes["sslmode"] != "require" {
		t.Errorf("config = %+v", c)
	}
	c, err = parsePostgresURL("postgres://postgres@127.0.0.1")
	if err != nil || c.DatabaseName != "temporal" || c.ConnectAddr != "127.0.0.1:5432" || c.ConnectAttributes["sslmode"] != "disable" {
		t.Errorf("defaults: %+v %v", c, err)
	}
	for _, bad := range []string{"mysql://u:hunter2@h/db", "postgres://u:hunter2@h/db;drop", "not a url"} {
		_, err := parsePostgresURL(bad)
		if err == nil {
			t.Errorf("%s: accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
}
