package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// greeter registers two versions of a definition whose inputSchema
// requires a string name.
func greeter(t *testing.T, base, id string, headers ...string) {
	t.Helper()
	for _, version := range []string{"1", "2"} {
		def := apitest.Definition(id, version, "greet", []map[string]any{
			apitest.Transform("greet", map[string]string{"greeting": `"hello " + input.name`}),
		}, nil)
		def["inputSchema"] = map[string]any{
			"type": "object", "required": []string{"name"},
			"properties": map[string]any{"name": map[string]any{"type": "string"}},
		}
		apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def, headers...), http.StatusCreated, "")
	}
}

type scheduleData struct {
	ScheduleID       string               `json:"scheduleId"`
	DefinitionID     string               `json:"definitionId"`
	Version          string               `json:"version"`
	Cron             string               `json:"cron"`
	Every            string               `json:"every"`
	Overlap          string               `json:"overlap"`
	Paused           bool                 `json:"paused"`
	Note             string               `json:"note"`
	Input            json.RawMessage      `json:"input"`
	NextRunTimes     []string             `json:"nextRunTimes"`
	RecentExecutions []scheduledExecution `json:"recentExecutions"`
	UIURL            string               `json:"uiUrl"`
}

// A schedule's action starts the interpreter with what an execute would
// start it with: the definition pinned (the latest at creation, or the
// version named), the input, the read plan, on the task queue, with the
// definition's and the caller's search attributes; the schedule carries
// them too, and its spec as written in its memo.
func TestCreateScheduleStartsWhatExecuteStarts(t *testing.T) {
	o, _ := testOptions(t)
	fake := o.Schedules.(*fakeSchedules)
	base := serve(t, o)
	greeter(t, base, "greeter")

	r := callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{
		"id": "nightly", "cron": "0 3 * * *", "input": map[string]any{"name": "ada"},
	})
	apitest.Expect(t, r, http.StatusCreated, "")
	var v scheduleData
	r.DecodeData(t, &v)
	if v.ScheduleID != "nightly" || v.DefinitionID != "greeter" || v.Version != "2" || v.Cron != "0 3 * * *" || v.Overlap != "skip" ||
		v.Paused || len(v.NextRunTimes) != 1 || v.UIURL != testUIBase+"/namespaces/default/schedules/nightly" ||
		r.Header.Get("Location") != "/api/schedules/nightly" {
		t.Fatalf("created %s (Location %q)", r.Raw, r.Header.Get("Location"))
	}
	apitest.JSONEqual(t, v.Input, map[string]any{"name": "ada"})

	sch := fake.get("nightly")
	if sch == nil {
		t.Fatal("no schedule created")
	}
	if !slices.Equal(sch.opts.Spec.CronExpressions, []string{"0 3 * * *"}) || len(sch.opts.Spec.Intervals) != 0 ||
		sch.opts.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || sch.opts.Paused {
		t.Errorf("schedule options %+v", sch.opts)
	}
	action := sch.opts.Action.(*client.ScheduleWorkflowAction)
	if action.ID != "greeter-sched-nightly" || action.Workflow != interpreter.WorkflowName ||
		action.TaskQueue != config.Defaults().TaskQueue || action.StaticSummary != "greeter@2" || len(action.Args) != 1 {
		t.Errorf("action %+v", action)
	}
	in := action.Args[0].(interpreter.ExecutionInput)
	if in.Definition.ID != "greeter" || in.Definition.Version != "2" || in.Reads == nil {
		t.Errorf("execution input %+v", in)
	}
	apitest.JSONEqual(t, in.Input.(json.RawMessage), map[string]any{"name": "ada"})
	for _, attrs := range []temporal.SearchAttributes{action.TypedSearchAttributes, sch.opts.TypedSearchAttributes} {
		def, _ := attrs.GetKeyword(searchAttrDefinitionID)
		version, _ := attrs.GetKeyword(searchAttrDefinitionVersion)
		who, _ := attrs.GetKeyword(searchAttrCaller)
		if def != "greeter" || version != "2" || who != AnonymousCaller {
			t.Errorf("search attributes %v", attrs.GetUntypedValues())
		}
	}

	// A named version is pinned; every, overlap, paused and a default id.
	r = callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{
		"every": "90s", "version": "1", "overlap": "buffer_one", "paused": true, "input": map[string]any{"name": "bo"},
	})
	apitest.Expect(t, r, http.StatusCreated, "")
	r.DecodeData(t, &v)
	sch = fake.get(v.ScheduleID)
	if !strings.HasPrefix(v.ScheduleID, "greeter-") || !problem.ScheduleID.Valid(v.ScheduleID) || sch == nil || v.Version != "1" || v.Every != "90s" ||
		v.Overlap != "buffer_one" || !v.Paused {
		t.Fatalf("created %s", r.Raw)
	}
	if in := sch.opts.Action.(*client.ScheduleWorkflowAction).Args[0].(interpreter.ExecutionInput); in.Definition.Version != "1" ||
		len(sch.opts.Spec.Intervals) != 1 || sch.opts.Spec.Intervals[0].Every.Seconds() != 90 || !sch.opts.Paused ||
		sch.opts.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE {
		t.Errorf("schedule options %+v", sch.opts)
	}

	// The same id again: 409. A spec the server refuses: 400 with its
	// message, printable.
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{
		"id": "nightly", "every": "1h", "input": map[string]any{"name": "ada"},
	}), http.StatusConflict, "schedule_exists")
	fake.createErr = serviceerror.NewInvalidArgument("Invalid spec:\x00 too\nmany")
	r = callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{"every": "1h", "input": map[string]any{"name": "ada"}})
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_schedule")
	if !strings.Contains(string(r.Body.Error.Details), `"Temporal refused it: Invalid spec: toomany"`) {
		t.Errorf("refusal %s", r.Raw)
	}
}

// Every problem of a request is listed at once, and nothing reaches
// Temporal.
func TestScheduleValidationListsEveryProblem(t *testing.T) {
	o, _ := testOptions(t)
	fake := o.Schedules.(*fakeSchedules)
	base := serve(t, o)
	greeter(t, base, "greeter")
	create := func(body any) []problem.Problem {
		t.Helper()
		r := callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", body)
		apitest.Expect(t, r, http.StatusBadRequest, "invalid_schedule")
		var ps []problem.Problem
		if err := json.Unmarshal(r.Body.Error.Details, &ps); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	paths := func(ps []problem.Problem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Path+" "+p.Code)
		}
		return out
	}
	got := paths(create(map[string]any{"id": "no/slash", "cron": "*/0 24 32 13 8", "overlap": "never", "input": map[string]any{"age": 3}}))
	want := []string{"id invalid_id", "cron invalid_cron", "cron invalid_cron", "cron invalid_cron", "cron invalid_cron", "cron invalid_cron",
		"overlap invalid_value", "input.name invalid_input"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %v, want %v", got, want)
	}
	for _, tc := range []struct {
		body any
		want []string
	}{
		{map[string]any{"input": map[string]any{"name": "x"}}, []string{"cron required"}},
		{map[string]any{"cron": "@daily", "every": "1h", "input": map[string]any{"name": "x"}}, []string{"every invalid_value"}},
		{map[string]any{"every": "999ms", "input": map[string]any{"name": "x"}}, []string{"every invalid_duration"}},
		{map[string]any{"every": "-1h", "input": map[string]any{"name": "x"}}, []string{"every invalid_duration"}},
		{map[string]any{"cron": "@every 1h", "input": map[string]any{"name": "x"}}, []string{"cron invalid_cron"}},
		{map[string]any{"cron": "0 3 * *", "input": map[string]any{"name": "x"}}, []string{"cron invalid_cron"}},
		{map[string]any{"every": "1h"}, []string{"input invalid_input"}},
		{map[string]any{"id": strings.Repeat("x", 129), "every": "1h", "input": map[string]any{"name": "x"}}, []string{"id invalid_id"}},
	} {
		if got := paths(create(tc.body)); !slices.Equal(got, tc.want) {
			t.Errorf("%v: problems %v, want %v", tc.body, got, tc.want)
		}
	}
	if len(fake.schedules) != 0 {
		t.Errorf("invalid requests created schedules: %v", fake.order)
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{"every": "1h", "when": "now"}),
		http.StatusBadRequest, "invalid_request")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", "{"),
		http.StatusBadRequest, "invalid_json")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/nobody/schedules", map[string]any{"every": "1h"}),
		http.StatusNotFound, "definition_not_found")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{"every": "1h", "version": "3"}),
		http.StatusNotFound, "definition_not_found")
	// The cross-site rules of every mutating route.
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{"every": "1h"},
		"Origin", "https://evil.example"), http.StatusForbidden, "origin_not_allowed")
}

// A client key sees and manages only its own schedules (another's is 404,
// as an unknown one), and lists only its own; an admin key all of them.
// Pause, unpause, trigger and delete reach the schedule.
func TestScheduleAccess(t *testing.T) {
	o, _ := testOptions(t)
	fake := o.Schedules.(*fakeSchedules)
	o.APIKeys = []APIKey{{Name: "alice", Secret: aliceKey}, {Name: "bob", Secret: bobKey}}
	o.AdminAPIKeys = []APIKey{{Name: "ops", Secret: opsKey}}
	base := serve(t, o)
	alice, bob, ops := bearer(aliceKey), bearer(bobKey), bearer(opsKey)
	greeter(t, base, "greeter", ops...)
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/greeter/schedules", map[string]any{
		"id": "alices", "every": "1h", "input": map[string]any{"name": "ada"},
	}, alice...), http.StatusCreated, "")
	if who, _ := fake.get("alices").opts.Action.(*client.ScheduleWorkflowAction).TypedSearchAttributes.GetKeyword(searchAttrCaller); who != "alice" {
		t.Fatalf("the executions would run as %q", who)
	}

	unknown := callAt(t, base, http.MethodGet, "/api/schedules/nobodys", nil, bob...)
	apitest.Expect(t, unknown, http.StatusNotFound, "schedule_not_found")
	for _, probe := range []struct{ method, path string }{
		{http.MethodGet, "/api/schedules/alices"},
		{http.MethodPost, "/api/schedules/alices/pause"},
		{http.MethodPost, "/api/schedules/alices/unpause"},
		{http.MethodPost, "/api/schedules/alices/trigger"},
		{http.MethodDelete, "/api/schedules/alices"},
		{http.MethodGet, "/api/schedules/bad%20id"},
	} {
		r := callAt(t, base, probe.method, probe.path, nil, bob...)
		apitest.Expect(t, r, http.StatusNotFound, "schedule_not_found")
		if want := strings.Replace(string(unknown.Raw), "nobodys", "alices", 1); probe.path == "/api/schedules/alices" && string(r.Raw) != want {
			t.Errorf("another caller's schedule reads %s, an unknown one %s", r.Raw, unknown.Raw)
		}
	}
	if sch := fake.get("alices"); sch == nil || sch.paused || len(sch.triggers) != 0 {
		t.Fatalf("bob changed alice's schedule: %+v", sch)
	}

	// Lists are scoped in the visibility query.
	list := func(headers []string) string {
		t.Helper()
		apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/greeter/schedules", nil, headers...), http.StatusOK, "")
		return fake.queries[len(fake.queries)-1]
	}
	if q := list(bob); q != "DefinitionId = 'greeter' AND WorkflowBackendCaller = 'bob'" {
		t.Errorf("bob's list query %q", q)
	}
	if q := list(ops); q != "DefinitionId = 'greeter'" {
		t.Errorf("the admin's list query %q", q)
	}
	r := callAt(t, base, http.MethodGet, "/api/workflows/greeter/schedules", nil, alice...)
	var page struct {
		Schedules []scheduleData `json:"schedules"`
	}
	r.DecodeData(t, &page)
	if len(page.Schedules) != 1 || page.Schedules[0].ScheduleID != "alices" || page.Schedules[0].Every != "1h" || page.Schedules[0].Version != "2" {
		t.Fatalf("list %s", r.Raw)
	}

	// Alice pauses (with a note), the admin unpauses (default note),
	// alice triggers (overriding the overlap), reads, deletes.
	r = callAt(t, base, http.MethodPost, "/api/schedules/alices/pause", map[string]any{"note": "holidays"}, alice...)
	apitest.Expect(t, r, http.StatusOK, "")
	if sch := fake.get("alices"); !sch.paused || sch.note != "holidays" {
		t.Fatalf("pause: %+v", sch)
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/schedules/alices/pause", map[string]any{"note": strings.Repeat("n", 1001)}, alice...),
		http.StatusBadRequest, "invalid_schedule")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/schedules/alices/unpause", nil, ops...), http.StatusOK, "")
	if sch := fake.get("alices"); sch.paused || sch.note != "unpaused through the API by ops" {
		t.Fatalf("unpause: %+v", sch)
	}
	r = callAt(t, base, http.MethodPost, "/api/schedules/alices/trigger", map[string]any{"overlap": "allow_all"}, alice...)
	apitest.Expect(t, r, http.StatusAccepted, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/schedules/alices/trigger", map[string]any{"overlap": "twice"}, alice...),
		http.StatusBadRequest, "invalid_schedule")
	if sch := fake.get("alices"); len(sch.triggers) != 1 || sch.triggers[0].Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL {
		t.Fatalf("trigger: %+v", sch.triggers)
	}
	r = callAt(t, base, http.MethodGet, "/api/schedules/alices", nil, alice...)
	apitest.Expect(t, r, http.StatusOK, "")
	var v scheduleData
	r.DecodeData(t, &v)
	if len(v.RecentExecutions) != 1 || !strings.HasPrefix(v.RecentExecutions[0].ExecutionID, "greeter-sched-alices-") ||
		v.RecentExecutions[0].StatusURL != "/api/executions/"+v.RecentExecutions[0].ExecutionID || v.Overlap != "skip" {
		t.Fatalf("read %s", r.Raw)
	}
	apitest.JSONEqual(t, v.Input, map[string]any{"name": "ada"})
	apitest.Expect(t, callAt(t, base, http.MethodDelete, "/api/schedules/alices", nil, alice...), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/schedules/alices", nil, alice...), http.StatusNotFound, "schedule_not_found")
}

// An execution a schedule started says so, and the executions list
// filters by schedule.
func TestExecutionsShowTheirSchedule(t *testing.T) {
	o, fake := testOptions(t)
	base := serve(t, o)
	fake.add("greeter-sched-nightly-2026-01-02T03:00:00Z", "greeter", "1", AnonymousCaller)
	d := fake.described["greeter-sched-nightly-2026-01-02T03:00:00Z"]
	d.TypedSearchAttributes = temporal.NewSearchAttributes(
		searchAttrDefinitionID.ValueSet("greeter"), searchAttrCaller.ValueSet(AnonymousCaller), searchAttrScheduledBy.ValueSet("nightly"))
	r := callAt(t, base, http.MethodGet, "/api/executions/greeter-sched-nightly-2026-01-02T03:00:00Z", nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var ex executionSummary
	r.DecodeData(t, &ex)
	if ex.ScheduleID != "nightly" {
		t.Errorf("scheduleId %q: %s", ex.ScheduleID, r.Raw)
	}

	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions?scheduleId=nightly", nil), http.StatusOK, "")
	if q := fake.queries[len(fake.queries)-1]; !strings.Contains(q, "TemporalScheduledById = 'nightly'") {
		t.Errorf("query %q", q)
	}
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions?scheduleId=x'%20OR%20'1'='1", nil), http.StatusBadRequest, "invalid_query")
}

func TestCheckCron(t *testing.T) {
	for _, valid := range []string{
		"* * * * *", "0 3 * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 * *", "5/10 0 1 jan,JUL sun", "0 12 * * 7",
		"0 0 1-31/2 1-12 0-7", " 30 6 * * 1 ", "@daily", "@hourly", "@yearly", "@annually", "@monthly", "@weekly", "@midnight",
		"00 03 * * *",
	} {
		if problems := checkCron(valid); problems != nil {
			t.Errorf("checkCron(%q) = %q", valid, problems)
		}
	}
	if got := checkCron("61 * * * mon-xyz"); !slices.Equal(got, []string{
		`minute: "61" is not a number from 0 to 59`,
		`day of week: "mon-xyz": "xyz" is not a number from 0 to 7 or a name sun-sat`,
	}) {
		t.Errorf("messages %q", got)
	}
	for expr, want := range map[string]int{
		"":                      1,
		"* * * *":               1,
		"* * * * * *":           1, // no seconds or year field
		"@every 1h":             1,
		"@often":                1,
		"60 24 0 13 8":          5,
		"*/0 * * * *":           1,
		"5-1 * * * *":           1,
		"1-2-3 * * * *":         1,
		"+5 * * * *":            1,
		"a * * * *":             1,
		"0 0 * foo mon-xyz":     2,
		"0 0 L * *":             1,
		"0 0 * * 1#2":           1, // Temporal reads "#" as a comment
		"CRON_TZ=UTC 0 0 * * *": 1,
		"1,,2 * * * *":          1,
		"0 0 * * mon,":          1,
		"0/ * * * *":            1,
		"00000 * * * *":         1,
	} {
		if got := checkCron(expr); len(got) != want {
			t.Errorf("checkCron(%q) = %q, want %d problems", expr, got, want)
		}
	}
}
