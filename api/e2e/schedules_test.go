package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// scheduleView is a schedule as the API shows it.
type scheduleView struct {
	ScheduleID       string          `json:"scheduleId"`
	DefinitionID     string          `json:"definitionId"`
	Version          string          `json:"version"`
	Cron             string          `json:"cron"`
	Every            string          `json:"every"`
	Overlap          string          `json:"overlap"`
	Paused           bool            `json:"paused"`
	Note             string          `json:"note"`
	Input            json.RawMessage `json:"input"`
	NextRunTimes     []time.Time     `json:"nextRunTimes"`
	RecentExecutions []struct {
		ExecutionID string `json:"executionId"`
		RunID       string `json:"runId"`
		StatusURL   string `json:"statusUrl"`
	} `json:"recentExecutions"`
	Actions *int `json:"actions"`
}

// scheduledDefinition registers (as the admin of the keyed API at base) a
// definition that greets input.name, whose inputSchema requires it.
func scheduledDefinition(t *testing.T, base string) string {
	t.Helper()
	id := uniqueID("t-sched")
	def := apitest.Definition(id, "1.0.0", "greet", []map[string]any{
		apitest.Transform("greet", map[string]string{"greeting": `"hello " + input.name`}),
	}, nil)
	def["inputSchema"] = map[string]any{
		"type": "object", "required": []string{"name"},
		"properties": map[string]any{"name": map[string]any{"type": "string"}},
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def, bearer(opsKey)...), http.StatusCreated, "")
	return id
}

// A schedule every second starts executions of the pinned definition with
// its input; they complete with the right output, carry the schedule's id
// and their creator's; pause stops the runs, unpause resumes them, trigger
// starts one at once (also while paused), delete removes the schedule.
// Another client sees none of it; the admin sees all.
func TestScheduleLifecycle(t *testing.T) {
	base := keyedAPI(t, nil)
	defID := scheduledDefinition(t, base)
	alice, bob, ops := bearer(aliceKey), bearer(bobKey), bearer(opsKey)
	schedID := uniqueID("every-second")

	r := callAt(t, base, http.MethodPost, "/api/workflows/"+defID+"/schedules", map[string]any{
		"id": schedID, "every": "1s", "input": map[string]any{"name": "ada"},
	}, alice...)
	apitest.Expect(t, r, http.StatusCreated, "")
	var created scheduleView
	r.DecodeData(t, &created)
	if created.ScheduleID != schedID || created.DefinitionID != defID || created.Version != "1.0.0" || created.Every != "1s" ||
		created.Overlap != "skip" || created.Paused || len(created.NextRunTimes) == 0 {
		t.Fatalf("created %s", r.Raw)
	}
	apitest.JSONEqual(t, created.Input, map[string]any{"name": "ada"})
	t.Cleanup(func() { _ = env.client.ScheduleClient().GetHandle(t.Context(), schedID).Delete(t.Context()) })

	// The same id again is a conflict.
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/"+defID+"/schedules", map[string]any{
		"id": schedID, "cron": "@daily", "input": map[string]any{"name": "ada"},
	}, alice...), http.StatusConflict, "schedule_exists")

	read := func(headers []string) scheduleView {
		t.Helper()
		r := callAt(t, base, http.MethodGet, "/api/schedules/"+schedID, nil, headers...)
		apitest.Expect(t, r, http.StatusOK, "")
		var v scheduleView
		r.DecodeData(t, &v)
		return v
	}
	v := poll(t, "a scheduled execution", func() scheduleView { return read(alice) },
		func(v scheduleView) bool { return len(v.RecentExecutions) > 0 })
	first := v.RecentExecutions[0]
	if !strings.HasPrefix(first.ExecutionID, defID+"-sched-"+schedID) || first.StatusURL != "/api/executions/"+first.ExecutionID {
		t.Fatalf("scheduled execution %+v", first)
	}
	// The execution is alice's, ran the definition with the input and
	// says which schedule started it.
	ex := poll(t, "scheduled execution completes", func() scheduledExecutionView {
		r := callAt(t, base, http.MethodGet, "/api/executions/"+first.ExecutionID, nil, alice...)
		apitest.Expect(t, r, http.StatusOK, "")
		var ex scheduledExecutionView
		r.DecodeData(t, &ex)
		return ex
	}, func(ex scheduledExecutionView) bool { return ex.Status == "completed" })
	if ex.ScheduleID != schedID || ex.DefinitionID != defID || ex.Version != "1.0.0" {
		t.Fatalf("scheduled execution %+v", ex)
	}
	apitest.JSONEqual(t, ex.Output, map[string]any{"greet": map[string]any{"greeting": "hello ada"}})
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+first.ExecutionID, nil, bob...), http.StatusNotFound, "execution_not_found")

	// The executions list filters by schedule.
	poll(t, "executions of the schedule listed", func() []string {
		r := callAt(t, base, http.MethodGet, "/api/executions?pageSize=100&scheduleId="+schedID, nil, alice...)
		apitest.Expect(t, r, http.StatusOK, "")
		var page struct {
			Executions []scheduledExecutionView `json:"executions"`
		}
		r.DecodeData(t, &page)
		var ids []string
		for _, e := range page.Executions {
			if e.ScheduleID != schedID {
				t.Fatalf("listed %+v under schedule %s", e, schedID)
			}
			ids = append(ids, e.ExecutionID)
		}
		return ids
	}, func(ids []string) bool { return slices.Contains(ids, first.ExecutionID) })

	// Another client: 404 on every route, as for an unknown id.
	for _, probe := range []struct{ method, path string }{
		{http.MethodGet, "/api/schedules/" + schedID},
		{http.MethodPost, "/api/schedules/" + schedID + "/pause"},
		{http.MethodPost, "/api/schedules/" + schedID + "/unpause"},
		{http.MethodPost, "/api/schedules/" + schedID + "/trigger"},
		{http.MethodDelete, "/api/schedules/" + schedID},
		{http.MethodGet, "/api/schedules/no-such-schedule"},
	} {
		apitest.Expect(t, callAt(t, base, probe.method, probe.path, nil, bob...), http.StatusNotFound, "schedule_not_found")
	}
	// Lists (eventually consistent): alice's and the admin's show it, bob's not.
	list := func(headers []string) []string {
		r := callAt(t, base, http.MethodGet, "/api/workflows/"+defID+"/schedules", nil, headers...)
		apitest.Expect(t, r, http.StatusOK, "")
		var page struct {
			Schedules []scheduleView `json:"schedules"`
		}
		r.DecodeData(t, &page)
		var ids []string
		for _, s := range page.Schedules {
			if s.DefinitionID != defID || s.Every != "1s" {
				t.Fatalf("listed %+v", s)
			}
			ids = append(ids, s.ScheduleID)
		}
		return ids
	}
	poll(t, "alice's list", func() []string { return list(alice) }, func(ids []string) bool { return slices.Equal(ids, []string{schedID}) })
	poll(t, "the admin's list", func() []string { return list(ops) }, func(ids []string) bool { return slices.Equal(ids, []string{schedID}) })
	if ids := list(bob); len(ids) != 0 {
		t.Fatalf("bob lists %v", ids)
	}

	// Pause: no new runs.
	r = callAt(t, base, http.MethodPost, "/api/schedules/"+schedID+"/pause", map[string]any{"note": "maintenance"}, alice...)
	apitest.Expect(t, r, http.StatusOK, "")
	v = poll(t, "paused", func() scheduleView { return read(alice) }, func(v scheduleView) bool { return v.Paused })
	if v.Note != "maintenance" {
		t.Fatalf("paused schedule %+v", v)
	}
	time.Sleep(2500 * time.Millisecond)
	if again := read(alice); *again.Actions != *v.Actions {
		t.Fatalf("a paused schedule ran: %d actions, then %d", *v.Actions, *again.Actions)
	}

	// Trigger runs one now, paused or not.
	r = callAt(t, base, http.MethodPost, "/api/schedules/"+schedID+"/trigger", nil, alice...)
	apitest.Expect(t, r, http.StatusAccepted, "")
	poll(t, "triggered run", func() scheduleView { return read(alice) }, func(w scheduleView) bool { return *w.Actions == *v.Actions+1 })

	// Unpause: runs resume (the admin may do it too).
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/schedules/"+schedID+"/unpause", nil, ops...), http.StatusOK, "")
	poll(t, "runs resume", func() scheduleView { return read(alice) }, func(w scheduleView) bool { return !w.Paused && *w.Actions >= *v.Actions+2 })

	// Delete: gone.
	apitest.Expect(t, callAt(t, base, http.MethodDelete, "/api/schedules/"+schedID, nil, alice...), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/schedules/"+schedID, nil, alice...), http.StatusNotFound, "schedule_not_found")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/schedules/"+schedID+"/trigger", nil, ops...), http.StatusNotFound, "schedule_not_found")
}

// scheduledExecutionView is the part of GET /api/executions/{id} a
// schedule test reads.
type scheduledExecutionView struct {
	ExecutionID  string          `json:"executionId"`
	DefinitionID string          `json:"definitionId"`
	Version      string          `json:"version"`
	Status       string          `json:"status"`
	ScheduleID   string          `json:"scheduleId"`
	Output       json.RawMessage `json:"output"`
}

// A cron schedule created paused runs nothing until triggered; its
// default id is readable; the version it pins is the one named.
func TestPausedCronScheduleRunsWhenTriggered(t *testing.T) {
	base := keyedAPI(t, nil)
	defID := scheduledDefinition(t, base)
	r := callAt(t, base, http.MethodPost, "/api/workflows/"+defID+"/schedules", map[string]any{
		"cron": "0 3 * * mon-fri", "input": map[string]any{"name": "grace"}, "paused": true, "version": "1.0.0", "overlap": "allow_all",
	}, bearer(aliceKey)...)
	apitest.Expect(t, r, http.StatusCreated, "")
	var v scheduleView
	r.DecodeData(t, &v)
	t.Cleanup(func() { _ = env.client.ScheduleClient().GetHandle(t.Context(), v.ScheduleID).Delete(t.Context()) })
	if !strings.HasPrefix(v.ScheduleID, defID+"-") || !v.Paused || v.Cron != "0 3 * * mon-fri" || v.Overlap != "allow_all" ||
		r.Header.Get("Location") != "/api/schedules/"+v.ScheduleID {
		t.Fatalf("created %s (Location %q)", r.Raw, r.Header.Get("Location"))
	}
	// The action's argument (the definition and the input) is encrypted
	// by the client's payload codec, as an execute's input is: the server
	// holds ciphertext.
	desc, err := env.client.WorkflowService().DescribeSchedule(t.Context(), &workflowservice.DescribeScheduleRequest{
		Namespace: testNamespace, ScheduleId: v.ScheduleID,
	})
	if err != nil {
		t.Fatal(err)
	}
	args := desc.GetSchedule().GetAction().GetStartWorkflow().GetInput().GetPayloads()
	if len(args) != 1 || string(args[0].GetMetadata()["encoding"]) != codec.EncodingEncrypted || strings.Contains(string(args[0].GetData()), "grace") {
		t.Fatalf("the schedule's action arguments are stored as %v", args)
	}
	// Temporal read the cron as written: weekdays at 03:00 UTC.
	for _, next := range v.NextRunTimes {
		if next.Hour() != 3 || next.Minute() != 0 || next.Weekday() == time.Saturday || next.Weekday() == time.Sunday {
			t.Fatalf("next run times %v", v.NextRunTimes)
		}
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/schedules/"+v.ScheduleID+"/trigger", nil, bearer(aliceKey)...), http.StatusAccepted, "")
	v = poll(t, "triggered run", func() scheduleView {
		r := callAt(t, base, http.MethodGet, "/api/schedules/"+v.ScheduleID, nil, bearer(aliceKey)...)
		apitest.Expect(t, r, http.StatusOK, "")
		var w scheduleView
		r.DecodeData(t, &w)
		return w
	}, func(w scheduleView) bool { return len(w.RecentExecutions) == 1 })
	ex := waitFor(t, v.RecentExecutions[0].ExecutionID, statusIs("completed"))
	apitest.JSONEqual(t, ex.Output, map[string]any{"greet": map[string]any{"greeting": "hello grace"}})
}

// Bad requests list every problem (400), before anything reaches
// Temporal; an unknown definition or version is 404.
func TestScheduleBadInput(t *testing.T) {
	base := keyedAPI(t, nil)
	defID := scheduledDefinition(t, base)
	alice := bearer(aliceKey)
	create := func(body any) response {
		return callAt(t, base, http.MethodPost, "/api/workflows/"+defID+"/schedules", body, alice...)
	}
	r := create(map[string]any{"id": "-bad id", "cron": "61 25 * * mon-xyz", "overlap": "sometimes", "input": map[string]any{"name": 5}})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_schedule")
	var problems []problem.Problem
	if err := json.Unmarshal(r.Body.Error.Details, &problems); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Path+" "+p.Code)
	}
	want := []string{"id invalid_id", "cron invalid_cron", "cron invalid_cron", "cron invalid_cron", "overlap invalid_value", "input.name invalid_input"}
	if !slices.Equal(got, want) {
		t.Fatalf("problems %v, want %v: %s", got, want, r.Raw)
	}

	for _, body := range []map[string]any{
		{"input": map[string]any{"name": "x"}},                                  // neither
		{"cron": "@daily", "every": "1h", "input": map[string]any{"name": "x"}}, // both
		{"every": "500ms", "input": map[string]any{"name": "x"}},                // too short
		{"every": "soon", "input": map[string]any{"name": "x"}},
		{"every": "1h"}, // the input is required by the schema
	} {
		apitest.Expect(t, create(body), http.StatusBadRequest, "invalid_schedule")
	}
	apitest.Expect(t, create(map[string]any{"every": "1h", "input": 1, "later": true}), http.StatusBadRequest, "invalid_request")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/no-such-def/schedules", map[string]any{"every": "1h"}, alice...),
		http.StatusNotFound, "definition_not_found")
	apitest.Expect(t, create(map[string]any{"every": "1h", "version": "9.9.9", "input": map[string]any{"name": "x"}}),
		http.StatusNotFound, "definition_not_found")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/no-such-def/schedules", nil, alice...),
		http.StatusNotFound, "definition_not_found")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions?scheduleId=bad'id", nil, alice...),
		http.StatusBadRequest, "invalid_query")
}

// What the API's cron check accepts, Temporal accepts (the check is a
// subset of Temporal's CronString grammar).
func TestAcceptedCronIsAcceptedByTemporal(t *testing.T) {
	base := keyedAPI(t, nil)
	defID := scheduledDefinition(t, base)
	for _, cron := range []string{
		"* * * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 * *", "5/10 0 1 jan,JUL sun", "0 12 * * 7", "0 0 1-31/2 1-12 0-7",
		"00 03 * * *", "0 0 * * 3-7", "@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@annually", "@midnight",
	} {
		r := callAt(t, base, http.MethodPost, "/api/workflows/"+defID+"/schedules", map[string]any{
			"cron": cron, "paused": true, "input": map[string]any{"name": "x"},
		}, bearer(aliceKey)...)
		apitest.Expect(t, r, http.StatusCreated, "")
		var v scheduleView
		r.DecodeData(t, &v)
		if len(v.NextRunTimes) == 0 {
			t.Errorf("%q: no next run times: %s", cron, r.Raw)
		}
		apitest.Expect(t, callAt(t, base, http.MethodDelete, "/api/schedules/"+v.ScheduleID, nil, bearer(aliceKey)...), http.StatusOK, "")
	}
}
