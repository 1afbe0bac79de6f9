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
// it stops accepting connections and lets requests in flight finish (up to
// MaxWait plus a margin, since an execute request may wait that long).
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
	return httpserve.Serve(ctx, srv, ln, s.opts.MaxWait+5*time.Second)
}
