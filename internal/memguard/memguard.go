// Package memguard keeps a process under its memory budget (MAX_MEMORY).
//
// It sets the Go runtime's soft memory limit to the budget, so the garbage
// collector works harder before the process grows past it, and it watches
// the memory in use: above the threshold (MEMORY_THRESHOLD × MAX_MEMORY) the
// process is under pressure until the memory falls back under a lower mark
// (hysteresis, so the state does not flap at the threshold). While under
// pressure the API refuses to start new executions (503) and the workers
// hand out no new task slots beyond a floor (SlotSupplier), so the work in
// flight finishes and releases memory instead of more work piling on. Each
// crossing is logged once.
package memguard

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Guard.
type Options struct {
	// Limit is the memory budget in bytes (MAX_MEMORY). Required.
	Limit uint64
	// Threshold is the fraction of Limit above which the process is under
	// pressure (MEMORY_THRESHOLD), in (0, 1]. Required.
	Threshold float64
	// Logger receives a warning at each crossing. Required.
	Logger *slog.Logger
	// Read returns the memory in use. Optional: default InUse (tests inject
	// their own).
	Read func() uint64
	// Interval is how often the memory is read. Optional: default 250ms.
	Interval time.Duration
}

// reclaimInterval is how often, under pressure, the guard forces a garbage
// collection that returns free memory to the system.
const reclaimInterval = 5 * time.Second

// recoverFraction places the low mark: pressure ends once memory falls
// under 90% of the threshold.
const recoverFraction = 0.9

// Guard is the memory state of one process. It is safe for concurrent use.
type Guard struct {
	limit    uint64
	high     uint64 // pressure starts above
	low      uint64 // pressure ends below
	read     func() uint64
	interval time.Duration
	log      *slog.Logger

	// lastReclaim is when Sample last returned free memory to the system
	// under pressure (only Sample, on the Watch goroutine, uses it).
	lastReclaim time.Time

	inUse    atomic.Uint64
	pressure atomic.Bool
	refused  atomic.Uint64
	withheld atomic.Uint64
	episodes atomic.Uint64

	mu      sync.Mutex
	waiters []func() // slot suppliers to wake when pressure ends
}

// New returns a guard; call Watch to keep its state current.
func New(o Options) *Guard {
	if o.Read == nil {
		o.Read = InUse
	}
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	high := uint64(float64(o.Limit) * o.Threshold)
	return &Guard{
		limit:    o.Limit,
		high:     high,
		low:      uint64(float64(high) * recoverFraction),
		read:     o.Read,
		interval: o.Interval,
		log:      o.Logger,
	}
}

// ApplyLimit sets the Go runtime's soft memory limit to the budget, unless
// the GOMEMLIMIT environment variable already set one (the runtime has
// applied it; it then stays, and is what the runtime works to). It says
// which limit is in force.
func (g *Guard) ApplyLimit() string {
	if os.Getenv("GOMEMLIMIT") != "" {
		return "GOMEMLIMIT"
	}
	debug.SetMemoryLimit(int64(min(g.limit, math.MaxInt64)))
	return "MAX_MEMORY"
}

// InUse is the memory the process holds from the system as the Go runtime
// accounts it: everything it has mapped minus the heap it has given back.
// It is the quantity the runtime's soft memory limit governs, so the guard
// and the garbage collector agree on what "over budget" means; it is read
// from runtime/metrics, which does not stop the world.
func InUse() uint64 {
	samples := []rtmetrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	rtmetrics.Read(samples)
	total, released := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	if released > total {
		return 0
	}
	return total - released
}

// Watch samples the memory every interval until ctx ends.
func (g *Guard) Watch(ctx context.Context) {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	g.Sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Sample()
		}
	}
}

// Sample reads the memory once and updates the state, logging a crossing.
func (g *Guard) Sample() {
	used := g.read()
	g.inUse.Store(used)
	switch under := g.pressure.Load(); {
	case !under && used > g.high:
		g.pressure.Store(true)
		g.episodes.Add(1)
		g.log.Warn("memory above the threshold: new executions are refused (503) and workers take no new tasks until it falls",
			"inUseBytes", used, "thresholdBytes", g.high, "maxMemoryBytes", g.limit)
	case under && used < g.low:
		g.pressure.Store(false)
		g.log.Warn("memory back under the threshold: executions and tasks accepted again",
			"inUseBytes", used, "resumeBelowBytes", g.low, "maxMemoryBytes", g.limit)
		g.mu.Lock()
		waiters := g.waiters
		g.mu.Unlock()
		for _, wake := range waiters {
			wake()
		}
	case under && time.Since(g.lastReclaim) >= reclaimInterval:
		// Garbage left by a spike counts as in use until the collector
		// runs and the runtime returns the pages: do both now, rather than
		// stay under pressure waiting for the next cycle.
		g.lastReclaim = time.Now()
		debug.FreeOSMemory()
	}
}

// UnderPressure says whether the memory is above the threshold (and has
// not yet fallen under the low mark).
func (g *Guard) UnderPressure() bool { return g.pressure.Load() }

// Refuse counts a request refused because of the pressure.
func (g *Guard) Refuse() { g.refused.Add(1) }

// Stats is the guard's state, for statistics and metrics.
type Stats struct {
	InUseBytes     uint64 `json:"inUseBytes"`
	MaxBytes       uint64 `json:"maxBytes"`
	ThresholdBytes uint64 `json:"thresholdBytes"`
	ResumeBytes    uint64 `json:"resumeBelowBytes"`
	UnderPressure  bool   `json:"underPressure"`
	// Episodes counts the times memory crossed the threshold.
	Episodes uint64 `json:"pressureEpisodes"`
	// Refused counts the requests refused under pressure.
	Refused uint64 `json:"refusedRequests"`
	// Withheld counts the task slots a worker waited for under pressure.
	Withheld uint64 `json:"withheldSlots"`
}

// Stats returns the current state.
func (g *Guard) Stats() Stats {
	return Stats{
		InUseBytes:     g.inUse.Load(),
		MaxBytes:       g.limit,
		ThresholdBytes: g.high,
		ResumeBytes:    g.low,
		UnderPressure:  g.pressure.Load(),
		Episodes:       g.episodes.Load(),
		Refused:        g.refused.Load(),
		Withheld:       g.withheld.Load(),
	}
}

// onRelief registers wake, called each time the pressure ends.
func (g *Guard) onRelief(wake func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiters = append(g.waiters, wake)
}
