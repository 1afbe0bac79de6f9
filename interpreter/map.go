package interpreter

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// MapConfig is the config of a map node: it runs Body once per element of
// Items, at most Concurrency at a time, and outputs the bodies' outputs in
// item order.
type MapConfig struct {
	Items string `json:"items"` // CEL: a list
	// As names the element in a definition body's input ({<as>: element,
	// "index": position}). A node body's expressions see it as `item`
	// (and its position as `index`): the names the expression environment
	// declares. Renaming matters only when bodies nest, and nesting goes
	// through definition bodies, whose input is where the name is chosen.
	As          string `json:"as,omitempty"`
	Body        Body   `json:"body"`
	Concurrency int    `json:"concurrency,omitempty"` // default 8
	MaxItems    int    `json:"maxItems"`
	// OnItemError is "fail" (the default: the first failed item fails the
	// node and the others are cancelled) or "collect" (failed items are
	// listed in the output's errors, their results null).
	OnItemError string `json:"onItemError,omitempty"`
}

// MapNodeType is the name of the map node type.
const MapNodeType = "map"

// Map limits.
const (
	// MaxMapItems is the ceiling of a map's maxItems.
	MaxMapItems = 10_000
	// MaxMapConcurrency bounds the items (or batches) a map runs at once:
	// each is a pending activity or child, and Temporal allows 2,000 of
	// those per run.
	MaxMapConcurrency  = 100
	defaultConcurrency = 8
	onItemErrorFail    = "fail"
	onItemErrorCollect = "collect"
	defaultAs          = "item"
)

// identifier is what `as` may be: a key a definition body's input schema
// can name and an expression can read (input.<as>).
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func mapNodeType(reg *Registry) NodeType {
	return NodeType{
		Name:         MapNodeType,
		Kind:         KindWorkflow,
		ConfigSchema: json.RawMessage(mapConfigSchema),
		CheckConfig: configCheck("map", func(c MapConfig, l *problem.List, exprs ExprChecker) {
			checkMapConfig(reg, c, l, exprs)
		}),
		ImplicitReads: func(raw json.RawMessage) []string {
			c, err := decodeConfig[MapConfig](raw, "map")
			if err != nil {
				return nil
			}
			return bodyImplicitReads(reg, c.Body)
		},
	}
}

func checkMapConfig(reg *Registry, c MapConfig, l *problem.List, exprs ExprChecker) {
	l.Expression("items", c.Items, exprs)
	switch {
	case c.As == "":
	case c.Body.Node != nil && c.As != defaultAs:
		l.Add("as", CodeInvalidConfig, "a node body sees the element as item (and its position as index); as renames it in a definition body's input")
	case !identifier.MatchString(c.As) || c.As == "index":
		l.Add("as", CodeInvalidConfig, "as must be an identifier (letters, digits, _; not index): it is the element's key in the body's input")
	}
	switch {
	case c.MaxItems == 0:
		l.Add("maxItems", CodeRequired, "a map needs maxItems, its bound (at most %d)", MaxMapItems)
	case c.MaxItems < 1 || c.MaxItems > MaxMapItems:
		l.Add("maxItems", CodeInvalidConfig, "maxItems must be from 1 to %d", MaxMapItems)
	}
	if c.Concurrency < 0 || c.Concurrency > MaxMapConcurrency {
		l.Add("concurrency", CodeInvalidConfig, "concurrency must be from 1 to %d (default %d)", MaxMapConcurrency, defaultConcurrency)
	}
	if c.OnItemError != "" && c.OnItemError != onItemErrorFail && c.OnItemError != onItemErrorCollect {
		l.Add("onItemError", CodeInvalidConfig, "onItemError must be %q or %q", onItemErrorFail, onItemErrorCollect)
	}
	checkBody(reg, c.Body, l.Under("body"), exprs)
}

func (c MapConfig) concurrency() int {
	if c.Concurrency == 0 {
		return defaultConcurrency
	}
	return c.Concurrency
}

func (c MapConfig) as() string {
	if c.As == "" {
		return defaultAs
	}
	return c.As
}

// MapOutput is a map node's output.
type MapOutput struct {
	Results []any `json:"results"`
	// Errors lists the failed items with onItemError "collect", by index.
	Errors []ItemError `json:"errors,omitempty"`
}

// ItemError is one failed item of a map.
type ItemError struct {
	Index int            `json:"index"`
	Error map[string]any `json:"error"` // as errors.<id>: type, message (fields)
}

// MapBatch is the input of a child execution that runs a slice of a map
// node's items (ExecutionInput.Batch): the map node, its scope (whose
// execution is the parent's, so the bodies' ids and variables are the
// ones they would have inline) and Items, the elements from Offset on.
type MapBatch struct {
	Node   Node  `json:"node"`
	Scope  Scope `json:"scope"`
	Items  []any `json:"items"`
	Offset int   `json:"offset"`
}

// History budget. A run must stay well under Temporal's 10,240-event
// warning level, however long the list (maxItems is at most 10,000).
// Measured on the embedded server (workflows TestLoopAndMap/HistoryBudget:
// the events of a batch run divided by its items, workflow tasks and the
// run's own start and end included): a local activity body 1.0 event per
// item (one marker; several complete per workflow task), a remote or I/O
// activity body 4.0 (scheduled, started, completed, plus a share of
// workflow tasks; 3.90 to 4.01 per batch), a definition body 5.8 to 6.2
// (initiated, started, completed, plus workflow tasks; 6.2 in a batch of
// 1,142 on a loaded machine: 7,103 events). eventsPerItem
// rounds them up with at least 10% to spare, for retries and slower
// workers (fewer completions per workflow task): 2, 5 and 7.
//
// A map node runs its items in its own run while they cost at most
// inlineEventBudget events: up to 1,250 local, 500 remote or 357
// definition bodies. Longer lists run as batch child executions of at most
// batchEventBudget/eventsPerItem items each: 4,000 local, 1,600 remote or
// 1,142 definition bodies; a batch runs its items inline, and the parent
// runs at most concurrency batches at a time, about 6 events per batch
// plus 16 for the node. For 10,000 items: 3 batches of at most ~4,000
// events (local; measured 4,005), 7 of ~6,400 (remote; measured at most
// 6,272), 9 of ~6,650 (definition); the parent stays under 100 (measured
// 28 and 49).
//
// These numbers decide whether a running map's items run inline or in
// batches, so they are part of how it schedules: a change to them, or to
// eventsPerItem, goes behind workflow.GetVersion.
const (
	// inlineEventBudget is what one map node may add to its execution's
	// run: a graph holds other nodes, and may hold several maps.
	inlineEventBudget = 2_500
	// batchEventBudget is what a batch child's run may hold.
	batchEventBudget = 8_000
)

// eventsPerItem is the measured history cost of one item (see above),
// rounded up.
func (r *run) eventsPerItem(b Body) int {
	if b.Node == nil {
		return 7
	}
	nt, _ := r.registry.Lookup(b.Node.Type)
	if scheduledRemotely(b.Node.node(""), nt.Kind) {
		return 5
	}
	return 2
}

// mapNode carries out a map node in the workflow: its items come from the
// map_items helper activity, then the bodies run in this run (runItems) or
// in batch child executions (runBatches), as the history budget says.
func (r *run) mapNode(ctx workflow.Context, req NodeRequest) (NodeResult, error) {
	n := req.Node
	result := NodeResult{Outcome: OutcomeSuccess}
	cfg, bad := decodeConfig[MapConfig](n.Config, "map") //workflowcheck:ignore (see wait)
	if bad != nil {
		return result, temporal.NewNonRetryableApplicationError("map config: "+bad.Error(), ErrConfiguration, nil)
	}
	var items []any
	err := helperActivity(ctx, MapItemsActivity, n.ID+": items", MapItemsRequest{Expression: cfg.Items, MaxItems: cfg.MaxItems, Scope: req.Scope}).Get(ctx, &items)
	if err != nil {
		return result, err
	}
	var out MapOutput
	if len(items)*r.eventsPerItem(cfg.Body) <= inlineEventBudget {
		out, err = r.runItems(ctx, req, cfg, items, 0)
	} else {
		out, err = r.runBatches(ctx, req, cfg, items)
	}
	if err != nil {
		return result, err
	}
	result.Output = out.value(cfg)
	req.Scope.Nodes[n.ID] = result.Output
	fired, err := decideEdges(ctx, ctx, n.ID, result.Outcome, req.Edges, req.Scope)
	result.Fired = fired
	return result, err
}

// value is the output as expressions read it, in plain JSON values:
// errors only with collect.
func (o MapOutput) value(cfg MapConfig) map[string]any {
	v := map[string]any{"results": o.Results}
	if cfg.OnItemError == onItemErrorCollect {
		errs := make([]any, len(o.Errors))
		for i, e := range o.Errors {
			errs[i] = map[string]any{"index": e.Index, "error": e.Error}
		}
		v["errors"] = errs
	}
	return v
}

// runItems runs the body for each of items in this run (element i is the
// item of index offset+i), at most concurrency at a time.
func (r *run) runItems(ctx workflow.Context, req NodeRequest, cfg MapConfig, items []any, offset int) (MapOutput, error) {
	var def Definition
	if cfg.Body.Definition != "" {
		var err error
		if def, err = r.bodyDefinition(cfg.Body, req.Node.ID); err != nil {
			return MapOutput{}, err
		}
	}
	return window(ctx, len(items), cfg.concurrency(), cfg.OnItemError == onItemErrorCollect, offset,
		func(ctx workflow.Context, i int) (any, error) {
			index := offset + i
			br := bodyRun{Owner: req, N: index, Vars: map[string]any{"item": items[i], "index": index}}
			if cfg.Body.Definition != "" {
				input, err := r.mapBodyInput(ctx, req, cfg, def, br)
				if err != nil {
					return nil, err
				}
				br.Input = input
			}
			return r.runBody(ctx, cfg.Body, br)
		})
}

// mapBodyInput is a definition body's input: {<as>: item, "index": i},
// checked against the definition's inputSchema by the call_input helper
// activity when it has one.
func (r *run) mapBodyInput(ctx workflow.Context, req NodeRequest, cfg MapConfig, def Definition, br bodyRun) (map[string]any, error) {
	input := map[string]any{cfg.as(): br.Vars["item"], "index": br.N}
	if len(def.InputSchema) == 0 {
		return input, nil
	}
	var checked map[string]any
	err := helperActivity(ctx, CallInputActivity, fmt.Sprintf("%s: input", bodyNodeID(req.Node.ID, br.N)), CallInputRequest{
		Scope: req.Scope, Definition: def.ID + "@" + def.Version, InputSchema: def.InputSchema, Default: input,
	}).Get(ctx, &checked)
	return checked, err
}

// runBatches runs items as batch child executions (see the history budget
// above), at most concurrency at a time, and merges their outputs.
func (r *run) runBatches(ctx workflow.Context, req NodeRequest, cfg MapConfig, items []any) (MapOutput, error) {
	size := max(batchEventBudget/r.eventsPerItem(cfg.Body), 1)
	batches := (len(items) + size - 1) / size
	collect := cfg.OnItemError == onItemErrorCollect
	out := MapOutput{Results: make([]any, len(items))}
	parts, err := window(ctx, batches, cfg.concurrency(), false, 0, func(ctx workflow.Context, k int) (any, error) {
		from, to := k*size, min((k+1)*size, len(items))
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:    fmt.Sprintf("%s.batch%d", CallChildID(r.info.ID, req.Node.ID), k),
			StaticSummary: fmt.Sprintf("%s: items %d to %d", req.Node.ID, from, to-1),
			// A batch is part of this execution: listed and scoped as it is.
			TypedSearchAttributes: childSearchAttributes(ctx, Definition{ID: r.info.DefinitionID, Version: r.info.Version}),
			WaitForCancellation:   true,
		})
		var part MapOutput
		err := workflow.ExecuteChildWorkflow(cctx, WorkflowName, ExecutionInput{
			Batch:  &MapBatch{Node: req.Node, Scope: req.Scope, Items: items[from:to], Offset: from},
			Called: r.called,
		}).Get(ctx, &part)
		return part, err
	})
	if err != nil {
		return out, batchError(err)
	}
	for k, p := range parts.Results {
		part := p.(MapOutput)
		copy(out.Results[k*size:], part.Results)
		out.Errors = append(out.Errors, part.Errors...)
	}
	if !collect {
		out.Errors = nil
	}
	return out, nil
}

// batchError is a failed batch's error as the item's own: the batch failed
// with the first failed item's error.
func batchError(err error) error {
	var childErr *temporal.ChildWorkflowExecutionError
	if errors.As(err, &childErr) {
		if inner := childErr.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// runBatch is the workflow of a batch child: the items run inline.
func (r *run) runBatch(ctx workflow.Context, b *MapBatch) (MapOutput, error) {
	cfg, bad := decodeConfig[MapConfig](b.Node.Config, "map") //workflowcheck:ignore (see wait)
	if bad != nil {
		return MapOutput{}, temporal.NewNonRetryableApplicationError("map config: "+bad.Error(), ErrConfiguration, nil)
	}
	return r.runItems(ctx, NodeRequest{Node: b.Node, Scope: b.Scope}, cfg, b.Items, b.Offset)
}

// window runs run(ctx, i) for i from 0 to n-1 in coroutines, never more
// than size at a time, starting the next as one ends. With collect, a
// failure is recorded (index offset+i) and the others go on; otherwise the
// first failure cancels the ones still running, waits for them to end and
// is returned. Results are by i, whatever order they end in; a cancel of
// ctx is returned as the cancel.
func window(ctx workflow.Context, n, size int, collect bool, offset int, run func(ctx workflow.Context, i int) (any, error)) (MapOutput, error) {
	type ended struct {
		i   int
		out any
		err error
	}
	out := MapOutput{Results: make([]any, n)}
	wctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	// Each coroutine sends once and at most size run at a time: sends never block.
	done := workflow.NewBufferedChannel(ctx, size)
	var failed error
	next, running := 0, 0
	for next < n || running > 0 {
		for running < size && next < n && failed == nil && ctx.Err() == nil {
			i := next
			next++
			running++
			workflow.Go(wctx, func(ctx workflow.Context) {
				v, err := run(ctx, i)
				done.Send(ctx, ended{i: i, out: v, err: err})
			})
		}
		if running == 0 {
			break
		}
		var e ended
		done.Receive(ctx, &e)
		running--
		switch {
		case e.err == nil:
			out.Results[e.i] = e.out
		case collect:
			out.Errors = append(out.Errors, ItemError{Index: offset + e.i, Error: errorValue(e.err)})
		case failed == nil:
			failed = e.err
			cancel()
		}
	}
	if err := ctx.Err(); err != nil {
		return out, temporal.NewCanceledError("map canceled")
	}
	if failed != nil {
		return out, failed
	}
	slices.SortFunc(out.Errors, func(a, b ItemError) int { return a.Index - b.Index })
	return out, nil
}

// mapConfigSchema is the JSON Schema of MapConfig (DefinitionSchema).
var mapConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["items", "body", "maxItems"],
	"properties": {
		"items": {"type": "string", "description": "CEL: a list"},
		"as": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
		"body": ` + bodySchema + `,
		"concurrency": {"type": "integer", "minimum": 1, "maximum": ` + fmt.Sprint(MaxMapConcurrency) + `},
		"maxItems": {"type": "integer", "minimum": 1, "maximum": ` + fmt.Sprint(MaxMapItems) + `},
		"onItemError": {"enum": ["fail", "collect"]}
	}
}`
