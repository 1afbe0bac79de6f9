// Package httpserve runs an http.Server until a context ends and then
// shuts it down gracefully: how the API and a worker's /metrics serve.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves srv on ln until ctx ends, then stops accepting connections
// and lets the requests in flight finish, for up to grace. It returns nil
// after a clean shutdown, else the server's or the shutdown's error.
// Requests keep their own contexts when ctx ends: the shutdown lets them
// finish instead of cutting them off.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
