package memguard

import (
	"context"
	"sync"

	"go.temporal.io/sdk/worker"
)

// SlotSupplier returns a worker slot supplier that hands out up to
// maxSlots slots, but while the guard is under pressure only up to floor: tasks in
// flight finish, new ones wait until memory falls. A floor of at least one
// keeps every kind of task moving, so a workflow waiting on a local
// activity (or an activity's completion waiting on a workflow task) is slowed
// down, never stuck. Each worker needs its own supplier per slot kind.
func (g *Guard) SlotSupplier(maxSlots, floor int) worker.SlotSupplier {
	s := &slots{guard: g, max: maxSlots, floor: min(max(floor, 1), maxSlots), changed: make(chan struct{})}
	g.onRelief(s.wake)
	return s
}

type slots struct {
	guard      *Guard
	max, floor int

	mu      sync.Mutex
	used    int
	changed chan struct{} // closed and replaced when a slot is released or the pressure ends
}

// take hands out a slot if one may be had now.
func (s *slots) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.max
	if s.guard.UnderPressure() {
		limit = s.floor
	}
	if s.used >= limit {
		return false
	}
	s.used++
	return true
}

func (s *slots) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}

// ReserveSlot blocks until a slot may be had or ctx ends.
func (s *slots) ReserveSlot(ctx context.Context, _ worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	counted := false
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if s.take() {
			return &worker.SlotPermit{}, nil
		}
		if !counted && s.guard.UnderPressure() {
			s.guard.withheld.Add(1)
			counted = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// TryReserveSlot takes a slot if one may be had now (eager tasks).
func (s *slots) TryReserveSlot(worker.SlotReservationInfo) *worker.SlotPermit {
	if s.take() {
		return &worker.SlotPermit{}
	}
	return nil
}

func (s *slots) MarkSlotUsed(worker.SlotMarkUsedInfo) {}

func (s *slots) ReleaseSlot(worker.SlotReleaseInfo) {
	s.mu.Lock()
	s.used--
	s.mu.Unlock()
	s.wake()
}

func (s *slots) MaxSlots() int { return s.max }
