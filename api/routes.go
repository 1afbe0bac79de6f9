package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/workflow-backend/workflow-backend/workflows"
)

// routes is the whole HTTP surface of the API (DESIGN §5).
//
// Not yet here (later issues): GET /api/workflows/statistics (the definition
// id "statistics" is reserved for it) and GET /metrics.
func (s *Server) routes() {
	e := s.echo
	e.Use(
		middleware.RequestID(),
		s.requestLogger(),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.log.LogAttrs(c.Request().Context(), slog.LevelError, "panic in handler",
					slog.String("request_id", requestID(c)),
					slog.Any("error", err),
					slog.String("stack", string(stack)))
				return err
			},
		}),
		s.bodyLimitMiddleware(),
	)

	e.GET("/health", s.health)

	e.POST("/api/workflows", s.registerDefinition)
	e.GET("/api/workflows", s.listDefinitions)
	e.GET("/api/workflows/:id", s.getDefinition)
	e.GET("/api/workflows/:id/versions/:version", s.getDefinitionVersion)
	e.POST("/api/workflows/:id/execute", s.execute)

	e.GET("/api/executions", s.listExecutions)
	e.GET("/api/executions/:executionId", s.getExecution)
	e.POST("/api/executions/:executionId/signals/:name", s.signal)
	e.POST("/api/executions/:executionId/cancel", s.cancel)

	// The pre-configured flows (package workflows) and the products the
	// order flow sells.
	e.POST("/api/users/register", s.flow(workflows.UserRegistration, http.StatusCreated, nil))
	e.POST("/api/orders/process", s.flow(workflows.OrderProcessing, http.StatusCreated, s.checkPaymentMethod))
	e.GET("/api/products", s.listProducts)
	e.GET("/api/products/:id", s.getProduct)

	// The codec server for the Web UI and the CLI (codec.go): POST
	// /codec/encode and /codec/decode, with CORS and their own auth.
	s.codecRoutes()
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
			s.log.LogAttrs(c.Request().Context(), level, "request",
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
			limit := s.bodyLimit
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
