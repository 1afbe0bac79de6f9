// Command api runs the workflow-backend api against a Temporal cluster.
// Configuration is by environment; see the README.
package main

import (
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/cli"
)

func main() { cli.Main("api", cli.Service(app.RunAPI)) }
