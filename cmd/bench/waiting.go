package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// The waiting scenario (-waiting N) measures what executions that wait for
// a signal cost a worker: this process is the worker (the production
// worker's code and settings, its sticky cache sized by
// WORKER_STICKY_CACHE_SIZE or from MAX_MEMORY), and the Temporal server
// runs in a child process (this binary again, with -serve temporal), so
// that the worker's memory is measured alone. It starts N executions of a
// graph that runs a transform, waits for a signal and runs another
// transform; once every one waits, it reads the worker's heap and RSS,
// then signals them all and checks that every one completes.

// waitingGraph: a transform, a signal wait, a transform.
const waitingGraph = `{
  "id": "bench-waiting", "version": "1", "startNode": "prepare",
  "nodes": [
    {"id": "prepare", "type": "transform", "config": {"mapping": {"who": "input.email", "n": "input.n"}}},
    {"id": "approval", "type": "wait", "config": {"signal": "go"}},
    {"id": "done", "type": "transform", "config": {"mapping": {"who": "nodes.prepare.who", "ok": "nodes.approval.ok"}}}
  ],
  "edges": [{"source": "prepare", "target": "approval"}, {"source": "approval", "target": "done"}]
}`

// serveTemporal runs the embedded server with its state in dir until
// ctx ends (the parent interrupts it or closes its stdin), after printing
// its frontend address on stdout.
// With postgresURL set, the state is in that Postgres database instead.
func serveTemporal(ctx context.Context, dir, postgresURL string, out io.Writer) error {
	srv, err := devserver.Start(ctx, devserver.Options{
		SearchAttributes: app.SearchAttributes,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		DatabaseFile:     filepath.Join(dir, "temporal.db"),
		PostgresURL:      postgresURL,
	})
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Fprintln(out, srv.FrontendAddress())
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

func runWaiting(ctx context.Context, n int, environ map[string]string, out io.Writer) error {
	dir, err := os.MkdirTemp("", "workflow-backend-bench-waiting")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	temporal, addr, err := startTemporal(map[string]string{"BENCH_TEMPORAL_DIR": dir})
	if err != nil {
		return err
	}
	defer temporal.stop()

	env := map[string]string{"TEMPORAL_ADDRESS": addr, "DATA_DIR": dir, "LOG_LEVEL": "error"}
	for _, k := range []string{"WORKER_STICKY_CACHE_SIZE", "MAX_MEMORY"} {
		if v, ok := environ[k]; ok {
			env[k] = v
		}
	}
	cfg, core, tc, err := dialCore(ctx, env)
	if err != nil {
		return err
	}
	defer tc.Close()
	def, problems := interpreter.Parse([]byte(waitingGraph), core.Registry, core.Exprs)
	if len(problems) > 0 {
		return fmt.Errorf("waiting graph: %+v", problems)
	}
	workers, err := core.NewWorkers(tc, nil)
	if err != nil {
		return err
	}
	if err := workers.Start(); err != nil {
		return err
	}
	defer workers.Stop()

	baseHeap, baseRSS := workerMemory()
	began := time.Now()
	ids := make([]string, n)
	if err := forEach(ctx, n, 16, func(i int) error {
		ids[i] = "bench-waiting-" + uuid.NewString()
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: cfg.TaskQueue},
			interpreter.WorkflowName, interpreter.ExecutionInput{Definition: def, Input: map[string]any{"email": "ada@example.com", "n": i}})
		return err
	}); err != nil {
		return err
	}
	// Every execution waits once its approval node is waiting: the nodes
	// query answers from the worker (or replays the history on a cache miss).
	if err := forEach(ctx, n, 16, func(i int) error {
		for {
			v, err := tc.QueryWorkflow(ctx, ids[i], "", interpreter.NodesQuery)
			if err != nil {
				return err
			}
			var nodes []interpreter.NodeState
			if err := v.Get(&nodes); err != nil {
				return err
			}
			if nodes[1].Status == interpreter.StatusWaiting {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	}); err != nil {
		return err
	}
	started := time.Since(began)
	heap, rss := workerMemory()
	perHeap := float64(heap-baseHeap) / float64(n)
	perRSS := float64(rss-baseRSS) / float64(n)

	began = time.Now()
	if err := forEach(ctx, n, 16, func(i int) error {
		return tc.SignalWorkflow(ctx, ids[i], "", "go", map[string]any{"ok": true})
	}); err != nil {
		return err
	}
	var completed int64
	for deadline := time.Now().Add(10 * time.Minute); ; {
		resp, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: `ExecutionStatus = "Completed"`})
		if err != nil {
			return err
		}
		if completed = resp.GetCount(); completed >= int64(n) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	resumed := time.Since(began)
	_, afterRSS := workerMemory()
	fmt.Fprintf(out, "| %d | %s | %s | %s | %s | %s | %.1f KiB | %.1f KiB | %d/%d | %s | %s |\n",
		n, stickyLabel(environ, cfg), sizeOf(baseRSS), sizeOf(heap), sizeOf(rss), sizeOf(afterRSS),
		perHeap/1024, perRSS/1024, completed, n, started.Round(time.Second), resumed.Round(time.Second))
	if completed < int64(n) {
		return fmt.Errorf("%d of %d executions completed after the signal", completed, n)
	}
	return nil
}

func stickyLabel(environ map[string]string, cfg config.Config) string {
	if _, set := environ["WORKER_STICKY_CACHE_SIZE"]; set {
		return strconv.Itoa(cfg.StickyCacheSize)
	}
	return fmt.Sprintf("%d (from MAX_MEMORY %s)", cfg.StickyCacheSize, sizeOf(uint64(cfg.MaxMemory)))
}

// workerMemory is the live heap after a GC and the resident set of this
// process (the worker).
func workerMemory() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	heap = s[0].Value.Uint64()
	data, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb * 1024
			}
		}
	}
	return heap, rss
}

// forEach runs f for 0..n-1 on conc goroutines and returns the first error.
func forEach(ctx context.Context, n, conc int, f func(i int) error) error {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range conc {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
