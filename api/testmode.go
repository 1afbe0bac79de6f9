package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Tester runs definitions in test mode: the real interpreter and pure
// node types, every I/O node mocked, no side effects (*testmode.Engine).
type Tester interface {
	// Parse checks an inline definition as registration does.
	Parse(doc []byte) (interpreter.Definition, []problem.Problem)
	// Execute runs it, or lists why it cannot (unmocked I/O nodes, …).
	Execute(ctx context.Context, r testmode.Run) (*testmode.Result, []problem.Problem, error)
}

var _ Tester = (*testmode.Engine)(nil)

// testResult is POST /api/workflows/test's answer: GET
// /api/executions/{id}'s shape (status, output or error, nodes), each
// node with its output, and the path the run took.
type testResult struct {
	DefinitionID string            `json:"definitionId"`
	Version      string            `json:"version"`
	Status       string            `json:"status"`
	Output       any               `json:"output,omitempty"`
	Error        *executionFailure `json:"error,omitempty"`
	Nodes        []testmode.Node   `json:"nodes"`
	Path         []string          `json:"path"`
	// Mismatches lists how the run differs from the request's "expect"
	// (a test-case file's); present, possibly empty, only with one.
	Mismatches *[]string `json:"mismatches,omitempty"`
}

// testWorkflow is POST /api/workflows/test: it runs an inline definition
// (400 with every problem, as at registration) or a registered one (id,
// version?) on the input, with the mocks, in test mode; with an "expect"
// (a test-case file) it lists how the run differs from it. 400 lists every
// I/O node without a mock (and every mock test mode cannot use) at once;
// 422 when the run does not finish within the test timeout.
func (s *Server) testWorkflow(c echo.Context) error {
	if s.opts.Tester == nil {
		return newError(http.StatusServiceUnavailable, codeServiceUnavailable, "test mode is not configured on this server")
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		return newError(http.StatusBadRequest, codeInvalidJSON, "the body is not well-formed JSON")
	}
	// A test-case file (a request with "expect") is a request too.
	var tc testmode.Case
	if derr := problem.Decode(body, &tc, "the request"); derr != nil {
		return newError(http.StatusBadRequest, codeInvalidRequest, "invalid test request").
			withDetails([]problem.Problem{{Path: derr.Path, Code: problem.CodeInvalidJSON, Message: derr.Message}})
	}
	req := tc.Request
	ctx := c.Request().Context()
	ld, err := s.testDefinition(ctx, req)
	if err != nil {
		return err
	}
	input, err := json.Marshal(req.Input)
	if err != nil {
		return newError(http.StatusBadRequest, codeInvalidRequest, "the input is not JSON")
	}
	if fields := ld.checkInput(input); len(fields) > 0 {
		return newError(http.StatusBadRequest, codeInvalidInput, "the input does not match the definition's inputSchema").withDetails(fields)
	}
	// A test run takes CPU in this process (up to the test timeout):
	// a few at a time, the rest refused rather than queued.
	select {
	case s.testRuns <- struct{}{}:
		defer func() { <-s.testRuns }()
	default:
		return newError(http.StatusServiceUnavailable, codeServiceUnavailable, "too many test runs at once: retry shortly")
	}
	res, problems, err := s.opts.Tester.Execute(ctx, testmode.Run{Definition: ld.def, Input: req.Input, Mocks: req.Mocks})
	switch {
	case len(problems) > 0:
		return newError(http.StatusBadRequest, codeTestNotRunnable,
			fmt.Sprintf("the test cannot run: %d problem(s)", len(problems))).withDetails(problems)
	case errors.Is(err, testmode.ErrTimeout):
		return newError(http.StatusUnprocessableEntity, codeTestTimeout,
			"the test run did not finish within the test-mode time limit: a node may be retried without end, or the graph is too big to test")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return unavailable(err, "test run")
	case err != nil:
		return internalError(err, "test run")
	}
	out := testResult{DefinitionID: res.DefinitionID, Version: res.Version, Status: res.Status, Output: res.Output, Nodes: res.Nodes, Path: res.Path}
	if res.Err != nil {
		ae := failureError(res.Err, executionRef{})
		if ae == nil {
			ae = causeError(res.Err)
		}
		out.Error = &executionFailure{HTTPStatus: ae.Status, Code: ae.Code, Message: ae.Message, Details: ae.detailsList(), Failure: ae.Failure}
	}
	if tc.Expect != nil {
		m := tc.Expect.Mismatches(res)
		if m == nil {
			m = []string{}
		}
		out.Mismatches = &m
	}
	return ok(c, http.StatusOK, out)
}

// testDefinition is the definition a test request runs: inline, checked
// as registration checks it, or registered.
func (s *Server) testDefinition(ctx context.Context, req testmode.Request) (*loadedDefinition, error) {
	switch {
	case len(req.Definition) > 0 && req.ID != "":
		return nil, newError(http.StatusBadRequest, codeInvalidRequest, `give "definition" or "id" (and "version"), not both`)
	case req.ID != "":
		return s.loadDefinition(ctx, req.ID, req.Version)
	case len(req.Definition) == 0:
		return nil, newError(http.StatusBadRequest, codeInvalidRequest, `give a "definition", or the "id" (and "version") of a registered one`)
	}
	def, problems := s.opts.Tester.Parse(req.Definition)
	if len(problems) > 0 {
		return nil, newError(http.StatusBadRequest, codeInvalidDefinition,
			fmt.Sprintf("the definition has %d problem(s)", len(problems))).withDetails(problems)
	}
	ld := &loadedDefinition{def: def}
	if len(def.InputSchema) > 0 {
		// Parse compiled it already.
		ld.schema, _ = interpreter.CompileSchema(def.InputSchema)
	}
	return ld, nil
}

// messageDecoder decodes every payload of a history (*codec.Codec).
type messageDecoder interface {
	DecodeMessage(ctx context.Context, msg proto.Message) error
}

// executionTestCase is GET /api/executions/{executionId}/testcase: a
// finished execution as a POST /api/workflows/test request (its
// definition's id and version, its input, each I/O node's recorded
// answers as mocks) with what it gave as "expect", so a bug seen in
// production becomes a test case file. Same access as GET
// /api/executions/{executionId}; 409 while it runs.
func (s *Server) executionTestCase(c echo.Context) error {
	ctx := c.Request().Context()
	desc, err := s.describe(ctx, callerOf(c), c.Param("executionId"))
	if err != nil {
		return err
	}
	ref := s.ref(desc.WorkflowExecution.ID, desc.WorkflowExecution.RunID)
	if statusOf(desc.Status) == statusRunning {
		return newError(http.StatusConflict, codeExecutionRunning, "the execution is still running: its test case is made once it has finished").about(ref)
	}
	hist := &historypb.History{}
	iter := s.opts.Client.GetWorkflowHistory(ctx, ref.ExecutionID, ref.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return temporalError(err, "read execution history").about(ref)
		}
		hist.Events = append(hist.Events, ev)
	}
	if s.opts.PayloadCodec != nil {
		dec, ok := s.opts.PayloadCodec.(messageDecoder)
		if !ok {
			return internalError(errors.New("the payload codec cannot decode histories"), "decode execution history").about(ref)
		}
		if err := dec.DecodeMessage(ctx, hist); err != nil {
			return internalError(err, "decode execution history").about(ref)
		}
	}
	tc, err := testmode.FromHistory(ref.ExecutionID, hist, s.opts.Registry)
	if err != nil {
		return internalError(err, "make test case").about(ref)
	}
	return ok(c, http.StatusOK, tc)
}
