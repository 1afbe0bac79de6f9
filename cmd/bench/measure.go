package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

type result struct {
	p50, p95   time.Duration
	p99        time.Duration
	perSecond  float64
	allocPerOp uint64
}

// measure runs op count times on conc goroutines after a short warm-up and
// returns latency percentiles, throughput and allocated bytes per op. settle,
// when not nil, waits for the background work the ops left behind; it runs
// after the warm-up and inside the measured time, so that a scenario pays for
// its own background work and the next one starts without it.
func measure(ctx context.Context, op, settle func(context.Context) error, count, conc int) (result, error) {
	for range min(10, count) {
		if err := op(ctx); err != nil {
			return result{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if settle != nil {
		if err := settle(ctx); err != nil {
			return result{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	latencies := make([]time.Duration, count)
	next := make(chan int)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				if err := op(ctx); err != nil {
					errs <- err
					return
				}
				latencies[i] = time.Since(t)
			}
		}()
	}
feed:
	for i := range count {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			return result{}, err
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return result{}, err
	default:
	}
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}
	if settle != nil {
		if err := settle(ctx); err != nil {
			return result{}, err
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	slices.Sort(latencies)
	return result{
		p50:        latencies[count/2],
		p95:        latencies[count*95/100],
		p99:        latencies[count*99/100],
		perSecond:  float64(count) / elapsed.Seconds(),
		allocPerOp: (after.TotalAlloc - before.TotalAlloc) / uint64(count),
	}, nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func sizeOf(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
