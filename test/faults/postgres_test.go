//go:build faults

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// postgres is a Postgres cluster of the test's own, in a temporary
// directory, so that a scenario can stop and start it (the machine's
// shared Postgres must not be touched). initdb and pg_ctl refuse to run as
// root, so as root they run as the postgres user through runuser, and the
// directory belongs to that user.
type postgres struct {
	bin     string // the directory of initdb, pg_ctl
	dir     string // owned by the cluster's user
	dataDir string
	logPath string
	port    int
	asUser  []string // runuser -u postgres --, when root
}

// startPostgres creates and starts a cluster on a free loopback port, with
// trust authentication for the user postgres; it is removed when the test
// ends.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("no initdb under /usr/lib/postgresql/*/bin: install the postgresql server package")
	}
	slices.Sort(bins)
	dir, err := os.MkdirTemp("", "faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg := &postgres{
		bin:     filepath.Dir(bins[len(bins)-1]),
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "postgres.log"),
		port:    freePort(t),
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	t.Cleanup(func() {
		_ = pg.run("pg_ctl", "-D", pg.dataDir, "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	if err := pg.run("initdb", "-D", pg.dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	return pg
}

// url is the DATABASE_URL of the cluster's postgres database.
func (pg *postgres) url() string { return pg.databaseURL("postgres") }

// databaseURL is the URL of database name in the cluster.
func (pg *postgres) databaseURL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, name)
}

// start starts the cluster and waits until it accepts connections. fsync
// is off: the scenarios stop the server cleanly (pg_ctl stop -m fast) and
// never crash the machine, and it spares the shared disk.
func (pg *postgres) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", pg.port, pg.dir)
	return pg.run("pg_ctl", "-D", pg.dataDir, "-l", pg.logPath, "-o", opts, "-w", "-t", "60", "start")
}

// stop stops the cluster the way an operator does (fast: open
// transactions are rolled back, clients disconnected).
func (pg *postgres) stop() error {
	return pg.run("pg_ctl", "-D", pg.dataDir, "-m", "fast", "-w", "stop")
}

func (pg *postgres) run(tool string, args ...string) error {
	argv := append(append(slices.Clone(pg.asUser), filepath.Join(pg.bin, tool)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = pg.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %v\n%s", tool, args, err, out)
	}
	return nil
}
