package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/workflow-backend/workflow-backend/workflows"
)

// routes is the whole HTTP surface of the API (the README's REST API table).
func (s *Server) routes() {
	e := s.echo
	if s.opts.Metrics != nil {
		// Outermost, so that every answer is counted, refusals included.
		e.Use(s.metricsMiddleware())
	}
	e.Use(
		middleware.RequestID(),
		s.requestLogger(),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.opts.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "panic in handler",
					slog.String("request_id", requestID(c)),
					slog.Any("error", err),
					slog.String("stack", string(stack)))
				return err
			},
		}),
		// Before the body is read, and keyed by the client IP the
		// trusted extractor finds (ratelimit.go).
		s.rateLimitMiddleware(),
		s.bodyLimitMiddleware(),
		s.crossSiteGuard(),
	)

	// Each route says what its caller needs (auth.go): a client key (or
	// none when PUBLIC_ROUTES lists it) or an admin key.
	route := func(method, path string, h echo.HandlerFunc, need access, more ...echo.MiddlewareFunc) {
		e.Add(method, path, h, append([]echo.MiddlewareFunc{s.guard(path, need)}, more...)...)
		s.guarded[method+" "+path] = need
	}
	route(http.MethodGet, "/health", s.health, accessClient)
	if s.opts.Metrics != nil {
		// Public by default (PUBLIC_ROUTES); a client key otherwise.
		route(http.MethodGet, "/metrics", echo.WrapHandler(s.opts.Metrics.Handler()), accessClient)
	}

	route(http.MethodPost, "/api/workflows", s.registerDefinition, accessAdmin)
	route(http.MethodGet, "/api/workflows", s.listDefinitions, accessClient)
	// Counts every caller's executions, so admin only (the definition id
	// "statistics" and "test" are reserved, so these static routes shadow no definition).
	route(http.MethodGet, "/api/workflows/statistics", s.statistics, accessAdmin)
	route(http.MethodGet, "/api/workflows/:id", s.getDefinition, accessClient)
	route(http.MethodGet, "/api/workflows/:id/versions/:version", s.getDefinitionVersion, accessClient)
	route(http.MethodPost, "/api/workflows/:id/execute", s.execute, accessClient, s.memoryGate())
	// Test mode (testmode.go): no side effects, nothing started on
	// Temporal. The definition id "test" is reserved for this static route.
	route(http.MethodPost, "/api/workflows/test", s.testWorkflow, accessClient, s.memoryGate())

	// Clients see only the executions they started (executions.go).
	route(http.MethodGet, "/api/executions", s.listExecutions, accessClient)
	route(http.MethodPost, "/api/executions/redrive", s.redriveMany, accessClient)
	route(http.MethodGet, "/api/executions/:executionId", s.getExecution, accessClient)
	route(http.MethodPost, "/api/executions/:executionId/signals/:name", s.signal, accessClient)
	route(http.MethodPost, "/api/executions/:executionId/cancel", s.cancel, accessClient)
	route(http.MethodGet, "/api/executions/:executionId/testcase", s.executionTestCase, accessClient)
	// Redrive and rerun (redrive.go).
	route(http.MethodPost, "/api/executions/:executionId/redrive", s.redrive, accessClient)
	route(http.MethodPost, "/api/executions/:executionId/rerun", s.rerun, accessClient, s.memoryGate())

	// Schedules (schedules.go): clients see and manage only the schedules
	// they created, as with executions.
	route(http.MethodPost, "/api/workflows/:id/schedules", s.createSchedule, accessClient)
	route(http.MethodGet, "/api/workflows/:id/schedules", s.listSchedules, accessClient)
	route(http.MethodGet, "/api/schedules/:scheduleId", s.getSchedule, accessClient)
	route(http.MethodPost, "/api/schedules/:scheduleId/pause", s.pauseSchedule, accessClient)
	route(http.MethodPost, "/api/schedules/:scheduleId/unpause", s.unpauseSchedule, accessClient)
	route(http.MethodPost, "/api/schedules/:scheduleId/trigger", s.triggerSchedule, accessClient)
	route(http.MethodDelete, "/api/schedules/:scheduleId", s.deleteSchedule, accessClient)

	// The routes of the shipped definitions (package workflows) and the
	// products the order definition sells.
	for _, r := range workflows.Routes() {
		route(r.Method, r.Path, s.shippedRoute(r), accessClient, s.memoryGate())
	}
	route(http.MethodGet, "/api/products", s.listProducts, accessClient)
	route(http.MethodGet, "/api/products/:id", s.getProduct, accessClient)

	// The codec server for the Web UI and the CLI (codec.go): POST
	// /codec/encode and /codec/decode, with CORS and their own auth, so
	// they are not behind the API-key check of route().
	s.codecRoutes()

	// The API described: GET /api/openapi.json, /api/schema/definition.json
	// and /docs (describe.go), public.
	s.describeRoutes()

	// The graph page: GET /ui/… (graphpage.go), public HTML that reads its
	// data through the routes above.
	s.graphPageRoutes()
}

// defaultPublicRoutes are PUBLIC_ROUTES' default entries that may name no
// route (GET /metrics when Options.Metrics is nil); New does not warn
// about them.
var defaultPublicRoutes = map[string]bool{"/metrics": true}

// warnAboutAccess logs, at start, that every route is open when no key is
// configured, and each PUBLIC_ROUTES entry that opens nothing (a typo
// leaves a route closed, which is safe but surprising).
func (s *Server) warnAboutAccess(public []string) {
	if !s.keys.enabled() {
		s.opts.Logger.Warn("no API keys configured (API_KEYS, ADMIN_API_KEYS): every route is open to anyone who can reach the API, and anyone may register definitions and read every execution; set keys before exposing it")
		return
	}
	routes := map[string]bool{}
	for _, r := range s.echo.Routes() {
		routes[r.Path] = true
	}
	for _, p := range public {
		p = normalizeRoute(p)
		if !routes[p] && !defaultPublicRoutes[p] {
			s.opts.Logger.Warn("PUBLIC_ROUTES names no API route; it opens nothing", "route", p)
		}
	}
	s.opts.Logger.Info("API keys required", "publicRoutes", public)
}

// requestLogger logs one line per request with its id, status and latency.
func (s *Server) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:    true,
		LogURI:       true,
		LogStatus:    true,
		LogLatency:   true,
		LogRequestID: true,
		LogRemoteIP:  true,
		// The error handler runs inside the logger so the logged status is
		// the one sent; handleError skips a committed response when echo
		// calls it again.
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			s.opts.Logger.LogAttrs(c.Request().Context(), level, "request",
				slog.String("request_id", v.RequestID),
				slog.String("method", v.Method),
				slog.String("uri", v.URI),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency),
				slog.String("remote_ip", v.RemoteIP))
			return nil
		},
	})
}

// bodyLimitMiddleware answers 413 (in the envelope) for a declared
// Content-Length over the limit, and makes reading past the limit fail
// with *http.MaxBytesError, which handleError maps to 413 as well.
func (s *Server) bodyLimitMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			limit := s.opts.BodyLimit
			if strings.HasPrefix(req.URL.Path, "/codec/") {
				limit = max(limit, codecBodyLimit)
			}
			if req.ContentLength > limit {
				return echo.ErrStatusRequestEntityTooLarge
			}
			if req.Body != nil && req.Body != http.NoBody {
				// The underlying writer, so that net/http closes the connection
				// after a body that was cut off.
				req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, limit)
			}
			return next(c)
		}
	}
}
