package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Schedules run a definition on a timetable (README "Schedules"). Each is
// a Temporal Schedule, so the Web UI's schedules page and `temporal
// schedule list` show it, whose action starts the interpreter with the
// same ExecutionInput an execute builds: the definition pinned at creation
// (the version named, or the latest then), an input checked against its
// inputSchema once, at creation.
//
// Ownership is recorded as for executions: the schedule and every
// execution it starts carry the creator in WorkflowBackendCaller, so a
// client key sees and manages only its own schedules (another's is 404)
// and their executions; admin keys see all. Temporal sets
// TemporalScheduledById on every execution a schedule starts, which GET
// /api/executions/{id} shows as scheduleId.

// Schedules is what the API asks of Temporal's Schedules: create one, list
// them, and a handle on one to describe, pause, unpause, trigger or delete
// it. client.ScheduleClient is one (Client.ScheduleClient()); handler tests
// use a fake.
type Schedules interface {
	Create(ctx context.Context, options client.ScheduleOptions) (client.ScheduleHandle, error)
	List(ctx context.Context, options client.ScheduleListOptions) (client.ScheduleListIterator, error)
	GetHandle(ctx context.Context, scheduleID string) client.ScheduleHandle
}

var _ Schedules = client.ScheduleClient(nil)

// Error codes of schedules (append only, like the others).
const (
	codeInvalidSchedule  = "invalid_schedule"
	codeScheduleNotFound = "schedule_not_found"
	codeScheduleExists   = "schedule_exists"
)

const (
	// memoCron and memoEvery keep the spec as the creator wrote it:
	// Temporal turns a cron expression into calendar specs and does not
	// give it back.
	memoCron  = "cron"
	memoEvery = "every"
	// searchAttrNameScheduledBy is the search attribute Temporal sets on
	// every execution a schedule starts: the schedule's id.
	searchAttrNameScheduledBy = "TemporalScheduledById"
	// minEvery is the shortest interval of a schedule.
	minEvery = time.Second
	// maxNoteLength bounds a pause or unpause note.
	maxNoteLength = 1000
	// maxListedSchedules bounds GET /api/workflows/{id}/schedules.
	maxListedSchedules = 1000
)

var searchAttrScheduledBy = temporal.NewSearchAttributeKeyKeyword(searchAttrNameScheduledBy)

// overlapPolicies are the overlap policies a request may name, first the
// default: what happens when a run is due while the previous one runs.
var overlapPolicies = []struct {
	name   string
	policy enumspb.ScheduleOverlapPolicy
}{
	{"skip", enumspb.SCHEDULE_OVERLAP_POLICY_SKIP},
	{"buffer_one", enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE},
	{"allow_all", enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL},
}

// overlapPolicy reads a request's overlap ("" is the default, skip).
func overlapPolicy(name string) (enumspb.ScheduleOverlapPolicy, bool) {
	if name == "" {
		return overlapPolicies[0].policy, true
	}
	for _, p := range overlapPolicies {
		if p.name == name {
			return p.policy, true
		}
	}
	return enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, false
}

// overlapName names a schedule's policy in the request's terms; policies
// set outside the API (buffer_all, cancel_other, terminate_other) read
// the same way.
func overlapName(p enumspb.ScheduleOverlapPolicy) string {
	if p == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED {
		return overlapPolicies[0].name
	}
	return strings.ToLower(strings.TrimPrefix(enumspb.ScheduleOverlapPolicy_name[int32(p)], "SCHEDULE_OVERLAP_POLICY_"))
}

func overlapChoices() string {
	names := make([]string, len(overlapPolicies))
	for i, p := range overlapPolicies {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// scheduleRequest is the body of POST /api/workflows/{id}/schedules.
type scheduleRequest struct {
	// ID is the schedule's id; default "<definition>-<12 hex digits>".
	ID    string `json:"id,omitempty"`
	Cron  string `json:"cron,omitempty"`
	Every string `json:"every,omitempty"`
	// Input is every run's input; Version pins the definition (default:
	// the latest at creation).
	Input   json.RawMessage `json:"input"`
	Version string          `json:"version,omitempty"`
	Overlap string          `json:"overlap,omitempty"`
	Paused  bool            `json:"paused,omitempty"`
}

// scheduleSummary is a schedule in GET /api/workflows/{id}/schedules:
// what Temporal's list gives.
type scheduleSummary struct {
	ScheduleID   string `json:"scheduleId"`
	DefinitionID string `json:"definitionId"`
	Version      string `json:"version"`
	Cron         string `json:"cron,omitempty"`
	Every        string `json:"every,omitempty"`
	Paused       bool   `json:"paused"`
	Note         string `json:"note,omitempty"`
	// NextRunTimes are the next times its spec names (Temporal lists them
	// while it is paused too: paused, it starts nothing at those times).
	NextRunTimes []time.Time `json:"nextRunTimes"`
	// RecentExecutions are the last executions it started (Temporal keeps
	// ten; a list item shows five), oldest first, triggered ones too.
	RecentExecutions []scheduledExecution `json:"recentExecutions"`
	UIURL            string               `json:"uiUrl,omitempty"`
}

// scheduleView is a schedule read (and the answer to a create): the
// summary and what only a description gives, always present.
type scheduleView struct {
	scheduleSummary
	Overlap           string               `json:"overlap"`
	Input             json.RawMessage      `json:"input"`
	RunningExecutions []scheduledExecution `json:"runningExecutions"`
	// Actions is how many runs it started.
	Actions   int        `json:"actions"`
	CreatedAt *time.Time `json:"createdAt,omitempty"`
}

// scheduledExecution is an execution a schedule started.
type scheduledExecution struct {
	ExecutionID string     `json:"executionId"`
	RunID       string     `json:"runId"`
	ScheduledAt *time.Time `json:"scheduledAt,omitempty"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	StatusURL   string     `json:"statusUrl"`
	UIURL       string     `json:"uiUrl,omitempty"`
}

// scheduleWorkflowID is the id of the executions a schedule starts, to
// which Temporal appends the time of each run.
func scheduleWorkflowID(defID, scheduleID string) string {
	return defID + "-sched-" + scheduleID
}

// createSchedule is POST /api/workflows/{id}/schedules: 201 with the
// schedule; 404 for an unknown definition or version; 400 listing every
// problem of the request (spec, overlap, id, input against the
// inputSchema); 409 when the schedule id is taken.
func (s *Server) createSchedule(c echo.Context) error {
	ctx := c.Request().Context()
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req scheduleRequest
	if err := decodeBody(body, &req); err != nil {
		return err
	}
	req.Input = nullIfEmpty(req.Input)
	if err := checkDecodable(req.Input, "input"); err != nil {
		return err
	}
	ld, err := s.loadDefinition(ctx, c.Param("id"), req.Version)
	if err != nil {
		return err
	}
	opts, problems := s.scheduleOptions(ld, req, callerOf(c).name)
	if len(problems) > 0 {
		return newError(http.StatusBadRequest, codeInvalidSchedule, "the schedule is not valid").withDetails(problems)
	}
	if err := s.checkHistoryBudget(ld, req.Input); err != nil {
		return err
	}
	handle, err := s.opts.Schedules.Create(ctx, opts)
	if err != nil {
		return scheduleCreateError(err, opts.ID)
	}
	view := scheduleView{
		scheduleSummary: scheduleSummary{
			ScheduleID: opts.ID, DefinitionID: ld.def.ID, Version: ld.def.Version, Cron: req.Cron, Every: req.Every,
			Paused: req.Paused, NextRunTimes: []time.Time{}, RecentExecutions: []scheduledExecution{}, UIURL: s.scheduleUIURL(opts.ID),
		},
		Overlap: overlapName(opts.Overlap), Input: req.Input, RunningExecutions: []scheduledExecution{},
	}
	// The description adds the next run times; the schedule exists
	// whether or not it can be read back at once.
	if desc, err := handle.Describe(ctx); err == nil {
		view = s.scheduleViewOf(opts.ID, desc)
	} else {
		s.opts.Logger.WarnContext(ctx, "describe a new schedule", "schedule", opts.ID, "error", err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/schedules/"+url.PathEscape(opts.ID))
	return ok(c, http.StatusCreated, view)
}

// scheduleOptions checks a schedule request against its definition and
// builds the Temporal Schedule, or returns every problem found.
func (s *Server) scheduleOptions(ld *loadedDefinition, req scheduleRequest, caller string) (client.ScheduleOptions, []problem.Problem) {
	var l problem.List
	id := req.ID
	if id == "" {
		id = ld.def.ID + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	} else {
		l.ID("id", id, problem.ScheduleID)
	}
	var spec client.ScheduleSpec
	memo := map[string]any{}
	switch {
	case req.Cron == "" && req.Every == "":
		l.Add("cron", problem.CodeRequired, "give cron (a cron expression) or every (an interval such as 1h)")
	case req.Cron != "" && req.Every != "":
		l.Add("every", problem.CodeInvalidValue, "give cron or every, not both")
	case req.Cron != "":
		for _, msg := range checkCron(req.Cron) {
			l.Add("cron", problem.CodeInvalidCron, "%s", msg)
		}
		spec.CronExpressions = []string{strings.TrimSpace(req.Cron)}
		memo[memoCron] = req.Cron
	default:
		every, err := time.ParseDuration(req.Every)
		if err != nil || every < minEvery {
			l.Add("every", problem.CodeInvalidDuration, "%q is not a duration of at least %s (use Go durations such as 30s, 5m, 24h)", req.Every, minEvery)
		}
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: every}}
		memo[memoEvery] = req.Every
	}
	overlap, known := overlapPolicy(req.Overlap)
	if !known {
		l.Add("overlap", problem.CodeInvalidValue, "%q is not one of %s", req.Overlap, overlapChoices())
	}
	for _, f := range ld.checkInput(req.Input) {
		l.Add(problem.Join("input", f.Field), problem.CodeInvalidInput, "%s", f.Message)
	}
	if l.Failed() {
		return client.ScheduleOptions{}, l.All()
	}
	attrs := executionSearchAttributes(ld.def.ID, ld.def.Version, caller)
	return client.ScheduleOptions{
		ID:   id,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:                    scheduleWorkflowID(ld.def.ID, id),
			Workflow:              interpreter.WorkflowName,
			Args:                  []any{ld.executionInput(req.Input, s.opts.RunBudget)},
			TaskQueue:             s.opts.TaskQueue,
			TypedSearchAttributes: attrs,
			StaticSummary:         ld.summary(),
		},
		Overlap: overlap,
		Paused:  req.Paused,
		Memo:    memo,
		// The schedule's own attributes: lists filter on them.
		TypedSearchAttributes: attrs,
	}, nil
}

// scheduleCreateError maps a failed create: a taken id is 409, a spec the
// server refuses 400 with its message (made printable and short).
func scheduleCreateError(err error, id string) error {
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return newError(http.StatusConflict, codeScheduleExists, fmt.Sprintf("a schedule %q exists already", id))
	}
	var inv *serviceerror.InvalidArgument
	if errors.As(err, &inv) {
		return newError(http.StatusBadRequest, codeInvalidSchedule, "the schedule is not valid").
			withDetails([]problem.Problem{{Code: problem.CodeInvalidValue, Message: "Temporal refused it: " + printable(inv.Message, 300)}}).
			withCause(err)
	}
	return temporalError(err, "create schedule")
}

// printable keeps the printable ASCII of s, at most n bytes of it.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// listSchedules is GET /api/workflows/{id}/schedules: the definition's
// schedules the caller may see (all for admins), from Temporal's
// visibility, which is eventually consistent: a schedule just created may
// take a moment to be listed.
func (s *Server) listSchedules(c echo.Context) error {
	ctx := c.Request().Context()
	defID := c.Param("id")
	if _, err := s.opts.Store.Get(ctx, defID, ""); err != nil {
		return definitionLookupError(err, defID, "")
	}
	// A registered id matches problem.DefinitionID and a caller name
	// problem.CallerName: both are safe in the query.
	query := fmt.Sprintf("%s = '%s'", interpreter.SearchAttrDefinitionID, defID)
	if who := callerOf(c); !who.admin {
		query += fmt.Sprintf(" AND %s = '%s'", interpreter.SearchAttrCaller, who.name)
	}
	iter, err := s.opts.Schedules.List(ctx, client.ScheduleListOptions{PageSize: 100, Query: query})
	if err != nil {
		return temporalError(err, "list schedules")
	}
	out := []scheduleSummary{}
	for iter.HasNext() && len(out) < maxListedSchedules {
		e, err := iter.Next()
		if err != nil {
			return temporalError(err, "list schedules")
		}
		out = append(out, s.scheduleListItem(e))
	}
	return ok(c, http.StatusOK, map[string]any{"schedules": out})
}

func (s *Server) scheduleListItem(e *client.ScheduleListEntry) scheduleSummary {
	return scheduleSummary{
		ScheduleID:       e.ID,
		DefinitionID:     keywordOf(e.SearchAttributes, interpreter.SearchAttrDefinitionID),
		Version:          keywordOf(e.SearchAttributes, interpreter.SearchAttrDefinitionVersion),
		Cron:             s.memoString(e.Memo, memoCron),
		Every:            s.memoString(e.Memo, memoEvery),
		Paused:           e.Paused,
		Note:             e.Note,
		NextRunTimes:     utcTimes(e.NextActionTimes),
		RecentExecutions: s.scheduledExecutions(e.RecentActions),
		UIURL:            s.scheduleUIURL(e.ID),
	}
}

// getSchedule is GET /api/schedules/{scheduleId}: spec, state, input,
// next run times and the executions it started recently.
func (s *Server) getSchedule(c echo.Context) error {
	id, _, desc, err := s.findSchedule(c)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, s.scheduleViewOf(id, desc))
}

// scheduleViewOf renders a schedule's description.
func (s *Server) scheduleViewOf(id string, d *client.ScheduleDescription) scheduleView {
	v := scheduleView{
		scheduleSummary: scheduleSummary{
			ScheduleID:       id,
			DefinitionID:     keywordOf(d.SearchAttributes, interpreter.SearchAttrDefinitionID),
			Version:          keywordOf(d.SearchAttributes, interpreter.SearchAttrDefinitionVersion),
			Cron:             s.memoString(d.Memo, memoCron),
			Every:            s.memoString(d.Memo, memoEvery),
			NextRunTimes:     utcTimes(d.Info.NextActionTimes),
			RecentExecutions: s.scheduledExecutions(d.Info.RecentActions),
			UIURL:            s.scheduleUIURL(id),
		},
		Overlap:           overlapName(enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED),
		RunningExecutions: []scheduledExecution{},
		Actions:           d.Info.NumActions,
	}
	if p := d.Schedule.Policy; p != nil {
		v.Overlap = overlapName(p.Overlap)
	}
	if st := d.Schedule.State; st != nil {
		v.Paused, v.Note = st.Paused, st.Note
	}
	if !d.Info.CreatedAt.IsZero() {
		t := d.Info.CreatedAt.UTC()
		v.CreatedAt = &t
	}
	for _, r := range d.Info.RunningWorkflows {
		v.RunningExecutions = append(v.RunningExecutions, s.scheduledExecution(r.WorkflowID, r.FirstExecutionRunID))
	}
	v.Input = s.scheduleInput(d)
	return v
}

// scheduleInput is the input of the runs, read back from the action's
// argument (the ExecutionInput, through the payload codec); null when it
// cannot be read.
func (s *Server) scheduleInput(d *client.ScheduleDescription) json.RawMessage {
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || len(action.Args) == 0 {
		return json.RawMessage("null")
	}
	p, ok := action.Args[0].(*commonpb.Payload)
	if !ok {
		return json.RawMessage("null")
	}
	// Only the input: the pinned definition it also holds is not decoded.
	var in struct {
		Input json.RawMessage `json:"input"`
	}
	if err := s.dc.FromPayload(p, &in); err != nil {
		return json.RawMessage("null")
	}
	return nullIfEmpty(in.Input)
}

func (s *Server) scheduledExecutions(actions []client.ScheduleActionResult) []scheduledExecution {
	out := make([]scheduledExecution, 0, len(actions))
	for _, a := range actions {
		if a.StartWorkflowResult == nil {
			continue
		}
		ex := s.scheduledExecution(a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID)
		if !a.ScheduleTime.IsZero() {
			t := a.ScheduleTime.UTC()
			ex.ScheduledAt = &t
		}
		if !a.ActualTime.IsZero() {
			t := a.ActualTime.UTC()
			ex.StartedAt = &t
		}
		out = append(out, ex)
	}
	return out
}

func (s *Server) scheduledExecution(id, runID string) scheduledExecution {
	return scheduledExecution{ExecutionID: id, RunID: runID, StatusURL: "/api/executions/" + url.PathEscape(id), UIURL: s.uiURL(id, runID)}
}

func utcTimes(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

// scheduleUIURL links a schedule in the Temporal Web UI.
func (s *Server) scheduleUIURL(id string) string {
	if s.opts.UIBaseURL == "" {
		return ""
	}
	return s.opts.UIBaseURL + "/namespaces/" + url.PathEscape(s.opts.Namespace) + "/schedules/" + url.PathEscape(id)
}

// findSchedule finds the path's schedule, which must start the
// interpreter and be the caller's (any, for admins): unknown ids,
// malformed ids, schedules of other workflows and another caller's are
// all schedule_not_found, so a client cannot learn that someone else's
// exists.
func (s *Server) findSchedule(c echo.Context) (string, client.ScheduleHandle, *client.ScheduleDescription, error) {
	id := c.Param("scheduleId")
	notFound := newError(http.StatusNotFound, codeScheduleNotFound, fmt.Sprintf("no schedule %q", id))
	if !problem.ScheduleID.Valid(id) {
		return id, nil, nil, notFound
	}
	ctx := c.Request().Context()
	handle := s.opts.Schedules.GetHandle(ctx, id)
	desc, err := handle.Describe(ctx)
	if err != nil {
		if isNotFound(err) {
			return id, nil, nil, notFound
		}
		return id, nil, nil, temporalError(err, "describe schedule")
	}
	action, isWorkflow := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !isWorkflow || action.Workflow != interpreter.WorkflowName {
		return id, nil, nil, notFound
	}
	if who := callerOf(c); !who.admin && keywordOf(desc.SearchAttributes, interpreter.SearchAttrCaller) != who.name {
		return id, nil, nil, notFound
	}
	return id, handle, desc, nil
}

// noteRequest is the optional body of pause and unpause.
type noteRequest struct {
	Note string `json:"note,omitempty"`
}

// readNote reads the optional {"note"} body of pause and unpause; the
// default says who did it through the API.
func readNote(c echo.Context, did string) (string, error) {
	body, err := readBody(c)
	if err != nil {
		return "", err
	}
	var req noteRequest
	if err := decodeBody(body, &req); err != nil {
		return "", err
	}
	if len(req.Note) > maxNoteLength {
		return "", newError(http.StatusBadRequest, codeInvalidSchedule, "the note is too long").
			withDetails([]problem.Problem{{Path: "note", Code: problem.CodeTooLarge, Message: fmt.Sprintf("at most %d bytes", maxNoteLength)}})
	}
	if req.Note == "" {
		return did + " through the API by " + callerOf(c).name, nil
	}
	return req.Note, nil
}

// pauseSchedule is POST /api/schedules/{scheduleId}/pause {"note"?}: no
// run starts until it is unpaused (trigger still starts one).
func (s *Server) pauseSchedule(c echo.Context) error {
	return s.setPaused(c, true)
}

// unpauseSchedule is POST /api/schedules/{scheduleId}/unpause {"note"?}.
func (s *Server) unpauseSchedule(c echo.Context) error {
	return s.setPaused(c, false)
}

func (s *Server) setPaused(c echo.Context, paused bool) error {
	did := "unpaused"
	if paused {
		did = "paused"
	}
	note, err := readNote(c, did)
	if err != nil {
		return err
	}
	id, handle, _, err := s.findSchedule(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if paused {
		err = handle.Pause(ctx, client.SchedulePauseOptions{Note: note})
	} else {
		err = handle.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	}
	if err != nil {
		return scheduleActionError(err, id, did+" schedule")
	}
	return ok(c, http.StatusOK, map[string]any{"scheduleId": id, "paused": paused, "note": note})
}

// triggerRequest is the optional body of trigger.
type triggerRequest struct {
	// Overlap overrides the schedule's policy for this run: allow_all
	// runs it even while another run is going.
	Overlap string `json:"overlap,omitempty"`
}

// triggerSchedule is POST /api/schedules/{scheduleId}/trigger
// {"overlap"?}: start a run now (also while paused). 202: the execution
// shows in the schedule's recentExecutions and in GET
// /api/executions?scheduleId=….
func (s *Server) triggerSchedule(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req triggerRequest
	if err := decodeBody(body, &req); err != nil {
		return err
	}
	overlap := enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED // the schedule's own
	if req.Overlap != "" {
		var known bool
		if overlap, known = overlapPolicy(req.Overlap); !known {
			return newError(http.StatusBadRequest, codeInvalidSchedule, "the trigger is not valid").
				withDetails([]problem.Problem{{Path: "overlap", Code: problem.CodeInvalidValue, Message: fmt.Sprintf("%q is not one of %s", req.Overlap, overlapChoices())}})
		}
	}
	id, handle, _, err := s.findSchedule(c)
	if err != nil {
		return err
	}
	if err := handle.Trigger(c.Request().Context(), client.ScheduleTriggerOptions{Overlap: overlap}); err != nil {
		return scheduleActionError(err, id, "trigger schedule")
	}
	return ok(c, http.StatusAccepted, map[string]any{
		"scheduleId": id, "triggered": true, "executionsUrl": "/api/executions?scheduleId=" + url.QueryEscape(id),
	})
}

// deleteSchedule is DELETE /api/schedules/{scheduleId}: no run starts any
// more; the executions it started go on.
func (s *Server) deleteSchedule(c echo.Context) error {
	id, handle, _, err := s.findSchedule(c)
	if err != nil {
		return err
	}
	if err := handle.Delete(c.Request().Context()); err != nil {
		return scheduleActionError(err, id, "delete schedule")
	}
	return ok(c, http.StatusOK, map[string]any{"scheduleId": id, "deleted": true})
}

// scheduleActionError maps the failure of an action on a schedule found a
// moment before: gone since is 404.
func scheduleActionError(err error, id, what string) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return newError(http.StatusNotFound, codeScheduleNotFound, fmt.Sprintf("no schedule %q", id))
	}
	return temporalError(err, what)
}
