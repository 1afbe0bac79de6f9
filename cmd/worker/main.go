// Command worker runs the workflow-backend worker against a Temporal cluster.
// Configuration is by environment; see the README.
package main

import (
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/cli"
)

func main() { cli.Main("worker", cli.Service(app.RunWorker)) }
