package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
	"github.com/workflow-backend/workflow-backend/worker"
)

// sixNodes is the graph every scenario runs: a validation and five
// transforms, each reading the previous node's output.
const sixNodes = `{
  "id": "bench-six", "version": "1", "startNode": "validate",
  "nodes": [
    {"id": "validate", "type": "validation", "config": {"rules": [
      {"field": "email", "operator": "email"}, {"field": "amount", "operator": "min", "value": 0}]}},
    {"id": "price", "type": "transform", "config": {"mapping": {"total": "input.amount * input.quantity"}}},
    {"id": "tax", "type": "transform", "config": {"mapping": {"total": "nodes.price.total * 1.2"}}},
    {"id": "discount", "type": "transform", "config": {"mapping": {"total": "nodes.tax.total >= 100.0 ? nodes.tax.total * 0.9 : nodes.tax.total"}}},
    {"id": "round", "type": "transform", "config": {"mapping": {"total": "math.round(nodes.discount.total)"}}},
    {"id": "summary", "type": "transform", "config": {"mapping": {"email": "input.email", "total": "nodes.round.total"}}}
  ],
  "edges": [
    {"source": "validate", "target": "price"}, {"source": "price", "target": "tax"},
    {"source": "tax", "target": "discount"}, {"source": "discount", "target": "round"},
    {"source": "round", "target": "summary"}
  ]
}`

var benchInput = map[string]any{"email": "ada@example.com", "amount": 42.5, "quantity": 3}

const handWrittenQueue = "bench-handwritten"

type scenario struct {
	name   string
	run    func(ctx context.Context) error
	settle func(ctx context.Context) error // nil: nothing runs in the background
}

type bench struct {
	core     *app.Core
	client   client.Client
	def      interpreter.Definition
	workers  *worker.Workers
	handW    sdkworker.Worker
	eagerAPI *httptest.Server
	plainAPI *httptest.Server
	http     *http.Client

	// completed counts the executions that returned their result.
	completed atomic.Int64
}

func newBench(ctx context.Context, core *app.Core, tc client.Client, st *store.Store) (*bench, error) {
	def, problems := interpreter.Parse([]byte(sixNodes), core.Registry, core.Exprs)
	if len(problems) > 0 {
		return nil, fmt.Errorf("bench definition: %+v", problems)
	}
	// Keep a connection per concurrent caller alive, as a real client
	// would: the default transport keeps 2 idle connections per host, so
	// at concurrency 16 most REST calls would open (and close) a new TCP
	// connection, which is not what the REST scenarios compare.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	b := &bench{core: core, client: tc, def: def, http: &http.Client{Timeout: time.Minute, Transport: transport}}
	// The worker serves the I/O queue too (the registration scenarios'
	// database and email nodes), as dev mode's co-located worker does.
	ioNodes, err := core.NewIO(st)
	if err != nil {
		return nil, err
	}
	if b.workers, err = core.NewWorkers(tc, ioNodes); err != nil {
		return nil, err
	}
	if err := b.workers.Start(); err != nil {
		return nil, err
	}
	// The hand-written workflow runs on its own queue with the same
	// activities registered under the same names.
	b.handW = sdkworker.New(tc, handWrittenQueue, sdkworker.Options{DisableRegistrationAliasing: true})
	b.handW.RegisterWorkflowWithOptions(handWritten, workflow.RegisterOptions{Name: "handwritten"})
	core.Activities.RegisterPure(b.handW)
	if err := b.handW.Start(); err != nil {
		return nil, err
	}
	eager, err := core.NewAPI(tc, st, true)
	if err != nil {
		return nil, err
	}
	plain, err := core.NewAPI(tc, st, false)
	if err != nil {
		return nil, err
	}
	if err := eager.RegisterShippedDefinitions(ctx); err != nil {
		return nil, err
	}
	b.eagerAPI = httptest.NewServer(eager.Handler())
	b.plainAPI = httptest.NewServer(plain.Handler())
	resp, err := b.http.Post(b.eagerAPI.URL+"/api/workflows", "application/json", bytes.NewReader([]byte(sixNodes)))
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("registering the bench definition: HTTP %d", resp.StatusCode)
	}
	waiting, err := waitingRegistrationDefinition()
	if err != nil {
		return nil, err
	}
	resp, err = b.http.Post(b.eagerAPI.URL+"/api/workflows", "application/json", bytes.NewReader(waiting))
	if err != nil {
		return nil, err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("registering %s: HTTP %d %s", waitingRegistration, resp.StatusCode, answer)
	}
	return b, nil
}

func (b *bench) close() {
	b.eagerAPI.Close()
	b.plainAPI.Close()
	b.handW.Stop()
	b.workers.Stop()
}

func (b *bench) scenarios() []scenario {
	return []scenario{
		{name: "plain Go (same expressions)", run: b.plainGo},
		{name: "hand-written workflow, eager start", run: b.temporal("handwritten", handWrittenQueue, handWrittenInput(b.def), true), settle: b.visibilitySettled},
		{name: "interpreter, eager start", run: b.temporal(interpreter.WorkflowName, b.core.Config.TaskQueue, interpreter.ExecutionInput{Definition: b.def, Input: benchInput}, true), settle: b.visibilitySettled},
		{name: "interpreter, no eager start", run: b.temporal(interpreter.WorkflowName, b.core.Config.TaskQueue, interpreter.ExecutionInput{Definition: b.def, Input: benchInput}, false), settle: b.visibilitySettled},
		{name: "REST sync, co-located worker (eager)", run: b.rest(b.eagerAPI.URL), settle: b.visibilitySettled},
		{name: "REST sync, no co-located worker", run: b.rest(b.plainAPI.URL), settle: b.visibilitySettled},
	}
}

// temporal starts a workflow and waits for its result.
func (b *bench) temporal(workflowName, queue string, input any, eager bool) func(context.Context) error {
	return func(ctx context.Context) error {
		run, err := b.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:               "bench-" + uuid.NewString(),
			TaskQueue:        queue,
			EnableEagerStart: eager,
		}, workflowName, input)
		if err != nil {
			return err
		}
		var out any
		if err := run.Get(ctx, &out); err != nil {
			return err
		}
		b.completed.Add(1)
		return nil
	}
}

// visibilitySettled waits until Temporal's visibility store lists as
// completed every execution the bench has completed. The server writes those
// records after an execution ends, in the background; at concurrency 16 they
// trailed the last result by up to a second, so without this wait a scenario
// left part of its work to the next one, whose latency and throughput paid
// for it.
func (b *bench) visibilitySettled(ctx context.Context) error {
	want := b.completed.Load()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		resp, err := b.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: `ExecutionStatus = "Completed"`})
		if err != nil {
			return fmt.Errorf("waiting for visibility to list %d completed executions: %w", want, err)
		}
		if resp.GetCount() >= want {
			return nil
		}
		// The frontend allows 100 visibility requests per second
		// (deploy/temporal/dynamicconfig.yaml).
		time.Sleep(25 * time.Millisecond)
	}
}

func (b *bench) rest(base string) func(context.Context) error {
	body := map[string]any{"input": benchInput}
	return func(ctx context.Context) error {
		if err := postJSON(ctx, b.http, base+"/api/workflows/bench-six/execute", body, http.StatusOK); err != nil {
			return err
		}
		b.completed.Add(1)
		return nil
	}
}

// plainGo evaluates the same rules and mappings with the same CEL
// environment, in process: what a hand-written Go handler would cost.
func (b *bench) plainGo(ctx context.Context) error {
	env := b.core.Exprs
	nodes := map[string]any{}
	vars := map[string]any{"input": benchInput, "nodes": nodes}
	if ok, err := env.EvalBool(ctx, `input.email.matches('^[^@]+@[^@]+\\.[^@]+$') && input.amount >= 0`, vars); err != nil || !ok {
		return fmt.Errorf("validation: %v %v", ok, err)
	}
	nodes["validate"] = benchInput
	for _, n := range b.def.Nodes[1:] {
		var cfg struct {
			Mapping map[string]string `json:"mapping"`
		}
		if err := json.Unmarshal(n.Config, &cfg); err != nil {
			return err
		}
		out := map[string]any{}
		for key, src := range cfg.Mapping {
			v, err := env.Eval(ctx, src, vars)
			if err != nil {
				return err
			}
			out[key] = v
		}
		nodes[n.ID] = out
	}
	return nil
}

// handWrittenInput is the per-node requests the hand-written workflow sends:
// the same activities with the same configs as the interpreter's run.
func handWrittenInput(def interpreter.Definition) []interpreter.NodeRequest {
	reqs := make([]interpreter.NodeRequest, len(def.Nodes))
	for i, n := range def.Nodes {
		reqs[i] = interpreter.NodeRequest{Node: n}
	}
	return reqs
}

// handWritten is what a developer would write by hand for this graph: six
// local activities in a row, passing outputs along.
func handWritten(ctx workflow.Context, reqs []interpreter.NodeRequest) (any, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	scope := interpreter.Scope{Input: benchInput, Nodes: map[string]any{}, Errors: map[string]any{}}
	var last interpreter.NodeResult
	for _, req := range reqs {
		req.Scope = scope
		if err := workflow.ExecuteLocalActivity(ctx, req.Node.Type, req).Get(ctx, &last); err != nil {
			return nil, err
		}
		scope.Nodes[req.Node.ID] = last.Output
	}
	return last.Output, nil
}
