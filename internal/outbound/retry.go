package outbound

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds the delay RetryAfter returns. Callers here retry within
// bounded windows (an I/O node's schedule-to-close defaults to one hour), so
// waiting longer could only end in a timeout; the bound also keeps a huge
// value from overflowing a time.Duration.
const MaxRetryAfter = time.Hour

// RetryAfter reads a Retry-After header value, delay-seconds or an HTTP date,
// as a delay from now, at most MaxRetryAfter. Zero (absent, unreadable or in
// the past) leaves the delay to the caller's retry policy.
func RetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	secs, err := strconv.ParseUint(value, 10, 64)
	switch {
	case err == nil && secs <= uint64(MaxRetryAfter/time.Second):
		return time.Duration(secs) * time.Second
	case err == nil || errors.Is(err, strconv.ErrRange): // digits only: too many seconds
		return MaxRetryAfter
	}
	if at, err := http.ParseTime(value); err == nil {
		return max(0, min(at.Sub(now), MaxRetryAfter))
	}
	return 0
}
