package memguard

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMemory is an injected memory reading.
type fakeMemory struct{ v atomic.Uint64 }

func (f *fakeMemory) read() uint64 { return f.v.Load() }

func newTestGuard(t *testing.T) (*Guard, *fakeMemory, *bytes.Buffer) {
	t.Helper()
	mem := &fakeMemory{}
	var logs bytes.Buffer
	g := New(Options{Limit: 1000, Threshold: 0.8, Read: mem.read, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	return g, mem, &logs
}

func TestGuardCrossesWithHysteresis(t *testing.T) {
	g, mem, logs := newTestGuard(t)
	// Threshold 800 bytes; pressure ends under 720.
	steps := []struct {
		inUse    uint64
		pressure bool
	}{
		{500, false},
		{800, false}, // at the threshold, not above
		{801, true},
		{900, true},
		{750, true}, // under the threshold, above the low mark: holds
		{720, true},
		{719, false},
		{790, false}, // under the threshold again: stays off
		{850, true},
	}
	for i, s := range steps {
		mem.v.Store(s.inUse)
		g.Sample()
		if g.UnderPressure() != s.pressure {
			t.Fatalf("step %d (%d bytes): pressure %v, want %v", i, s.inUse, g.UnderPressure(), s.pressure)
		}
	}
	if n := strings.Count(logs.String(), "memory above the threshold"); n != 2 {
		t.Errorf("%d warnings going up, want one per crossing (2):\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "memory back under the threshold"); n != 1 {
		t.Errorf("%d warnings going down, want 1:\n%s", n, logs)
	}
	st := g.Stats()
	if st.Episodes != 2 || st.InUseBytes != 850 || st.ThresholdBytes != 800 || st.ResumeBytes != 720 || !st.UnderPressure {
		t.Errorf("stats %+v", st)
	}
}

func TestSlotsWithheldUnderPressure(t *testing.T) {
	g, mem, _ := newTestGuard(t)
	s := g.SlotSupplier(3, 1)
	ctx := context.Background()
	reserve := func() <-chan struct{} {
		done := make(chan struct{})
		go func() {
			if _, err := s.ReserveSlot(ctx, nil); err == nil {
				close(done)
			}
		}()
		return done
	}
	granted := func(done <-chan struct{}) bool {
		select {
		case <-done:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}
	// Normal: up to max.
	for i := range 3 {
		if !granted(reserve()) {
			t.Fatalf("slot %d of 3 not granted", i+1)
		}
	}
	if s.TryReserveSlot(nil) != nil {
		t.Fatal("a fourth slot over max")
	}
	// Under pressure, releasing two leaves one in use: the floor, so a
	// new reservation waits.
	mem.v.Store(900)
	g.Sample()
	s.ReleaseSlot(nil)
	s.ReleaseSlot(nil)
	waiting := reserve()
	if granted(waiting) {
		t.Fatal("a slot was granted above the floor under pressure")
	}
	if s.TryReserveSlot(nil) != nil {
		t.Fatal("an eager slot was granted above the floor under pressure")
	}
	if g.Stats().Withheld == 0 {
		t.Error("the withheld slot was not counted")
	}
	// The last one in flight finishes: the floor lets one through.
	s.ReleaseSlot(nil)
	if !granted(waiting) {
		t.Fatal("the floor's slot was not granted")
	}
	// Memory falls under the low mark: normal limits again, and waiting
	// reservations wake up.
	second, third := reserve(), reserve()
	if granted(second) {
		t.Fatal("over the floor under pressure")
	}
	mem.v.Store(100)
	g.Sample()
	if !granted(second) || !granted(third) {
		t.Fatal("slots not granted once memory fell")
	}
}

func TestReserveSlotStopsWithItsContext(t *testing.T) {
	g, mem, _ := newTestGuard(t)
	s := g.SlotSupplier(1, 1)
	mem.v.Store(900)
	g.Sample()
	if _, err := s.ReserveSlot(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.ReserveSlot(ctx, nil); err == nil {
		t.Fatal("a slot over the limit")
	}
}

func TestInUseReadsTheRuntime(t *testing.T) {
	if v := InUse(); v < 1<<20 {
		t.Errorf("InUse = %d, want the process's megabytes", v)
	}
}
