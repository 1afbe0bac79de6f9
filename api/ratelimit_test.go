package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// limitedAPI is an API allowing 3 requests a minute per client IP.
func limitedAPI(t *testing.T, trusted ...string) http.Handler {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	o, _ := testOptions(t)
	o.RateLimitMax, o.RateLimitWindow, o.TrustedProxies = 3, time.Minute, prefixes
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

// hit sends GET /api/nowhere (a 404 that touches no backing service; the
// limiter runs before routing's answer) from peer with an X-Forwarded-For.
func hit(h http.Handler, peer, xff string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api/nowhere", nil)
	req.RemoteAddr = peer + ":40000"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func expectLimited(t *testing.T, rec *httptest.ResponseRecorder, limited bool) {
	t.Helper()
	if !limited {
		if rec.Code == http.StatusTooManyRequests {
			t.Fatalf("limited: %s", rec.Body)
		}
		return
	}
	var body errorEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("429 body %s: %v", rec.Body, err)
	}
	// 3 a minute refills one request every 20 s.
	if rec.Code != http.StatusTooManyRequests || body.Error.Code != codeRateLimited || body.Success || rec.Header().Get("Retry-After") != "20" {
		t.Fatalf("got %d %s, Retry-After %q; want 429 rate_limited with Retry-After 20", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}

// Without trusted proxies the TCP peer is the client: rotating
// X-Forwarded-For does not get more requests.
func TestRateLimitIgnoresSpoofedXFF(t *testing.T) {
	h := limitedAPI(t)
	for i := range 3 {
		expectLimited(t, hit(h, "203.0.113.5", fmt.Sprintf("198.51.100.%d", i)), false)
	}
	expectLimited(t, hit(h, "203.0.113.5", "198.51.100.99"), true)
	expectLimited(t, hit(h, "203.0.113.5", ""), true)
	expectLimited(t, hit(h, "203.0.113.6", ""), false) // another client has its own budget
}

// With a trusted proxy range, a peer outside it is still the client, and
// the proxy's X-Forwarded-For names the client: the rightmost address that
// is not a trusted proxy, so a client prepending addresses gains nothing.
func TestRateLimitTrustedProxy(t *testing.T) {
	h := limitedAPI(t, "10.0.0.0/8")
	// Not a trusted proxy (127.0.0.1 is not trusted either: Echo's default
	// trust of loopback and private ranges is switched off).
	for i := range 3 {
		expectLimited(t, hit(h, "127.0.0.1", fmt.Sprintf("198.51.100.%d", i)), false)
	}
	expectLimited(t, hit(h, "127.0.0.1", "198.51.100.77"), true)

	// Through the proxy: each client counted apart.
	for range 3 {
		expectLimited(t, hit(h, "10.1.2.3", "192.0.2.1"), false)
	}
	expectLimited(t, hit(h, "10.1.2.3", "192.0.2.1"), true)
	expectLimited(t, hit(h, "10.1.2.3", "192.0.2.2"), false)
	// Through two proxies: the first untrusted address from the right.
	expectLimited(t, hit(h, "10.1.2.3", "192.0.2.1, 10.9.9.9"), true)
	// A client forging a left-most address is still itself.
	expectLimited(t, hit(h, "10.1.2.3", "203.0.113.200, 192.0.2.1"), true)
}

// The bucket refills at max per window.
func TestRateLimiterRefills(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newRateLimiter(2, time.Second)
	l.now = func() time.Time { return now }
	for range 2 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatal("refused within the budget")
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("third request: %v, wait %s; want refused for 500ms", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("refused after a refill")
	}
	// Idle clients are forgotten after a window.
	now = now.Add(2 * time.Second)
	l.allow("b")
	if _, kept := l.limiters["a"]; kept {
		t.Error("idle client kept")
	}
}
