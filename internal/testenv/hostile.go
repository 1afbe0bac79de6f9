package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// DoublingExpr is a CEL expression that nests cel.bind n times, each
// doubling the previous value with `+` (2^n times seed), then evaluates
// use, which may name v0 … vn.
func DoublingExpr(seed string, n int, use string) string {
	src := use
	for i := n; i > 0; i-- {
		src = fmt.Sprintf("cel.bind(v%d, v%d + v%d, %s)", i, i-1, i-1, src)
	}
	return fmt.Sprintf("cel.bind(v0, %s, %s)", seed, src)
}

// SharingExpr is a CEL expression that nests cel.bind n times, each a list
// literal holding the previous value ten times (10^n elements as a walk
// sees them, built for free), then evaluates use.
func SharingExpr(n int, use string) string {
	src := use
	for i := n; i > 0; i-- {
		p := fmt.Sprintf("v%d", i-1)
		src = fmt.Sprintf("cel.bind(v%d, [%s], %s)", i, strings.Repeat(p+", ", 9)+p, src)
	}
	return "cel.bind(v0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], " + src + ")"
}

// SkipUnderRace skips a CPU-bound test whose goroutines share no memory
// (a context cancelled from another goroutine at most) when the race
// detector is on: the detector makes such a test ten or more times slower
// and has nothing to find in it. `make test` runs the package a second
// time without the detector (the Makefile's PLAIN_PKGS), where the test
// runs.
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if Race {
		t.Skip("CPU-bound, shares no memory between goroutines: runs without -race (make test-server)")
	}
}
