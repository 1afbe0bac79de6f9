package dev

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
)

// RunTemporal is `dev -temporal-only`: the embedded Temporal server and its
// Web UI alone, with their state in DATA_DIR/temporal.db (or the Postgres
// database of TEMPORAL_DB_URL), serving until ctx
// ends. The production api and worker commands run against it as against a
// Temporal cluster; restarting it on the same TEMPORAL_ADDRESS and DATA_DIR
// keeps every execution (the fault tests kill and restart it).
func RunTemporal(ctx context.Context, environ map[string]string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	logger := process.NewLogger(cfg, stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("creating DATA_DIR: %w", err)
	}
	srv, err := startTemporal(ctx, cfg, logger, "")
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Fprintf(stdout, `
workflow-backend dev mode: Temporal server only
  Temporal gRPC:    %s   (TEMPORAL_ADDRESS for bin/api and bin/worker)
  Temporal Web UI:  %s
  State:            %s
Press Ctrl+C to stop.

`, srv.FrontendAddress(), srv.UIAddress(), temporalStore(cfg))
	<-ctx.Done()
	return nil
}

// startTemporal starts the embedded Temporal server and Web UI on cfg's
// address, UI port and DATA_DIR/temporal.db, with the app's search
// attributes; codecEndpoint, when set, is the UI's codec server.
func startTemporal(ctx context.Context, cfg config.Config, logger *slog.Logger, codecEndpoint string) (*devserver.Server, error) {
	host, port, err := splitAddress(cfg.TemporalAddress)
	if err != nil {
		return nil, err
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		FrontendIP:       host,
		FrontendPort:     port,
		UIPort:           cfg.TemporalUIPort,
		UICodecEndpoint:  codecEndpoint,
		DatabaseFile:     filepath.Join(cfg.DataDir, "temporal.db"),
		PostgresURL:      cfg.TemporalDBURL,
		Namespace:        cfg.TemporalNamespace,
		Retention:        cfg.Retention,
		SearchAttributes: app.SearchAttributes,
		Logger:           logger.With("component", "temporal-server"),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
	}
	return srv, nil
}

// temporalStore says where the embedded server keeps its state.
func temporalStore(cfg config.Config) string {
	if cfg.TemporalDBURL != "" {
		if u, err := url.Parse(cfg.TemporalDBURL); err == nil {
			return "Postgres " + u.Redacted()
		}
		return "Postgres (TEMPORAL_DB_URL)"
	}
	return filepath.Join(cfg.DataDir, "temporal.db")
}

// splitAddress parses TEMPORAL_ADDRESS into the IP and port the embedded
// server listens on.
func splitAddress(address string) (string, int, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, fmt.Errorf("TEMPORAL_ADDRESS %q: %w", address, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("TEMPORAL_ADDRESS %q: bad port", address)
	}
	return host, port, nil
}
