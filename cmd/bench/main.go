// Command bench compares, in one run on one embedded Temporal server, a
// 6-node graph of pure nodes executed
//
//   - through the interpreter workflow,
//   - as a hand-written Temporal workflow calling the same activities,
//   - as plain Go function calls evaluating the same expressions,
//   - through the REST API synchronously, with the API's co-located worker
//     (eager start) and without it,
//
// at concurrency 1 and 16, and prints a table of p50 / p95 latency,
// executions per second and allocated bytes per execution. A second table
// compares the shipped registration flow, whose respond node answers before
// the welcome email, with the same graph waiting for the email
// (registration.go). `make bench` runs it; docs/benchmarks.md records a run.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/cli"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/internal/store"
)

func main() { cli.Main("bench", run) }

// run measures every scenario and writes the table to out.
func run(ctx context.Context, args []string, environ map[string]string, out, stderr io.Writer) error {
	var n, registrations, waiting int
	var emailDelay time.Duration
	var serveRoleName string
	var scale bool
	flags := cli.Flags("bench", stderr)
	flags.IntVar(&waiting, "waiting", 0, "measure instead what N executions waiting for a signal cost the worker (waiting.go)")
	flags.BoolVar(&scale, "scale", false, "measure instead the production topology as processes: Temporal on Postgres, the API, 0 to 4 workers (scale.go; it creates and drops its databases on the Postgres of TEST_DATABASE_URL, default the local one)")
	flags.StringVar(&serveRoleName, "serve", "", "internal: run as a child process of -waiting or -scale (temporal, api, worker, handwritten)")
	flags.IntVar(&n, "n", 300, "executions per scenario at concurrency 1 (x4 at concurrency 16)")
	flags.IntVar(&registrations, "registrations", 40, "registrations per registration scenario and concurrency")
	flags.DurationVar(&emailDelay, "email-delay", 150*time.Millisecond, "how long the local SendGrid takes to answer")
	_ = flags.Parse(args)
	if serveRoleName != "" {
		return serveRole(ctx, serveRoleName, environ, out, stderr)
	}
	if scale {
		pg := environ["TEST_DATABASE_URL"]
		if pg == "" {
			pg = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		}
		return runScale(ctx, n, pg, out)
	}
	if waiting > 0 {
		fmt.Fprintln(out, "| waiting | sticky cache | worker RSS before | heap waiting | RSS waiting | RSS after all resumed | heap per waiting execution | RSS per waiting execution | completed after the signal | time to start all | time to resume all |")
		fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|")
		return runWaiting(ctx, waiting, environ, out)
	}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	dir, err := os.MkdirTemp("", "workflow-backend-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The server keeps its state in SQLite files (WAL) as in dev mode, whose
	// latency is what the bench reports. An in-memory server is slower, not
	// faster: SQLite keeps the rollback journal of an in-memory database in
	// 1 KiB heap chunks, and the pure-Go allocator maps and unmaps pages for
	// them on every transaction (a third of the process's CPU in a profile).
	srv, err := devserver.Start(ctx, devserver.Options{
		SearchAttributes: app.SearchAttributes,
		Logger:           quiet,
		DatabaseFile:     filepath.Join(dir, "temporal.db"),
	})
	if err != nil {
		return err
	}
	defer srv.Stop()
	sendgrid := slowSendGrid(emailDelay)
	defer sendgrid.Close()
	benchEnv := map[string]string{
		"TEMPORAL_ADDRESS":  srv.FrontendAddress(),
		"DATA_DIR":          dir,
		"LOG_LEVEL":         "error",
		"SENDGRID_API_KEY":  "SG.bench",
		"SENDGRID_API_BASE": sendgrid.URL,
		"PAYMENTS_PROVIDER": "fake",
	}
	cfg, err := config.Load(benchEnv)
	if err != nil {
		return err
	}
	core, err := app.NewCore(cfg, quiet)
	if err != nil {
		return err
	}
	tc, err := process.DialTemporal(ctx, cfg, benchEnv, quiet, core.Codec)
	if err != nil {
		return err
	}
	defer tc.Close()
	st, err := store.Open(ctx, cfg.DatabaseURL) // DATA_DIR/app.db
	if err != nil {
		return err
	}
	defer st.Close()

	b, err := newBench(ctx, core, tc, st)
	if err != nil {
		return err
	}
	defer b.close()

	fmt.Fprintf(out, "6-node pure graph (validation + 5 transforms); embedded Temporal %s with deploy/ dynamic config\n\n", srv.FrontendAddress())
	fmt.Fprintf(out, "| scenario | concurrency | executions | p50 | p95 | executions/s | alloc/exec |\n")
	fmt.Fprintf(out, "|---|---|---|---|---|---|---|\n")
	for _, sc := range b.scenarios() {
		for _, conc := range []int{1, 16} {
			count := n
			if conc > 1 {
				count = 4 * n
			}
			res, err := measure(ctx, sc.run, sc.settle, count, conc)
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			fmt.Fprintf(out, "| %s | %d | %d | %s | %s | %.0f | %s |\n",
				sc.name, conc, count, ms(res.p50), ms(res.p95), res.perSecond, sizeOf(res.allocPerOp))
		}
	}
	fmt.Fprintln(out, "\nalloc/exec counts every allocation in this process, the embedded server's included.")
	fmt.Fprintln(out, "executions/s counts until visibility lists the scenario's executions as completed.")

	fmt.Fprintf(out, "\nUser registration through REST (bcrypt cost 12, SQLite app database, SendGrid answering after %s): time to the 201/200\n\n", emailDelay)
	fmt.Fprintf(out, "| scenario | concurrency | executions | p50 | p95 | executions/s |\n|---|---|---|---|---|---|\n")
	for _, sc := range []scenario{
		{name: "waits for the welcome email (no respond node, as 1.0.0)", run: b.registration(false), settle: b.visibilitySettled},
		{name: "respond node answers first (shipped 1.1.0)", run: b.registration(true), settle: b.visibilitySettled},
	} {
		for _, conc := range []int{1, 4} {
			res, err := measure(ctx, sc.run, sc.settle, registrations, conc)
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			fmt.Fprintf(out, "| %s | %d | %d | %s | %s | %.1f |\n", sc.name, conc, registrations, ms(res.p50), ms(res.p95), res.perSecond)
		}
	}
	fmt.Fprintln(out, "\nexecutions/s counts until every execution completed (the emails of the respond scenario included).")
	return nil
}
