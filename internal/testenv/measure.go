package testenv

import (
	"bytes"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// HeapGrowth runs f while sampling the process's live heap every
// millisecond, and returns how far the heap grew above where it started: a
// test of a memory bound fails when the allocation happens, not only when
// the process dies of it.
func HeapGrowth(f func()) uint64 {
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		rtmetrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	start := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	if v := read(); v > peak.Load() {
		peak.Store(v)
	}
	if p := peak.Load(); p > start {
		return p - start
	}
	return 0
}

// LockedBuffer is an io.Writer that goroutines may share (a logger's or a
// process's output), read with String.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
