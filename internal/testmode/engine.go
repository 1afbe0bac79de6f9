package testmode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// DefaultTimeout bounds a test run in wall-clock time when Engine.Timeout
// is not set. Timers are skipped, so a run that takes longer is stuck or
// runs away (a node retried without end), not slow.
const DefaultTimeout = 10 * time.Second

// ErrTimeout is returned when a run does not finish within the engine's
// timeout.
var ErrTimeout = errors.New("the test run did not finish in time")

// ExecutionID is the execution id test runs see as execution.id.
const ExecutionID = "test-mode"

// Engine runs definitions in test mode. It is safe for concurrent use:
// every run gets a test environment of its own.
type Engine struct {
	// Registry is the node types of the workers. Required.
	Registry *interpreter.Registry
	// Exprs evaluates the pure nodes' expressions. Required.
	Exprs *expr.Env
	// MaxOutputBytes caps a node's output as on the workers. Optional:
	// NODE_OUTPUT_MAX_BYTES's default.
	MaxOutputBytes int
	// Timeout bounds a run in wall-clock time. Optional: DefaultTimeout.
	Timeout time.Duration
}

// Run is one test run: a definition that passed interpreter.Parse, its
// input and the mocks of its I/O nodes.
type Run struct {
	Definition interpreter.Definition
	Input      any
	Mocks      map[string]Mock
}

// Check lists every reason r cannot run in test mode, in definition
// order then by mock id: each I/O node without a mock, each signal wait
// without a timeout nor a mock, each call node (test mode does not run
// child executions: test the called definition on its own), each mock
// that names no node or a node that runs for real, each mock without an
// attempt or with an error without a type.
func (e *Engine) Check(r Run) []problem.Problem {
	var l problem.List
	for i, n := range r.Definition.Nodes {
		mock, mocked := r.Mocks[n.ID]
		path := "mocks." + n.ID
		nt, known := e.Registry.Lookup(n.Type)
		switch {
		case !known:
			l.Add(fmt.Sprintf("definition.nodes[%d].type", i), problem.CodeUnknownNodeType, "node %s: unknown node type %q", n.ID, n.Type)
		case nt.Kind == interpreter.KindIO:
			if !mocked {
				l.Add(path, problem.CodeMissingMock, "node %s has no mock (%s is an I/O node type: test mode never runs one)", n.ID, n.Type)
			}
		case n.Type == interpreter.CallNodeType:
			l.Add(fmt.Sprintf("definition.nodes[%d]", i), problem.CodeInvalidMock,
				"node %s is a call node: test mode does not run child executions; test the called definition on its own", n.ID)
		case n.Type == interpreter.LoopNodeType || n.Type == interpreter.MapNodeType:
			// A body that runs a definition is a child execution; an I/O
			// body would need a mock per element or iteration, which
			// mocks by node id cannot name.
			var cfg struct {
				Body struct {
					Node       *struct{ Type string } `json:"node"`
					Definition string                 `json:"definition"`
				} `json:"body"`
			}
			_ = json.Unmarshal(n.Config, &cfg)
			ioBody := false
			if cfg.Body.Node != nil {
				bt, ok := e.Registry.Lookup(cfg.Body.Node.Type)
				ioBody = ok && bt.Kind == interpreter.KindIO
			}
			if cfg.Body.Definition != "" || ioBody {
				l.Add(fmt.Sprintf("definition.nodes[%d]", i), problem.CodeInvalidMock,
					"node %s is a %s whose body runs a definition or an I/O node: test mode runs only pure bodies; test the body on its own", n.ID, n.Type)
			} else if mocked {
				l.Add(path, problem.CodeInvalidMock, "node %s (%s) runs for real in test mode: it takes no mock", n.ID, n.Type)
			}
		case n.Type == interpreter.WaitNodeType && signalOf(n) != "":
			var cfg interpreter.WaitConfig
			_ = json.Unmarshal(n.Config, &cfg)
			switch {
			case !mocked && cfg.Timeout == "":
				l.Add(path, problem.CodeMissingMock, "node %s waits for signal %q with no timeout: give it a mock {\"output\": <the signal's payload>}", n.ID, cfg.Signal)
			case mocked && slices.ContainsFunc(mock, func(a Attempt) bool { return a.Error != nil }):
				l.Add(path, problem.CodeInvalidMock, "node %s waits for a signal: its mock is {\"output\": <the signal's payload>}, not an error", n.ID)
			case mocked && len(mock) > 1:
				l.Add(path, problem.CodeInvalidMock, "node %s waits for a signal: its mock is one {\"output\": …}, not a list", n.ID)
			}
		case mocked:
			l.Add(path, problem.CodeInvalidMock, "node %s (%s) runs for real in test mode: it takes no mock", n.ID, n.Type)
		}
	}
	ids := make([]string, 0, len(r.Mocks))
	for id := range r.Mocks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		path := "mocks." + id
		if !slices.ContainsFunc(r.Definition.Nodes, func(n interpreter.Node) bool { return n.ID == id }) {
			l.Add(path, problem.CodeInvalidMock, "the definition has no node %s", id)
			continue
		}
		mock := r.Mocks[id]
		if len(mock) == 0 {
			l.Add(path, problem.CodeInvalidMock, "the mock of node %s has no attempt", id)
		}
		for i, a := range mock {
			if a.Error != nil && strings.TrimSpace(a.Error.Type) == "" {
				l.Add(fmt.Sprintf("%s[%d].error.type", path, i), problem.CodeRequired, "a mock error needs a type (it is errors.%s.type)", id)
			}
		}
	}
	return l.All()
}

func signalOf(n interpreter.Node) string {
	var cfg interpreter.WaitConfig
	if json.Unmarshal(n.Config, &cfg) != nil {
		return ""
	}
	return cfg.Signal
}

// Execute runs r, which must pass Check (it returns Check's problems
// otherwise, and no result). The error is ErrTimeout, the context's error,
// or an internal failure of the test environment.
func (e *Engine) Execute(ctx context.Context, r Run) (*Result, []problem.Problem, error) {
	if problems := e.Check(r); len(problems) > 0 {
		return nil, problems, nil
	}
	def := r.Definition
	var reads *interpreter.Reads
	if e.Exprs != nil {
		var err error
		if reads, err = interpreter.PlanReads(&def, e.Registry, e.Exprs); err != nil {
			return nil, nil, fmt.Errorf("plan the scopes of %s@%s: %w", def.ID, def.Version, err)
		}
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}

	var suite testsuite.WorkflowTestSuite
	// The SDK's debug lines about every activity are noise here.
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	// The idle bound: a workflow blocked with no timer to skip.
	env.SetTestTimeout(timeout)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: ExecutionID, TaskQueue: "test-mode"})
	interpreter.New(e.Registry).Register(env)
	rec := newRecorder(e.Registry, r.Mocks)
	acts := &activities.Activities{Expr: e.Exprs, MaxOutputBytes: e.MaxOutputBytes}
	// The pure node types run for real; the recorder keeps their outputs.
	acts.RegisterPure(rec.registrar(env))
	for _, name := range e.Registry.Names() {
		if nt, _ := e.Registry.Lookup(name); nt.Kind == interpreter.KindIO {
			env.RegisterActivityWithOptions(rec.record(rec.mocked(acts)), activity.RegisterOptions{Name: name})
		}
	}
	// A signal wait's mock is the signal, sent as the run starts: Temporal
	// buffers a signal until its wait node takes it.
	for _, n := range def.Nodes {
		if s := signalOf(n); n.Type == interpreter.WaitNodeType && s != "" {
			if mock, ok := r.Mocks[n.ID]; ok {
				payload := mock[0].Output
				rec.signalled(n.ID, payload)
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(s, payload) }, 0)
			}
		}
	}

	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		env.ExecuteWorkflow(interpreter.WorkflowName, interpreter.ExecutionInput{Definition: def, Input: r.Input, Reads: reads})
	}()
	select {
	case p := <-done:
		if p != nil {
			if s, ok := p.(string); ok && strings.HasPrefix(s, "test timeout") {
				return nil, nil, ErrTimeout
			}
			return nil, nil, fmt.Errorf("test environment: %v", p)
		}
	case <-time.After(timeout):
		env.CancelWorkflow()
		return nil, nil, ErrTimeout
	case <-ctx.Done():
		env.CancelWorkflow()
		return nil, nil, ctx.Err()
	}
	res, err := e.result(env, def, rec)
	return res, nil, err
}
