package devserver

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func sleepWorkflow(ctx workflow.Context, d time.Duration) error {
	return workflow.Sleep(ctx, d)
}

// timerDelays runs n workflows one after another, each sleeping d, and
// returns each timer's delay as the server recorded it: the time between
// its TimerStarted and TimerFired events.
func timerDelays(t *testing.T, s *Server, n int, d time.Duration) []time.Duration {
	t.Helper()
	c := dial(t, s)
	taskQueue := "devserver-timer"
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(sleepWorkflow)
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var delays []time.Duration
	for i := range n {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, sleepWorkflow, d)
		if err != nil {
			t.Fatalf("run %d: ExecuteWorkflow: %v", i, err)
		}
		if err := run.Get(ctx, nil); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var started, fired time.Time
		it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatalf("run %d: history: %v", i, err)
			}
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				started = e.GetEventTime().AsTime()
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				fired = e.GetEventTime().AsTime()
			}
		}
		if started.IsZero() || fired.IsZero() {
			t.Fatalf("run %d: no TimerStarted/TimerFired in history", i)
		}
		delays = append(delays, fired.Sub(started))
	}
	slices.Sort(delays)
	return delays
}

// TestTimerResolution checks that a 100 ms timer fires in about 100 ms on
// the embedded server, which it does only because embeddedDynamicConfig
// lowers history.timerProcessorMaxTimeShift: at the server's default, 1 s,
// every timer fires ~1 s after it started (p50 ~995 ms here). The bound is
// generous: it checks that the setting applies, not the machine's latency.
// TIMER_MAX_TIME_SHIFT=<duration> overrides the setting to compare, e.g.
// TIMER_MAX_TIME_SHIFT=1s go test -run TestTimerResolution -v (then only the
// figures are logged).
func TestTimerResolution(t *testing.T) {
	t.Parallel()
	o := Options{Logger: quietLogger()}
	shift := os.Getenv("TIMER_MAX_TIME_SHIFT")
	if shift != "" {
		o.DynamicConfig = map[string]any{"history.timerProcessorMaxTimeShift": shift}
	}
	s := startServer(t, o)
	const timer = 100 * time.Millisecond
	delays := timerDelays(t, s, 20, timer)
	p50, maxDelay := delays[len(delays)/2], delays[len(delays)-1]
	t.Logf("100ms timer, 20 runs (timerProcessorMaxTimeShift %q): min %v p50 %v max %v",
		shift, delays[0].Round(time.Millisecond), p50.Round(time.Millisecond), maxDelay.Round(time.Millisecond))
	if delays[0] < timer {
		t.Errorf("a %v timer fired after %v", timer, delays[0])
	}
	if shift == "" && p50 > 500*time.Millisecond {
		t.Errorf("p50 delay of a %v timer = %v, want < 500ms (is history.timerProcessorMaxTimeShift still 1s?)", timer, p50)
	}
}
