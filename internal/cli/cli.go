// Package cli is what every command's main does the same way: a context
// that ends on SIGINT or SIGTERM, the process's arguments and environment
// handed to a testable run function, and an error turned into "name: error"
// on stderr and exit status 1.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/workflow-backend/workflow-backend/internal/config"
)

// Command is the body of a program: args without the program name, environ
// as config.Environ reads it, and where it writes. It returns when ctx ends
// or its work is done.
type Command func(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error

// Main runs cmd as the process and exits: with status 1 after printing
// "name: error" to stderr when it fails, else with status 0.
func Main(name string, cmd Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd(ctx, os.Args[1:], config.Environ(os.Environ()), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Service is a Command for a long-running service configured by its
// environment alone (app.RunAPI, app.RunWorker): arguments are ignored and
// it logs to stderr.
func Service(run func(ctx context.Context, environ map[string]string, stderr io.Writer) error) Command {
	return func(ctx context.Context, _ []string, environ map[string]string, _, stderr io.Writer) error {
		return run(ctx, environ, stderr)
	}
}

// Flags is a flag set for a Command's args that prints its usage and errors
// to stderr and exits on a bad flag (status 2), as the flag package's
// command line does.
func Flags(name string, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ExitOnError)
	flags.SetOutput(stderr)
	return flags
}
