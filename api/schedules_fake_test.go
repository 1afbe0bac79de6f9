package api

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// fakeSchedules is Schedules in memory: it keeps the options of each
// schedule created and what was done to it, and describes it as Temporal
// would (encoded memo, untyped search attributes, the action's argument as
// a payload).
type fakeSchedules struct {
	mu        sync.Mutex
	schedules map[string]*fakeSchedule
	order     []string
	// createErr, when set, is what the next Create returns.
	createErr error
	// queries records the List queries.
	queries []string
}

type fakeSchedule struct {
	opts     client.ScheduleOptions
	paused   bool
	note     string
	triggers []client.ScheduleTriggerOptions
}

func newFakeSchedules() *fakeSchedules {
	return &fakeSchedules{schedules: map[string]*fakeSchedule{}}
}

// get returns the schedule id (nil when there is none).
func (f *fakeSchedules) get(id string) *fakeSchedule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.schedules[id]
}

func (f *fakeSchedules) Create(_ context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.createErr; err != nil {
		f.createErr = nil
		return nil, err
	}
	if _, taken := f.schedules[o.ID]; taken {
		return nil, temporal.ErrScheduleAlreadyRunning
	}
	f.schedules[o.ID] = &fakeSchedule{opts: o, paused: o.Paused, note: o.Note}
	f.order = append(f.order, o.ID)
	return fakeScheduleHandle{f: f, id: o.ID}, nil
}

func (f *fakeSchedules) List(_ context.Context, o client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, o.Query)
	var entries []*client.ScheduleListEntry
	for _, id := range f.order {
		if sch, ok := f.schedules[id]; ok {
			entries = append(entries, &client.ScheduleListEntry{
				ID: id, Paused: sch.paused, Note: sch.note, Memo: encodeMemo(sch.opts.Memo),
				SearchAttributes: untypedAttributes(sch.opts.TypedSearchAttributes),
			})
		}
	}
	return &fakeScheduleIterator{entries: entries}, nil
}

func (f *fakeSchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return fakeScheduleHandle{f: f, id: id}
}

type fakeScheduleIterator struct{ entries []*client.ScheduleListEntry }

func (it *fakeScheduleIterator) HasNext() bool { return len(it.entries) > 0 }
func (it *fakeScheduleIterator) Next() (*client.ScheduleListEntry, error) {
	e := it.entries[0]
	it.entries = it.entries[1:]
	return e, nil
}

type fakeScheduleHandle struct {
	f  *fakeSchedules
	id string
}

func (h fakeScheduleHandle) GetID() string { return h.id }

// with runs do on the schedule, or answers Temporal's NotFound.
func (h fakeScheduleHandle) with(do func(*fakeSchedule)) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	sch, ok := h.f.schedules[h.id]
	if !ok {
		return serviceerror.NewNotFound("schedule not found")
	}
	do(sch)
	return nil
}

func (h fakeScheduleHandle) Delete(context.Context) error {
	return h.with(func(*fakeSchedule) {
		delete(h.f.schedules, h.id)
		h.f.order = slices.DeleteFunc(h.f.order, func(id string) bool { return id == h.id })
	})
}

func (h fakeScheduleHandle) Backfill(context.Context, client.ScheduleBackfillOptions) error {
	return errors.New("fake: backfill is not used")
}

func (h fakeScheduleHandle) Update(context.Context, client.ScheduleUpdateOptions) error {
	return errors.New("fake: update is not used")
}

func (h fakeScheduleHandle) Describe(context.Context) (*client.ScheduleDescription, error) {
	var d *client.ScheduleDescription
	err := h.with(func(sch *fakeSchedule) {
		action := *sch.opts.Action.(*client.ScheduleWorkflowAction)
		args := make([]any, len(action.Args))
		for i, a := range action.Args {
			p, err := converter.GetDefaultDataConverter().ToPayload(a)
			if err != nil {
				panic(err)
			}
			args[i] = p
		}
		action.Args = args
		spec := sch.opts.Spec
		d = &client.ScheduleDescription{
			Schedule: client.Schedule{
				Action: &action,
				Spec:   &spec,
				Policy: &client.SchedulePolicies{Overlap: sch.opts.Overlap},
				State:  &client.ScheduleState{Paused: sch.paused, Note: sch.note},
			},
			Info: client.ScheduleInfo{
				NumActions: len(sch.triggers),
				CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				NextActionTimes: []time.Time{
					time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC),
				},
			},
			Memo:             encodeMemo(sch.opts.Memo),
			SearchAttributes: untypedAttributes(sch.opts.TypedSearchAttributes),
		}
		for i := range sch.triggers {
			id := action.ID + "-2026-01-02T00:00:0" + string(rune('0'+i)) + "Z"
			d.Info.RecentActions = append(d.Info.RecentActions, client.ScheduleActionResult{
				ScheduleTime:        time.Date(2026, 1, 2, 0, 0, i, 0, time.UTC),
				ActualTime:          time.Date(2026, 1, 2, 0, 0, i, 0, time.UTC),
				StartWorkflowResult: &client.ScheduleWorkflowExecution{WorkflowID: id, FirstExecutionRunID: id + "-run"},
			})
		}
	})
	return d, err
}

func (h fakeScheduleHandle) Trigger(_ context.Context, o client.ScheduleTriggerOptions) error {
	return h.with(func(sch *fakeSchedule) { sch.triggers = append(sch.triggers, o) })
}

func (h fakeScheduleHandle) Pause(_ context.Context, o client.SchedulePauseOptions) error {
	return h.with(func(sch *fakeSchedule) { sch.paused, sch.note = true, o.Note })
}

func (h fakeScheduleHandle) Unpause(_ context.Context, o client.ScheduleUnpauseOptions) error {
	return h.with(func(sch *fakeSchedule) { sch.paused, sch.note = false, o.Note })
}

func encodeMemo(m map[string]any) *commonpb.Memo {
	memo := &commonpb.Memo{Fields: map[string]*commonpb.Payload{}}
	for k, v := range m {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			panic(err)
		}
		memo.Fields[k] = p
	}
	return memo
}

// untypedAttributes are typed search attributes as Temporal's describe
// and list give them back.
func untypedAttributes(sa temporal.SearchAttributes) *commonpb.SearchAttributes {
	out := &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{}}
	for key, v := range sa.GetUntypedValues() {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			panic(err)
		}
		out.IndexedFields[key.GetName()] = p
	}
	return out
}
