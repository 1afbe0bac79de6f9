package httpserve

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// A request in flight when the context ends is answered; Serve then
// returns nil.
func TestServeFinishesRequestsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	inFlight := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		time.Sleep(100 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, 5*time.Second) }()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			answered <- 0
			return
		}
		_ = resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-inFlight
	cancel()
	if code := <-answered; code != http.StatusNoContent {
		t.Errorf("request in flight answered %d", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v", err)
	}
}
