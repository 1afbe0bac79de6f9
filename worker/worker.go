// Package worker runs the Temporal workers that execute definitions: the
// interpreter workflow and the pure node types on the main task queue, and
// the I/O node types on their own queue (TaskQueue + "-io"), served only by
// the processes that hold the secrets.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/memguard"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Options configure the workers of one process. Zero values take the SDK's
// defaults unless noted.
type Options struct {
	// TaskQueue of the workflow and pure nodes. Required.
	TaskQueue string
	// Concurrency limits per worker (0: SDK default).
	MaxConcurrentActivities      int
	MaxConcurrentLocalActivities int
	MaxConcurrentWorkflowTasks   int
	// StopTimeout is how long a stopping worker lets running activities
	// finish (default DefaultStopTimeout).
	StopTimeout time.Duration
	// Memory, when set, holds back new task slots while the process is
	// short of memory (memguard.Guard.SlotSupplier); the limits above stay
	// the maximums. Optional: nil hands out slots up to the limits always.
	Memory *memguard.Guard
}

// DefaultStopTimeout is how long a stopping worker lets running
// activities finish unless Options.StopTimeout says otherwise: the drain
// that a deployment's termination grace period must outlast
// (deploy/k8s_test.go).
const DefaultStopTimeout = 30 * time.Second

// sdkDefaultSlots is the SDK's default for each MaxConcurrent… limit.
const sdkDefaultSlots = 1000

// tuner builds one worker's slot suppliers: each kind of task up to its
// limit, down to a floor of one or two slots while memory is short.
func (o Options) tuner() (sdkworker.WorkerTuner, error) {
	slots := func(limit, floor int) sdkworker.SlotSupplier {
		if limit <= 0 {
			limit = sdkDefaultSlots
		}
		return o.Memory.SlotSupplier(limit, floor)
	}
	nexus, err := sdkworker.NewFixedSizeSlotSupplier(sdkDefaultSlots)
	if err != nil {
		return nil, err
	}
	return sdkworker.NewCompositeTuner(sdkworker.CompositeTunerOptions{
		// Two workflow-task slots: a task holds its slot while it waits for
		// its local activities, and a query (the API's node view) needs
		// one too.
		WorkflowSlotSupplier:        slots(o.MaxConcurrentWorkflowTasks, 2),
		ActivitySlotSupplier:        slots(o.MaxConcurrentActivities, 1),
		LocalActivitySlotSupplier:   slots(o.MaxConcurrentLocalActivities, 1),
		SessionActivitySlotSupplier: slots(o.MaxConcurrentActivities, 1),
		NexusSlotSupplier:           nexus,
	})
}

// Workers are the started-or-not workers of one process.
type Workers struct {
	workers []sdkworker.Worker
	logger  *slog.Logger
}

// New creates (but does not start) the workers for o, registering the
// interpreter and every activity explicitly. io, when not nil, adds a worker
// for the I/O task queue.
func New(c client.Client, o Options, interp *interpreter.Interpreter, acts *activities.Activities, io *activities.IO, logger *slog.Logger) (*Workers, error) {
	if o.TaskQueue == "" {
		return nil, errors.New("worker: TaskQueue is required")
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	sdkOpts := sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      o.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: o.MaxConcurrentLocalActivities,
		MaxConcurrentWorkflowTaskExecutionSize:  o.MaxConcurrentWorkflowTasks,
		WorkerStopTimeout:                       o.StopTimeout,
		// Everything is registered under an explicit name; never also
		// under the Go function name.
		DisableRegistrationAliasing: true,
	}
	// Each worker counts its own slots, so each gets its own tuner.
	optsFor := func() (sdkworker.Options, error) {
		if o.Memory == nil {
			return sdkOpts, nil
		}
		withTuner := sdkOpts
		withTuner.MaxConcurrentActivityExecutionSize = 0
		withTuner.MaxConcurrentLocalActivityExecutionSize = 0
		withTuner.MaxConcurrentWorkflowTaskExecutionSize = 0
		var err error
		withTuner.Tuner, err = o.tuner()
		return withTuner, err
	}
	mainOpts, err := optsFor()
	if err != nil {
		return nil, err
	}
	main := sdkworker.New(c, o.TaskQueue, mainOpts)
	interp.Register(main)
	acts.RegisterPure(main)
	ws := &Workers{workers: []sdkworker.Worker{main}, logger: logger}
	if io != nil {
		ioOpts, err := optsFor()
		if err != nil {
			return nil, err
		}
		ioWorker := sdkworker.New(c, o.TaskQueue+interpreter.IOTaskQueueSuffix, ioOpts)
		acts.RegisterIO(ioWorker, io)
		ws.workers = append(ws.workers, ioWorker)
	}
	return ws, nil
}

// Start starts every worker; on error the ones already started are stopped.
func (ws *Workers) Start() error {
	for i, w := range ws.workers {
		if err := w.Start(); err != nil {
			for _, started := range ws.workers[:i] {
				started.Stop()
			}
			return err
		}
	}
	return nil
}

// Stop drains the workers: they stop polling, and running activities get
// StopTimeout to finish.
func (ws *Workers) Stop() {
	for _, w := range ws.workers {
		w.Stop()
	}
}

// Run starts the workers and stops them when ctx ends (SIGTERM in main).
func (ws *Workers) Run(ctx context.Context) error {
	if err := ws.Start(); err != nil {
		return err
	}
	ws.logger.Info("workers started", "count", len(ws.workers))
	<-ctx.Done()
	ws.logger.Info("draining workers")
	ws.Stop()
	return nil
}
