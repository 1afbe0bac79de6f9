// Command replay replays histories of the interpreter workflow against this
// build's interpreter, as a worker would after a deploy, and exits non-zero
// when one of them no longer replays (a non-deterministic change), naming
// the execution and the first event that differs.
//
//	replay FILE|DIR...              histories exported with `temporal workflow show -o json`
//	replay --query "DefinitionId = 'user-registration'"
//	                                every execution the Temporal list query matches
//
// Which Temporal server and namespace the query mode reads comes from the
// same TEMPORAL_* variables as the api and worker commands. Encrypted
// payloads are decrypted with PAYLOAD_KEYS, else with DATA_DIR's key file if
// it exists; replay never generates a key, so without either only plain
// histories replay. It links the SDK's replayer, never the Temporal server.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/workflow-backend/workflow-backend/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], config.Environ(os.Environ()), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
