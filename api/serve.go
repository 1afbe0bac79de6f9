package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/httpserve"
)

// Handler returns the API as an http.Handler (for httptest or a custom server).
func (s *Server) Handler() http.Handler { return s.echo }

// Serve serves the API on ln until ctx ends, then shuts down gracefully:
// it stops accepting connections and lets requests in flight finish (for
// DrainTimeout: an execute request may wait MaxWait).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		s.loopbackOnly.Store(true)
	}
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// An execute request may legitimately wait MaxWait for a result.
		WriteTimeout: s.opts.MaxWait + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	return httpserve.Serve(ctx, srv, ln, DrainTimeout(s.opts.MaxWait))
}

// DrainTimeout is how long Serve lets requests in flight finish after its
// context ends, given the longest an execute request may wait (MaxWait,
// EXECUTE_WAIT_MAX): a deployment's termination grace period must outlast
// it (deploy/k8s_test.go).
func DrainTimeout(maxWait time.Duration) time.Duration { return maxWait + 5*time.Second }
