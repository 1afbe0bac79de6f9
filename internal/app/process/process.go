// Package process builds what every command makes from its configuration
// the same way: the logger, the payload codec and the Temporal client. It
// links no API, connector or server, so the smallest command (replay) uses
// it without linking them.
package process

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	temporallog "go.temporal.io/sdk/log"

	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
)

// NewLogger returns the process logger at cfg's level, as text on w.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.SlogLevel() // checked by config.Load
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// DialTemporal connects to Temporal. TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE come from cfg; TLS and API key settings from the
// CLI's TEMPORAL_* variables through the SDK's envconfig. Payloads and
// failure messages are encrypted with pc (Core.Codec; nil: plain text).
func DialTemporal(ctx context.Context, cfg config.Config, environ map[string]string, logger *slog.Logger, pc *codec.Codec) (client.Client, error) {
	return DialTemporalMetered(ctx, cfg, environ, logger, pc, nil)
}

// DialTemporalMetered is DialTemporal with the SDK's metrics reported to
// mh (Core.Metrics.Temporal()); nil reports none.
func DialTemporalMetered(ctx context.Context, cfg config.Config, environ map[string]string, logger *slog.Logger, pc *codec.Codec, mh client.MetricsHandler) (client.Client, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{
		DisableFile: true,
		EnvLookup:   mapLookup(environ),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client configuration: %w", err)
	}
	opts.HostPort = cfg.TemporalAddress
	opts.Namespace = cfg.TemporalNamespace
	opts.Logger = temporallog.NewStructuredLogger(logger.With("component", "temporal-sdk"))
	if mh != nil {
		opts.MetricsHandler = mh
	}
	withCodec(&opts, pc)
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

type mapLookup map[string]string

func (m mapLookup) Environ() []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func (m mapLookup) LookupEnv(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}
