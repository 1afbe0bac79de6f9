package outbound

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is an httptest server on 127.0.0.1 that counts the connections it
// accepts and the requests it serves.
type server struct {
	*httptest.Server
	conns, requests atomic.Int32
}

func newServer(t *testing.T, handler http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		handler(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("test server listens on %s, want 127.0.0.1", s.URL)
	}
	return s
}

// port returns the server's port.
func (s *server) port() string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

// connectLog records the addresses the client connected to.
type connectLog struct {
	mu    sync.Mutex
	addrs []string
}

func (l *connectLog) record(_, address string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addrs = append(l.addrs, address)
}

func (l *connectLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.addrs...)
}

func newClient(t *testing.T, log *connectLog, allow ...string) *http.Client {
	t.Helper()
	c, err := NewClient(Options{Allow: allow, OnConnect: log.record})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestRefusedBeforeConnecting proves a refused destination gets no
// connection: the hook sees no connect attempt and the server (the only
// listener the refused loopback URLs could reach) accepts none. Refused
// addresses outside loopback are literals refused before any dial.
func TestRefusedBeforeConnecting(t *testing.T) {
	srv := newServer(t, func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name, url string
		atDial    bool // refused by the dial-time check, not the URL check
	}{
		{"loopback literal", srv.URL + "/", false},
		{"name resolving to loopback", "http://localhost:" + srv.port() + "/", true},
		{"IPv6 loopback", "http://[::1]:" + srv.port() + "/", false},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + srv.port() + "/", false},
		{"private", "http://10.0.0.1/", false},
		{"metadata", "http://169.254.169.254/latest/meta-data/", false},
		{"unspecified", "http://0.0.0.0:" + srv.port() + "/", false},
		{"scheme", "ftp://127.0.0.1:" + srv.port() + "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &connectLog{}
			_, err := get(newClient(t, log), tt.url)
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("err = %v, want a *RefusedError", err)
			}
			var opErr *net.OpError
			if atDial := errors.As(err, &opErr); atDial != tt.atDial {
				t.Fatalf("refused at dial = %v, want %v (%v)", atDial, tt.atDial, err)
			}
			if got := log.list(); len(got) > 0 {
				t.Fatalf("connect attempts %v to a refused destination", got)
			}
		})
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("the server accepted %d connections", n)
	}
}

func TestAllowList(t *testing.T) {
	srv := newServer(t, func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name, url string
		allow     []string
	}{
		{"address", srv.URL, []string{"127.0.0.1"}},
		{"CIDR", srv.URL, []string{"127.0.0.0/8"}},
		{"host name", "http://LocalHost:" + srv.port(), []string{"localhost"}},
		// localhost may also resolve to ::1, which stays refused: the dialer
		// falls back to 127.0.0.1.
		{"name resolving to an allowed address", "http://localhost:" + srv.port(), []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &connectLog{}
			status, err := get(newClient(t, log, tt.allow...), tt.url)
			if err != nil || status != http.StatusOK {
				t.Fatalf("status %d, err %v", status, err)
			}
			want := "127.0.0.1:" + srv.port()
			if got := log.list(); len(got) == 0 || got[len(got)-1] != want {
				t.Fatalf("connected to %v, want last %s", got, want)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/private-v6":
			http.Redirect(w, r, "http://[fd00::1]/", http.StatusTemporaryRedirect)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/hops":
			http.Redirect(w, r, "/ok", http.StatusFound)
		}
	})
	tests := []struct {
		path     string
		refused  string // "" when the request succeeds
		requests int32
	}{
		{"/metadata", "link-local", 1},
		{"/private-v6", "unique local", 1},
		{"/file", `scheme "file"`, 1},
		{"/loop", "more than 5 redirects", MaxRedirects + 1},
		{"/hops", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			srv.requests.Store(0)
			log := &connectLog{}
			_, err := get(newClient(t, log, "127.0.0.1"), srv.URL+tt.path)
			if tt.refused == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var refused *RefusedError
				if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tt.refused) {
					t.Fatalf("err = %v, want a refusal mentioning %q", err, tt.refused)
				}
			}
			if n := srv.requests.Load(); n != tt.requests {
				t.Fatalf("server saw %d requests, want %d", n, tt.requests)
			}
			for _, addr := range log.list() {
				if addr != "127.0.0.1:"+srv.port() {
					t.Fatalf("connected to %s", addr)
				}
			}
		})
	}
}

// A host allowed by name does not open its address to redirects: a
// redirect from localhost (allowed) to the loopback literal is refused
// before any connection to it.
func TestRedirectFromAllowedNameToLiteral(t *testing.T) {
	var srv *server
	srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+srv.port()+"/", http.StatusFound)
	})
	log := &connectLog{}
	_, err := get(newClient(t, log, "localhost"), "http://localhost:"+srv.port()+"/")
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "loopback") {
		t.Fatalf("err = %v, want a loopback refusal", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("server saw %d requests, want 1 (the redirect)", n)
	}
}

func TestTimeouts(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	tests := []struct {
		name string
		opts Options
	}{
		{"response header", Options{responseHeaderTimeout: 50 * time.Millisecond}},
		{"overall", Options{Timeout: 50 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Allow = []string{"127.0.0.1"}
			c, err := NewClient(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = get(c, srv.URL)
			var netErr net.Error
			if !errors.As(err, &netErr) || !netErr.Timeout() {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("took %v", elapsed)
			}
		})
	}
}
