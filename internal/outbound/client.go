package outbound

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a request follows before it is refused.
const MaxRedirects = 5

// The bounds of a connection's steps.
const (
	dialTimeout                  = 5 * time.Second // TCP connect
	tlsHandshakeTimeout          = 5 * time.Second
	defaultResponseHeaderTimeout = 30 * time.Second // from the request written to the response headers
)

// Options configures NewClient. Zero durations take the defaults.
type Options struct {
	// Allow lists destinations allowed although they are in a refused range:
	// CIDRs ("10.1.0.0/16"), addresses ("127.0.0.1") or host names
	// ("payments.internal"; matched case-insensitively against the URL's host,
	// whose addresses are then not checked).
	Allow []string

	Timeout time.Duration // the whole request, body read included; default 60s

	// responseHeaderTimeout replaces defaultResponseHeaderTimeout when set
	// (by tests).
	responseHeaderTimeout time.Duration

	// OnConnect, if set, is called with each address the client is about to
	// connect to, once the policy has allowed it and before the connection is
	// attempted. Tests use it to prove a refused address is never dialled.
	OnConnect func(network, address string)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// NewClient returns an HTTP client that applies the outbound policy (see the
// package comment) to every request, redirect and connection. Errors caused by
// the policy wrap a *RefusedError.
func NewClient(o Options) (*http.Client, error) {
	p, err := newPolicy(o.Allow)
	if err != nil {
		return nil, err
	}
	d := &dialer{
		policy:    p,
		base:      net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		onConnect: o.OnConnect,
	}
	transport := &http.Transport{
		Proxy:                  nil, // see the package comment
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ResponseHeaderTimeout:  orDefault(o.responseHeaderTimeout, defaultResponseHeaderTimeout),
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: &guard{policy: p, next: transport},
		Timeout:   orDefault(o.Timeout, 60*time.Second),
		// Each hop's URL is checked by guard like the first request's; here
		// only the number of hops is bounded.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return &RefusedError{Host: req.URL.Host, Reason: fmt.Sprintf("more than %d redirects", MaxRedirects)}
			}
			return nil
		},
	}, nil
}

// guard checks the URL of every request the client sends, the first one and
// each redirect hop, before the transport opens or reuses a connection.
type guard struct {
	policy *policy
	next   http.RoundTripper
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.policy.checkURL(req.URL); err != nil {
		// A RoundTripper must close the request body, even on error.
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return g.next.RoundTrip(req)
}

// dialer checks every address it is about to connect to: the transport hands
// it the URL's host name, net.Dialer resolves it, and the Control hook sees
// each resolved address after the socket is created but before connect(2), so
// nothing is sent to a refused address.
type dialer struct {
	policy    *policy
	base      net.Dialer
	onConnect func(network, address string)
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	checked := !d.policy.hostAllowed(host)
	nd := d.base // a copy: the Control hook depends on the host
	nd.ControlContext = func(_ context.Context, network, address string, _ syscall.RawConn) error {
		if checked {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &RefusedError{Host: address, Reason: "not an IP address and port"}
			}
			if err := d.policy.checkAddr(ap.Addr()); err != nil {
				if _, perr := netip.ParseAddr(host); perr != nil {
					// A name: saying what it resolved to would let a
					// definition map the internal network through its
					// errors.
					return &RefusedError{Host: host, Reason: "the name resolves to an address the policy refuses " +
						"(private, loopback, link-local or another special range); allow it in the outbound allow-list if this is intended"}
				}
				return err
			}
		}
		if d.onConnect != nil {
			d.onConnect(network, address)
		}
		return nil
	}
	return nd.DialContext(ctx, network, addr)
}
