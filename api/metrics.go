package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// metricsMiddleware records every request's method, route pattern, final
// status and latency. It runs outermost, so requests refused by the rate
// limiter or the body limit are counted too.
func (s *Server) metricsMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				// Rendered here (the request logger has usually rendered it
				// already; handleError skips a committed response) so that
				// the status recorded is the one sent.
				c.Error(err)
			}
			s.opts.Metrics.ObserveRequest(methodLabel(c.Request().Method), routeLabel(c), c.Response().Status, time.Since(start))
			return nil
		}
	}
}

// routeLabel is the route pattern the router matched (the same for every
// execution id), or "unmatched": never the raw path, which would make a
// series per URL.
func routeLabel(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
