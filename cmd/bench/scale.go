package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	_ "github.com/lib/pq" // the bench's own connection, to create and drop its databases

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// The scale scenario (-scale, `make bench-scale`) runs the production
// topology as processes on this machine: the Temporal server on Postgres
// (this binary with -serve temporal), the API (the production API command's
// code, -serve api), and 0, 1, 2 or 4 worker processes (-serve worker), the
// app database in Postgres and Stripe played by stripe-mock. For each
// shape it drives, through REST at concurrency 16, the 6-node pure graph
// and the shipped order flow, then the 6-node graph through the client, as
// the interpreter and as the hand-written workflow (-serve handwritten
// workers), and prints executions/s, p50/p95/p99 and each process's CPU
// and RSS.

// child is a process of the scale run.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.Closer     // kept open: the Temporal role ends when it closes
	cpu   time.Duration // at the start of the current scenario
}

// startChild starts this binary in the given role with env on top of
// this process's environment.
func startChild(name, role string, env map[string]string, stdout io.Writer) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve", role)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout = stdout
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{name: name, cmd: cmd, stdin: stdin}, nil
}

// stop ends the child with SIGTERM (workers drain) and waits for it.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// usage is the child's CPU time so far and its resident set.
func (c *child) usage() (cpu time.Duration, rss uint64) {
	pid := strconv.Itoa(c.cmd.Process.Pid)
	if stat, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
		// Fields after the command name (in parentheses): utime and
		// stime are the 12th and 13th, in clock ticks (100 per second).
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			f := strings.Fields(string(stat[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseUint(f[11], 10, 64)
				s, _ := strconv.ParseUint(f[12], 10, 64)
				cpu = time.Duration(u+s) * 10 * time.Millisecond
			}
		}
	}
	if status, err := os.ReadFile("/proc/" + pid + "/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb * 1024
			}
		}
	}
	return cpu, rss
}

// startTemporal starts the Temporal server as a child process (-serve
// temporal) with env and returns it and its frontend address, which it
// prints on its first line once it serves.
func startTemporal(env map[string]string) (*child, string, error) {
	pr, pw := io.Pipe()
	c, err := startChild("temporal", "temporal", env, pw)
	if err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		c.stop()
		return nil, "", fmt.Errorf("the Temporal server process: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return c, strings.TrimSpace(line), nil
}

// dialCore loads the configuration from environ and returns it, the core
// built from it (quiet logs) and a Temporal client.
func dialCore(ctx context.Context, environ map[string]string) (config.Config, *app.Core, client.Client, error) {
	cfg, err := config.Load(environ)
	if err != nil {
		return cfg, nil, nil, err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	core, err := app.NewCore(cfg, quiet)
	if err != nil {
		return cfg, nil, nil, err
	}
	tc, err := process.DialTemporal(ctx, cfg, environ, quiet, core.Codec)
	return cfg, core, tc, err
}

// serveRole runs this process as one part of the scale run (-serve role),
// configured by its environment, until it is interrupted.
func serveRole(ctx context.Context, role string, environ map[string]string, out, stderr io.Writer) error {
	switch role {
	case "temporal":
		return serveTemporal(ctx, environ["BENCH_TEMPORAL_DIR"], environ["TEMPORAL_DB_URL"], out)
	case "api":
		return app.RunAPI(ctx, environ, stderr)
	case "worker":
		return app.RunWorker(ctx, environ, stderr)
	case "handwritten":
		return serveHandWritten(ctx, environ)
	}
	return fmt.Errorf("-serve %q: want temporal, api, worker or handwritten", role)
}

// serveHandWritten runs a worker of the hand-written workflow and the pure
// activities on handWrittenQueue.
func serveHandWritten(ctx context.Context, environ map[string]string) error {
	_, core, tc, err := dialCore(ctx, environ)
	if err != nil {
		return err
	}
	defer tc.Close()
	w := sdkworker.New(tc, handWrittenQueue, sdkworker.Options{DisableRegistrationAliasing: true})
	w.RegisterWorkflowWithOptions(handWritten, workflow.RegisterOptions{Name: "handwritten"})
	core.Activities.RegisterPure(w)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// scaleDatabases creates a Temporal database and an app database with
// fresh names on the Postgres at base and returns their URLs and a function
// that drops them.
func scaleDatabases(base string) (temporalURL, appURL string, drop func(), err error) {
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return "", "", nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	temporalDB, appDB := "bench_temporal_"+suffix, "bench_app_"+suffix
	if _, err := admin.Exec(`CREATE DATABASE ` + appDB); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("create %s: %w", appDB, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", "", nil, err
	}
	withDB := func(name string) string { v := *u; v.Path = "/" + name; return v.String() }
	drop = func() {
		for _, db := range []string{appDB, temporalDB, temporalDB + "_visibility"} {
			_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + db + ` WITH (FORCE)`)
		}
		admin.Close()
	}
	// The Temporal server creates its own databases (postgres.go in devserver).
	return withDB(temporalDB), withDB(appDB), drop, nil
}

// scaleShape is one topology: the API with or without its co-located
// worker, and how many worker processes.
type scaleShape struct {
	name      string
	apiWorker bool
	workers   int
}

func runScale(ctx context.Context, n int, pgBase string, out io.Writer) error {
	dir, err := os.MkdirTemp("", "workflow-backend-bench-scale")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	temporalURL, appURL, drop, err := scaleDatabases(pgBase)
	if err != nil {
		return err
	}
	defer drop()
	stripeURL, stopStripe, err := testenv.StartStripeMock()
	if err != nil {
		return err
	}
	defer stopStripe()
	sendgrid := slowSendGrid(0)
	defer sendgrid.Close()

	temporal, temporalAddr, err := startTemporal(map[string]string{"BENCH_TEMPORAL_DIR": dir, "TEMPORAL_DB_URL": temporalURL})
	if err != nil {
		return err
	}
	defer temporal.stop()

	st, err := store.Open(ctx, appURL)
	if err != nil {
		return err
	}
	if err := st.SeedDemo(ctx); err != nil {
		return err
	}
	// Enough stock for every order of the run.
	if _, err := st.DB().ExecContext(ctx, `UPDATE products SET stock = 100000000`); err != nil {
		return err
	}
	st.Close()

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	common := map[string]string{
		"TEMPORAL_ADDRESS":  temporalAddr,
		"DATABASE_URL":      appURL,
		"DATA_DIR":          dir,
		"LOG_LEVEL":         "error",
		"PAYLOAD_KEYS":      "bench=" + base64.StdEncoding.EncodeToString(key),
		"PAYMENTS_PROVIDER": "stripe",
		"STRIPE_SECRET_KEY": testenv.StripeTestKey,
		"STRIPE_API_BASE":   stripeURL,
		"SENDGRID_API_KEY":  "SG.bench",
		"SENDGRID_API_BASE": sendgrid.URL,
		"EMAIL_FROM":        "shop@example.com",
		// The load is the point: no per-IP limit.
		"RATE_LIMIT_MAX": "1000000",
	}
	with := func(extra map[string]string) map[string]string {
		env := make(map[string]string, len(common)+len(extra))
		for k, v := range common {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	cfg, core, tc, err := dialCore(ctx, with(nil))
	if err != nil {
		return err
	}
	defer tc.Close()
	def, problems := interpreter.Parse([]byte(sixNodes), core.Registry, core.Exprs)
	if len(problems) > 0 {
		return fmt.Errorf("bench definition: %+v", problems)
	}
	httpClient := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	fmt.Fprintf(out, "Production topology on this machine: Temporal on Postgres (4 shards), the API, N worker processes, app database in Postgres, stripe-mock; %d executions per row at concurrency 16\n\n", n)
	fmt.Fprintln(out, "| shape | scenario | executions/s | p50 | p95 | p99 | CPU per process (s) | RSS per process |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
	shapes := []scaleShape{
		{"API with its co-located worker, no worker process", true, 0},
		{"API + 1 worker", false, 1},
		{"API + 2 workers", false, 2},
		{"API + 4 workers", false, 4},
	}
	registered := false
	for _, shape := range shapes {
		port, err := freePort()
		if err != nil {
			return err
		}
		api, err := startChild("api", "api", with(map[string]string{"PORT": strconv.Itoa(port), "HOST": "127.0.0.1", "API_WORKER": strconv.FormatBool(shape.apiWorker)}), io.Discard)
		if err != nil {
			return err
		}
		procs := []*child{temporal, api}
		for i := range shape.workers {
			w, err := startChild(fmt.Sprintf("worker-%d", i+1), "worker", with(nil), io.Discard)
			if err != nil {
				return err
			}
			procs = append(procs, w)
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		stopAll := func() {
			for _, p := range procs[1:] {
				p.stop()
			}
		}
		if err := waitHealthy(ctx, httpClient, base); err != nil {
			stopAll()
			return err
		}
		if !registered {
			if err := postJSON(ctx, httpClient, base+"/api/workflows", json.RawMessage(sixNodes), http.StatusCreated, http.StatusOK); err != nil {
				stopAll()
				return fmt.Errorf("registering the 6-node graph: %w", err)
			}
			registered = true
		}
		scenarios := []scenario{
			{name: "REST sync, 6-node pure graph", run: func(ctx context.Context) error {
				return postJSON(ctx, httpClient, base+"/api/workflows/bench-six/execute", map[string]any{"input": benchInput}, http.StatusOK)
			}},
			{name: "REST sync, order flow (stripe-mock)", run: func(ctx context.Context) error {
				return postJSON(ctx, httpClient, base+"/api/orders/process", map[string]any{
					"customerId": "123", "items": []any{map[string]any{"productId": "457", "quantity": 1}},
					"totalAmount": 9.99, "paymentMethodId": "pm_card_visa"}, http.StatusCreated)
			}},
			{name: "client, interpreter, 6-node graph", run: func(ctx context.Context) error {
				return runWorkflow(ctx, tc, interpreter.WorkflowName, cfg.TaskQueue, interpreter.ExecutionInput{Definition: def, Input: benchInput})
			}},
		}
		if shape.workers == 0 {
			// The API's co-located worker serves the workflow queue only
			// (I/O nodes run on workers, which hold the secrets): the
			// order flow needs a worker process.
			scenarios = slices.Delete(scenarios, 1, 2)
		}
		for _, sc := range scenarios {
			if err := scaleRow(ctx, out, shape.name, sc, n, procs); err != nil {
				stopAll()
				return err
			}
		}
		stopAll()
		if shape.workers == 0 {
			continue
		}
		// The floor: the hand-written workflow on as many worker processes.
		hw := []*child{temporal}
		for i := range shape.workers {
			w, err := startChild(fmt.Sprintf("handwritten-%d", i+1), "handwritten", with(nil), io.Discard)
			if err != nil {
				return err
			}
			hw = append(hw, w)
		}
		floor := scenario{name: "client, hand-written workflow (the floor)", run: func(ctx context.Context) error {
			return runWorkflow(ctx, tc, "handwritten", handWrittenQueue, handWrittenInput(def))
		}}
		err = scaleRow(ctx, out, fmt.Sprintf("%d hand-written worker(s)", shape.workers), floor, n, hw)
		for _, p := range hw[1:] {
			p.stop()
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "\nCPU is what each process used during the row (the load generator, this process, is not counted); RSS at the row's end.")
	return nil
}

// scaleRow measures one scenario at concurrency 16 and prints its row.
func scaleRow(ctx context.Context, out io.Writer, shape string, sc scenario, n int, procs []*child) error {
	for _, p := range procs {
		p.cpu, _ = p.usage()
	}
	res, err := measure(ctx, sc.run, nil, n, 16)
	if err != nil {
		return fmt.Errorf("%s, %s: %w", shape, sc.name, err)
	}
	var cpus, rsss []string
	for _, p := range procs {
		cpu, rss := p.usage()
		cpus = append(cpus, fmt.Sprintf("%s %.1f", p.name, (cpu-p.cpu).Seconds()))
		rsss = append(rsss, fmt.Sprintf("%s %s", p.name, sizeOf(rss)))
	}
	fmt.Fprintf(out, "| %s | %s | %.0f | %s | %s | %s | %s | %s |\n", shape, sc.name, res.perSecond,
		ms(res.p50), ms(res.p95), ms(res.p99), strings.Join(cpus, ", "), strings.Join(rsss, ", "))
	return nil
}

func runWorkflow(ctx context.Context, tc client.Client, name, queue string, input any) error {
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bench-" + uuid.NewString(), TaskQueue: queue}, name, input)
	if err != nil {
		return err
	}
	return run.Get(ctx, nil)
}

func postJSON(ctx context.Context, hc *http.Client, url string, body any, want ...int) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	return fmt.Errorf("POST %s: HTTP %d %s", url, resp.StatusCode, answer)
}

func waitHealthy(ctx context.Context, hc *http.Client, base string) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := hc.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("the API did not become healthy"), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
