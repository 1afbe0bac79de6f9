package interpreter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// Limits on the size of a definition, so one graph cannot exhaust a
// workflow's history, and registering the largest accepted one stays well
// under a second: every step of Parse is linear in the document, and
// compiling expressions, the costliest step (about 1 ms per KB), is bounded
// by maxExpressionBytes. Ids are at most 64 characters (problem.IDRule).
const (
	maxNodes = 500
	maxEdges = 2000
	// maxOutEdges caps the fan-out of one node: every edge that fires
	// schedules its target in the same workflow task, and each scheduled
	// activity is history events and a task for the workers.
	maxOutEdges = 100
	// maxDefinitionBytes bounds the JSON document, whatever the API's body
	// limit is.
	maxDefinitionBytes = 1 << 20
	// maxExpressionBytes bounds the CEL source of all of a definition's
	// expressions together (500 nodes of 256 bytes each).
	maxExpressionBytes = 128 << 10
	// maxInputSchemaBytes bounds the inputSchema: compiling a JSON Schema
	// costs about 1 ms per KB (its patterns are compiled too).
	maxInputSchemaBytes = 64 << 10
)

// reservedIDs are definition ids that collide with API routes.
var reservedIDs = []string{"statistics", "test"}

// Parse decodes a definition document, derives missing edge ids and
// validates the graph. It returns every problem found, not just the first
// (fields the format does not have among them); the definition is usable
// only when the problem list is empty.
func Parse(data []byte, reg *Registry, exprs ExprChecker) (Definition, []Problem) {
	var def Definition
	v := validator{def: &def, reg: reg}
	if len(data) > maxDefinitionBytes {
		v.problems.Add("", CodeTooLarge, "the definition is %d bytes; the limit is %d", len(data), maxDefinitionBytes)
		return def, v.problems.All()
	}
	unknown, err := problem.DecodeLenient(data, &def, "the definition")
	if err != nil {
		v.problems.Add("", CodeInvalidJSON, "%s", err.Error())
		return def, v.problems.All()
	}
	v.problems.Append(unknown...)
	def.Schema = ""
	// A graph over the size limits is refused before anything else looks at
	// it: the other checks would only spend time listing its problems.
	if !v.checkSize() {
		return def, v.problems.All()
	}
	deriveEdgeIDs(&def)
	if exprs != nil {
		v.exprs = &exprBudget{inner: exprs, left: maxExpressionBytes}
	}
	v.validate()
	return def, v.problems.All()
}

// checkSize reports a definition with more nodes or edges than allowed,
// and whether it is within the limits.
func (v *validator) checkSize() bool {
	ok := true
	if n := len(v.def.Nodes); n > maxNodes {
		v.problems.Add("nodes", CodeTooLarge, "the definition has %d nodes; a definition may have at most %d", n, maxNodes)
		ok = false
	}
	if n := len(v.def.Edges); n > maxEdges {
		v.problems.Add("edges", CodeTooLarge, "the definition has %d edges; a definition may have at most %d", n, maxEdges)
		ok = false
	}
	return ok
}

// exprBudget compiles expressions until their sources add up to more than
// maxExpressionBytes; past that it only counts, and the validator reports
// the total once.
type exprBudget struct {
	inner ExprChecker
	left  int
	total int
}

func (b *exprBudget) Check(src string) error {
	b.total += len(src)
	b.left -= len(src)
	if b.left < 0 {
		return nil
	}
	return b.inner.Check(src)
}

func (b *exprBudget) exceeded() bool { return b.left < 0 }

// Canonical returns the definition as compact JSON with sorted object keys,
// so two documents that mean the same thing compare equal byte for byte.
// This is the form the definition store keeps and hashes.
func Canonical(def Definition) ([]byte, error) {
	raw, err := json.Marshal(def)
	if err != nil {
		return nil, err
	}
	return CanonicalJSON(raw)
}

// CanonicalJSON re-encodes one JSON value canonically: object keys sorted, no
// insignificant whitespace, no HTML escaping ("<", ">" and "&" stay as they
// are), numbers kept exactly as written.
func CanonicalJSON(raw []byte) ([]byte, error) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// deriveEdgeIDs names edges that have no id "source->target", adding "#2",
// "#3"... when two edges join the same pair of nodes. Each pair remembers
// the last suffix it gave out, so the ids of n edges between one pair are
// found in linear time, not by probing "#2", "#3"… for every edge.
func deriveEdgeIDs(def *Definition) {
	taken := make(map[string]bool, len(def.Edges))
	for _, e := range def.Edges {
		if e.ID != "" {
			taken[e.ID] = true
		}
	}
	next := map[string]int{} // base id -> next suffix to try
	for i := range def.Edges {
		e := &def.Edges[i]
		if e.ID != "" {
			continue
		}
		base := e.Source + "->" + e.Target
		id := base
		n, seen := next[base]
		if !seen {
			n = 2
		}
		if seen || taken[id] {
			for id = fmt.Sprintf("%s#%d", base, n); taken[id]; id = fmt.Sprintf("%s#%d", base, n) {
				n++
			}
			n++
		}
		next[base] = n
		e.ID = id
		taken[id] = true
	}
}

type validator struct {
	def      *Definition
	reg      *Registry
	exprs    ExprChecker // nil: expressions are not compiled
	problems problem.List
}

func (v *validator) validate() {
	v.checkHeader()
	nodeIndex := v.checkNodes()
	v.checkEdges(nodeIndex)
	if v.def.StartNode != "" {
		if _, ok := nodeIndex[v.def.StartNode]; !ok {
			v.problems.Add("startNode", CodeMissingStartNode, "startNode %q is not a node of this definition", v.def.StartNode)
		} else {
			v.checkGraph(nodeIndex)
		}
	}
	v.checkOutput()
	v.checkCache()
	if b, ok := v.exprs.(*exprBudget); ok && b.exceeded() {
		v.problems.Add("", CodeTooLarge, "the definition's expressions are %d bytes in all; the limit is %d (compute big values in fewer, shorter expressions)", b.total, maxExpressionBytes)
	}
	if n := len(v.def.InputSchema); n > maxInputSchemaBytes {
		v.problems.Add("inputSchema", CodeTooLarge, "the inputSchema is %d bytes; the limit is %d", n, maxInputSchemaBytes)
	} else if n > 0 {
		if _, err := CompileSchema(v.def.InputSchema); err != nil {
			v.problems.Add("inputSchema", CodeInvalidSchema, "inputSchema is not a valid JSON Schema: %v", err)
		}
	}
}

func (v *validator) checkHeader() {
	d := v.def
	switch {
	case d.ID == "":
		v.problems.Add("id", CodeRequired, "id is required")
	case !v.problems.ID("id", d.ID, problem.DefinitionID):
	case slices.Contains(reservedIDs, d.ID):
		v.problems.Add("id", CodeReservedID, "id %q is reserved", d.ID)
	}
	if d.Version == "" {
		v.problems.Add("version", CodeRequired, "version is required")
	} else {
		v.problems.ID("version", d.Version, problem.Version)
	}
	if d.StartNode == "" {
		v.problems.Add("startNode", CodeRequired, "startNode is required")
	}
	if len(d.Nodes) == 0 {
		v.problems.Add("nodes", CodeRequired, "a definition needs at least one node")
	}
}

// checkNodes validates each node and returns node id -> index of the first
// node with that id.
func (v *validator) checkNodes() map[string]int {
	index := make(map[string]int, len(v.def.Nodes))
	for i, n := range v.def.Nodes {
		at := v.problems.Under(fmt.Sprintf("nodes[%d]", i))
		if n.ID == "" {
			at.Add("id", CodeRequired, "node id is required")
		} else {
			at.ID("id", n.ID, problem.NodeID)
			if first, dup := index[n.ID]; dup {
				at.Add("id", CodeDuplicateID, "node id %q is already used by nodes[%d]", n.ID, first)
			} else {
				index[n.ID] = i
			}
		}
		if n.Type == "" {
			at.Add("type", CodeRequired, "node type is required")
			continue
		}
		nt, ok := v.reg.Lookup(n.Type)
		if !ok {
			at.Add("type", CodeUnknownNodeType, "unknown node type %q (known: %s)", n.Type, strings.Join(v.reg.Names(), ", "))
			continue
		}
		checkExecution(at, n, nt)
		checkTimeouts(at, n, nt)
		if nt.CheckConfig != nil {
			at.Under("config").Append(nt.CheckConfig(n.Config, v.exprs)...)
		}
	}
	return index
}

// checkExecution checks node n's execution mode; at is the node's path.
func checkExecution(at *problem.List, n Node, nt NodeType) {
	switch n.Execution {
	case "":
	case ExecutionLocal:
		if nt.Kind != KindPure {
			at.Add("execution", CodeInvalidExecution, "%s nodes cannot run as local activities: they do I/O, and a local activity is re-run from the start after a worker crash and cannot heartbeat", n.Type)
		}
	case ExecutionRemote:
		if nt.Kind == KindWorkflow {
			at.Add("execution", CodeInvalidExecution, "%s nodes run inside the workflow; execution does not apply", n.Type)
		}
	default:
		at.Add("execution", CodeInvalidExecution, "execution must be %q or %q", ExecutionLocal, ExecutionRemote)
	}
}

// checkTimeouts checks node n's timeout and retry policy; at is the node's
// path.
func checkTimeouts(at *problem.List, n Node, nt NodeType) {
	if nt.Kind == KindWorkflow && (n.Timeout != "" || n.Retry != nil) {
		switch n.Type {
		case RespondNodeType:
			at.Add("", CodeInvalidConfig, "respond nodes are not activities: timeout and retry do not apply")
		case CallNodeType:
			at.Add("", CodeInvalidConfig, "call nodes are not activities: timeout and retry do not apply (a retried child would repeat its side effects)")
		case LoopNodeType, MapNodeType:
			at.Add("", CodeInvalidConfig, "%s nodes are not activities: timeout and retry go on the body node", n.Type)
		default:
			at.Add("", CodeInvalidConfig, "%s nodes are not activities: use the config's timeout instead of timeout/retry", n.Type)
		}
		return
	}
	at.Duration("timeout", n.Timeout)
	if r := n.Retry; r != nil {
		if r.MaximumAttempts < 0 {
			at.Add("retry.maximumAttempts", CodeInvalidRetry, "maximumAttempts must be at least 1 (omit it for the default)")
		}
		if r.BackoffCoefficient != 0 && r.BackoffCoefficient < 1 {
			at.Add("retry.backoffCoefficient", CodeInvalidRetry, "backoffCoefficient must be at least 1")
		}
		at.Duration("retry.initialInterval", r.InitialInterval)
		at.Duration("retry.maximumInterval", r.MaximumInterval)
	}
}

func (v *validator) checkEdges(nodeIndex map[string]int) {
	seen := make(map[string]int, len(v.def.Edges))
	outgoing := make(map[string]int, len(v.def.Nodes))
	defer func() {
		// In definition order, once per node.
		for i, n := range v.def.Nodes {
			if nodeIndex[n.ID] == i && outgoing[n.ID] > maxOutEdges {
				v.problems.Add(fmt.Sprintf("nodes[%d]", i), CodeInvalidConfig,
					"node %q has %d outgoing edges; a node may have at most %d (fan out through intermediate nodes, or pass a list to one node)", n.ID, outgoing[n.ID], maxOutEdges)
			}
		}
	}()
	for i, e := range v.def.Edges {
		outgoing[e.Source]++
		path := fmt.Sprintf("edges[%d]", i)
		if first, dup := seen[e.ID]; dup {
			v.problems.Add(path+".id", CodeDuplicateID, "edge id %q is already used by edges[%d]", e.ID, first)
		} else {
			seen[e.ID] = i
		}
		var source *Node
		if e.Source == "" {
			v.problems.Add(path+".source", CodeRequired, "edge source is required")
		} else if si, ok := nodeIndex[e.Source]; !ok {
			v.problems.Add(path+".source", CodeUnknownNode, "edge source %q is not a node of this definition", e.Source)
		} else {
			source = &v.def.Nodes[si]
		}
		if e.Target == "" {
			v.problems.Add(path+".target", CodeRequired, "edge target is required")
		} else if _, ok := nodeIndex[e.Target]; !ok {
			v.problems.Add(path+".target", CodeUnknownNode, "edge target %q is not a node of this definition", e.Target)
		}
		if source != nil {
			v.checkOutcome(path, e, *source)
		}
		if e.Condition != "" {
			v.problems.Expression(path+".condition", e.Condition, v.exprs)
		}
	}
}

func (v *validator) checkOutcome(path string, e Edge, source Node) {
	nt, ok := v.reg.Lookup(source.Type)
	if !ok {
		return // already reported on the node
	}
	if e.On == "" && slices.Contains(nt.Outcomes, OutcomeTrue) {
		v.problems.Add(path+".on", CodeInvalidOutcome, "edges leaving a %s node need on: \"true\" or \"false\" (or \"error\")", source.Type)
		return
	}
	if allowed := nt.OutcomesFor(source.Config); !slices.Contains(allowed, e.EdgeOn()) {
		v.problems.Add(path+".on", CodeInvalidOutcome, "on %q is not an outcome of %s node %q (allowed: %s)", e.On, source.Type, source.ID, strings.Join(allowed, ", "))
	}
}

// checkOutput compiles the output mapping's expressions, in key order.
func (v *validator) checkOutput() {
	for _, k := range slices.Sorted(maps.Keys(v.def.Output)) {
		v.problems.Expression("output."+k, v.def.Output[k], v.exprs)
	}
}

// checkGraph reports nodes that cannot be reached from the start node and
// cycles. Both walks go over slices in definition order, so the problems
// come out in the same order every time.
func (v *validator) checkGraph(nodeIndex map[string]int) {
	n := len(v.def.Nodes)
	out := make([][]int, n)
	for _, e := range v.def.Edges {
		s, okS := nodeIndex[e.Source]
		t, okT := nodeIndex[e.Target]
		if okS && okT {
			out[s] = append(out[s], t)
		}
	}
	start := nodeIndex[v.def.StartNode]

	reached := make([]bool, n)
	queue := []int{start}
	reached[start] = true
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range out[cur] {
			if !reached[next] {
				reached[next] = true
				queue = append(queue, next)
			}
		}
	}
	for i, node := range v.def.Nodes {
		if !reached[i] && node.ID != "" {
			if first, ok := nodeIndex[node.ID]; ok && first == i {
				v.problems.Add(fmt.Sprintf("nodes[%d]", i), CodeUnreachableNode, "node %q cannot be reached from startNode %q", node.ID, v.def.StartNode)
			}
		}
	}

	// Depth-first search with colours: meeting a node that is still on the
	// stack closes a cycle.
	const (
		white = iota
		grey
		black
	)
	colour := make([]int, n)
	var stack []int
	var visit func(int)
	visit = func(i int) {
		colour[i] = grey
		stack = append(stack, i)
		for _, next := range out[i] {
			switch colour[next] {
			case grey:
				at := slices.Index(stack, next)
				ids := make([]string, 0, len(stack)-at+1)
				for _, j := range stack[at:] {
					ids = append(ids, v.def.Nodes[j].ID)
				}
				ids = append(ids, v.def.Nodes[next].ID)
				v.problems.Add(fmt.Sprintf("nodes[%d]", next), CodeCycle, "cycle %s: edges must not loop (repeat work with a loop node)", strings.Join(ids, " -> "))
			case white:
				visit(next)
			}
		}
		stack = stack[:len(stack)-1]
		colour[i] = black
	}
	for i := range v.def.Nodes {
		if colour[i] == white {
			visit(i)
		}
	}
}
