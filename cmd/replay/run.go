package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	historypb "go.temporal.io/api/history/v1"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/replay"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Exit codes.
const (
	exitOK = 0
	// exitFailed: at least one history did not replay (non-determinism, or
	// a history that could not be read or decoded).
	exitFailed = 1
	// exitUsage: bad arguments or configuration; nothing was replayed.
	exitUsage = 2
)

// maxCauseLen bounds how much of the SDK's message is printed: it renders
// the event's attributes, payloads included.
const maxCauseLen = 600

const usage = `usage:
  replay FILE|DIR...     replay histories exported with 'temporal workflow show -o json'
                         (a directory: every *.json file in it)
  replay --query QUERY   replay every execution the Temporal list query matches,
                         e.g. --query "DefinitionId = 'user-registration'"
                         (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the other
                         TEMPORAL_* variables say where)

Encrypted payloads are decrypted with PAYLOAD_KEYS, else with the key file
of DATA_DIR if there is one (replay never creates it); without either only
plain histories replay.

Prints one OK line per history that replays; exits 1 if any does not.
`

// run is the command; it returns the exit code.
func run(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("replay", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	query := flags.String("query", "", "Temporal list query selecting the executions to replay")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	if (*query == "") == (flags.NArg() == 0) {
		fmt.Fprint(stderr, "replay: give history files or directories, or --query (not both)\n\n"+usage)
		return exitUsage
	}

	cfg, err := config.Load(environ)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return exitUsage
	}
	// The payload keys of PAYLOAD_KEYS or of an existing DATA_DIR key file;
	// unlike the other commands, replay never generates one.
	pc, err := process.ExistingPayloadCodec(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return exitUsage
	}
	// The interpreter with every node type of the list, as the workers
	// register it. Replay schedules nodes by their kind only: the names I/O
	// nodes may use are not checked (IOOptions{} accepts any).
	replayer, err := replay.New(interpreter.New(interpreter.NewRegistry(activities.NodeTypes(activities.IOOptions{})...)), pc)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return exitUsage
	}

	rep := &reporter{replayer: replayer, stdout: stdout, stderr: stderr}
	if *query != "" {
		err = replayQuery(ctx, cfg, environ, pc, *query, rep)
	} else {
		err = replayFiles(ctx, flags.Args(), rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return exitUsage
	}
	noun := "histories"
	if rep.ok+rep.failed == 1 {
		noun = "history"
	}
	fmt.Fprintf(stdout, "replayed %d %s: %d OK, %d failed\n", rep.ok+rep.failed, noun, rep.ok, rep.failed)
	if rep.failed > 0 {
		return exitFailed
	}
	return exitOK
}

// reporter replays histories one by one and prints one line for each.
type reporter struct {
	replayer   *replay.Replayer
	stdout     io.Writer
	stderr     io.Writer
	ok, failed int
}

// check replays h (or reports loadErr) under name: a file, or
// workflowID/runID.
func (r *reporter) check(name string, h *historypb.History, loadErr error) {
	err := loadErr
	if err == nil {
		err = r.replayer.Replay(h)
	}
	var nd *replay.NonDeterminism
	switch {
	case err == nil:
		r.ok++
		fmt.Fprintf(r.stdout, "OK %s (%d events)\n", name, len(h.GetEvents()))
	case errors.As(err, &nd):
		r.failed++
		fmt.Fprintf(r.stderr, "NON-DETERMINISTIC %s: event %d (%s): %s\n", name, nd.EventID, nd.EventType, truncate(nd.Cause))
	default:
		r.failed++
		fmt.Fprintf(r.stderr, "FAILED %s: %s\n", name, truncate(err.Error()))
	}
}

func truncate(s string) string {
	if len(s) <= maxCauseLen {
		return s
	}
	return s[:maxCauseLen] + "…"
}
