package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/internal/memguard"
)

// MemoryGuard is what the API asks of the process's memory guard
// (memguard.Guard).
type MemoryGuard interface {
	UnderPressure() bool
	// Refuse counts a request refused because of the pressure.
	Refuse()
	Stats() memguard.Stats
}

// memoryRetryAfter is the Retry-After of a request refused for memory: a
// few garbage collections and finished tasks later.
const memoryRetryAfter = 5

// memoryGate refuses to start executions while the process is short of
// memory: 503 memory_pressure with Retry-After. It sits on the routes that
// start executions only; reads, signals, cancels, registration and /health
// go on, so running executions can be followed and finished.
func (s *Server) memoryGate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.opts.Memory == nil || !s.opts.Memory.UnderPressure() {
				return next(c)
			}
			s.opts.Memory.Refuse()
			c.Response().Header().Set("Retry-After", strconv.Itoa(memoryRetryAfter))
			return newError(http.StatusServiceUnavailable, codeMemoryPressure,
				"the server is short of memory and starts no new executions for now; retry later (running executions go on)")
		}
	}
}
