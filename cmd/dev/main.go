// Command dev runs everything in one process for development: an embedded
// Temporal server with its Web UI, the database, the worker and the API.
// Production images do not contain it.
//
// With -temporal-only it runs the Temporal server and Web UI alone (state in
// DATA_DIR/temporal.db), for the production api and worker commands to use
// as their cluster.
package main

import (
	"github.com/workflow-backend/workflow-backend/internal/cli"
	"github.com/workflow-backend/workflow-backend/internal/dev"
)

func main() { cli.Main("dev", dev.Command) }
