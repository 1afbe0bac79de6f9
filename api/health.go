package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
)

// healthCheckTimeout bounds each readiness check.
const healthCheckTimeout = 2 * time.Second

// healthBody is GET /health. It is not wrapped in the envelope: load
// balancers and probes read it as it is.
type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// health is GET /health: liveness and readiness of Temporal and the
// database, checked concurrently with short timeouts. 503 names the failing
// check; the causes are logged, never sent.
func (s *Server) health(c echo.Context) error {
	ctx := c.Request().Context()
	checks := []struct {
		name string
		run  func(context.Context) error
	}{
		{"temporal", func(ctx context.Context) error {
			_, err := s.opts.Client.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		{"database", s.opts.Store.Ping},
	}
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, chk := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, healthCheckTimeout)
			defer cancel()
			results[i] = chk.run(cctx)
		})
	}
	wg.Wait()
	body := healthBody{Status: "ok", Checks: make(map[string]string, len(checks))}
	status := http.StatusOK
	for i, chk := range checks {
		if err := results[i]; err != nil {
			s.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "health check failed",
				slog.String("request_id", requestID(c)),
				slog.String("check", chk.name),
				slog.Any("error", err))
			body.Checks[chk.name] = "unavailable"
			body.Status = "unavailable"
			status = http.StatusServiceUnavailable
			continue
		}
		body.Checks[chk.name] = "ok"
	}
	// Memory pressure is reported but does not fail the probe: the process
	// is alive and finishing its work, and restarting it would lose that.
	if s.opts.Memory != nil {
		body.Checks["memory"] = "ok"
		if s.opts.Memory.UnderPressure() {
			body.Checks["memory"] = "pressure"
		}
	}
	return c.JSON(status, body)
}
