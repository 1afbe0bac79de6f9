package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Error code of the rate limiter (append only).
const codeRateLimited = "rate_limited"

// ipExtractor finds the client IP the rate limiter keys on. Without
// trusted proxies it is the TCP peer: X-Forwarded-For is ignored, since
// anyone can send it (Echo's limiter keys on it by default, and rotating
// it would bypass the limit). With trusted proxies, X-Forwarded-For is
// walked from the right and the first address that is not a trusted proxy
// is the client; a peer that is not a trusted proxy is the client whatever
// it sends.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{
		// Echo trusts loopback, link-local and private ranges by default:
		// only the configured proxies are trusted here.
		echo.TrustLoopback(false),
		echo.TrustLinkLocal(false),
		echo.TrustPrivateNet(false),
	}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// rateLimiter is a token bucket per client IP: max requests per window,
// refilled evenly (so a burst of max is allowed, then max per window).
type rateLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	limiters map[string]*visitor
	lastGC   time.Time
}

type visitor struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newRateLimiter(max int, window time.Duration) *rateLimiter {
	return &rateLimiter{max: max, window: window, now: time.Now, limiters: map[string]*visitor{}}
}

// allow takes a token for ip, or says how long until one is available.
func (l *rateLimiter) allow(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.collect(now)
	v, ok := l.limiters[ip]
	if !ok {
		every := l.window / time.Duration(l.max)
		v = &visitor{limiter: rate.NewLimiter(rate.Every(max(every, time.Nanosecond)), l.max)}
		l.limiters[ip] = v
	}
	v.seen = now
	r := v.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// collect forgets IPs idle for a full window (their bucket is full again,
// so forgetting them changes nothing), at most once per window.
func (l *rateLimiter) collect(now time.Time) {
	if now.Sub(l.lastGC) < l.window {
		return
	}
	l.lastGC = now
	for ip, v := range l.limiters {
		if now.Sub(v.seen) >= l.window {
			delete(l.limiters, ip)
		}
	}
}

// rateLimitMiddleware answers 429 rate_limited with Retry-After (whole
// seconds, at least 1) once a client IP has used its requests.
func (s *Server) rateLimitMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			allowed, wait := s.limiter.allow(c.RealIP())
			if allowed {
				return next(c)
			}
			secs := max(int(math.Ceil(wait.Seconds())), 1)
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return newError(http.StatusTooManyRequests, codeRateLimited,
				fmt.Sprintf("too many requests from this address: retry in %d s (Retry-After)", secs))
		}
	}
}
