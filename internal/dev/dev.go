// Package dev is `make dev`: one process that boots an embedded Temporal
// server with its Web UI (SQLite under DATA_DIR, the tuned dynamic config of
// deploy/temporal/dynamicconfig.yaml), the application database, the worker
// and the API, and prints every URL. It links the Temporal
// server, so only the dev command imports it.
package dev

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/cli"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/store"
)

// Command is the dev command: Run, or with -temporal-only RunTemporal.
func Command(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	flags := cli.Flags("dev", stderr)
	temporalOnly := flags.Bool("temporal-only", false, "run only the Temporal server and Web UI (DATA_DIR/temporal.db), for bin/api and bin/worker")
	_ = flags.Parse(args)
	if *temporalOnly {
		return RunTemporal(ctx, environ, stdout, stderr)
	}
	return Run(ctx, environ, stdout, stderr)
}

// Run boots everything and serves until ctx ends.
func Run(ctx context.Context, environ map[string]string, stdout, stderr io.Writer) error {
	// Dev mode listens on loopback unless told otherwise, and without a
	// Stripe key takes payments with the fake connector (announced at start).
	if _, ok := environ["HOST"]; !ok {
		environ["HOST"] = "127.0.0.1"
	}
	if _, ok := environ["PAYMENTS_PROVIDER"]; !ok && environ["STRIPE_SECRET_KEY"] == "" {
		environ["PAYMENTS_PROVIDER"] = config.PaymentsFake
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	if cfg.TemporalUIURL == "" {
		cfg.TemporalUIURL = "http://127.0.0.1:" + strconv.Itoa(cfg.TemporalUIPort)
	}
	// Dev mode is one process: the API's worker is the worker.
	cfg.APIWorker = true
	logger := process.NewLogger(cfg, stderr)

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("creating DATA_DIR: %w", err)
	}
	// The Web UI decodes payloads through the API's codec endpoints (the
	// browser calls them; loopback callers need no token in dev mode).
	apiHost := cfg.Host
	if ip := net.ParseIP(apiHost); ip != nil && ip.IsUnspecified() {
		apiHost = "127.0.0.1"
	}
	codecEndpoint := ""
	if cfg.Encrypted() {
		codecEndpoint = "http://" + net.JoinHostPort(apiHost, strconv.Itoa(cfg.Port)) + "/codec"
	}
	srv, err := startTemporal(ctx, cfg, logger, codecEndpoint)
	if err != nil {
		return err
	}
	defer srv.Stop()

	// Without PAYLOAD_KEYS, NewCore generates DATA_DIR/payload-keys (or
	// reuses it), so payloads are encrypted in dev mode too.
	core, err := app.NewCore(cfg, logger)
	if err != nil {
		return err
	}
	core.DevMode = true
	defer core.GuardMemory(ctx)()
	tc, err := process.DialTemporalMetered(ctx, cfg, environ, logger, core.Codec, core.Metrics.Temporal())
	if err != nil {
		return err
	}
	defer tc.Close()
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer st.Close()
	// The demo customer and products the README's order examples use.
	if err := st.SeedDemo(ctx); err != nil {
		return err
	}
	// One process: the API's co-located worker serves the I/O queue too.
	ioNodes, err := core.NewIO(st)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	apiURL := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, `
workflow-backend dev mode
  API:              %s   (try: curl %s/health)
  Temporal Web UI:  %s
  Temporal gRPC:    %s   (temporal workflow list --address %s)
  Payload codec:    %s
  Metrics:          %s/metrics   (Prometheus)
  Data:             %s
Press Ctrl+C to stop.

`, apiURL, apiURL, srv.UIAddress(), srv.FrontendAddress(), srv.FrontendAddress(), codecLine(codecEndpoint), apiURL, cfg.DataDir)
	return core.ServeAPI(ctx, tc, st, ln, ioNodes)
}

// codecLine says where payloads are decoded, for the start-up banner.
func codecLine(endpoint string) string {
	if endpoint == "" {
		return "off (PAYLOAD_ENCRYPTION=off: payloads are plain text)"
	}
	return endpoint + "   (temporal workflow show --codec-endpoint " + endpoint + " …)"
}
