// Command dev runs everything in one process for development: an embedded
// Temporal server with its Web UI, the database, the worker and the API.
// Production images do not contain it.
//
// With -temporal-only it runs the Temporal server and Web UI alone (state in
// DATA_DIR/temporal.db), for the production api and worker commands to use
// as their cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/dev"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	temporalOnly := flag.Bool("temporal-only", false, "run only the Temporal server and Web UI (DATA_DIR/temporal.db), for bin/api and bin/worker")
	flag.Parse()
	run := dev.Run
	if *temporalOnly {
		run = dev.RunTemporal
	}
	if err := run(ctx, config.Environ(os.Environ()), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}
