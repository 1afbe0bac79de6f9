package interpreter

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Reads says which parts of the scope each node reads: the paths its
// expressions name (config, outgoing edge conditions) and what its type
// reads without one (ImplicitReads). The interpreter sends each node only
// those parts, so the history grows with what the nodes use, not with the
// number of nodes times the whole input: a node scheduled as a regular
// activity records its whole request in history.
//
// Reads is computed once per definition version, outside workflow code
// (PlanReads), and carried in ExecutionInput so the workflow never parses
// CEL. An execution started without it (before it existed) gives every node
// the whole scope.
type Reads struct {
	// Nodes is aligned with Definition.Nodes.
	Nodes []ScopePaths `json:"nodes"`
	// Output is what the definition's output mapping reads.
	Output ScopePaths `json:"output,omitempty"`
}

// ScopePaths are paths into the scope, each starting with a variable name:
// ["input", "email"], ["nodes", "charge", "id"], ["errors", "stock"]. A
// path of the name alone means the whole variable. The execution variable
// is always sent whole (it is small).
type ScopePaths [][]string

// ScopeAnalyzer is an ExprChecker that also says which paths of the scope
// an expression reads (expr.Env.References).
type ScopeAnalyzer interface {
	ExprChecker
	References(src string) ([][]string, error)
}

// PlanReads computes the Reads of a valid definition. Every node's config
// is checked again through a recording ExprChecker, so node types need not
// list their expressions separately.
func PlanReads(def *Definition, reg *Registry, an ScopeAnalyzer) (*Reads, error) {
	g := newGraph(def)
	reads := &Reads{Nodes: make([]ScopePaths, len(def.Nodes))}
	for i, n := range def.Nodes {
		nt, ok := reg.Lookup(n.Type)
		if !ok {
			return nil, fmt.Errorf("node %s: unknown node type %q", n.ID, n.Type)
		}
		rec := &recordingChecker{inner: an}
		if nt.CheckConfig != nil {
			nt.CheckConfig(n.Config, rec)
		}
		if nt.ImplicitReads != nil {
			rec.sources = append(rec.sources, nt.ImplicitReads(n.Config)...)
		}
		for _, e := range g.outgoingEdges(i) {
			if e.Condition != "" {
				rec.sources = append(rec.sources, e.Condition)
			}
		}
		paths, err := referenced(an, rec.sources)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.ID, err)
		}
		reads.Nodes[i] = paths
	}
	keys := make([]string, 0, len(def.Output))
	for k := range def.Output {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sources []string
	for _, k := range keys {
		sources = append(sources, def.Output[k])
	}
	paths, err := referenced(an, sources)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	reads.Output = paths
	return reads, nil
}

// recordingChecker notes every expression a node type's CheckConfig
// compiles.
type recordingChecker struct {
	inner   ExprChecker
	sources []string
}

func (r *recordingChecker) Check(src string) error {
	r.sources = append(r.sources, src)
	return r.inner.Check(src)
}

// referenced is the union of what the sources read, with paths covered by
// a shorter one dropped.
func referenced(an ScopeAnalyzer, sources []string) (ScopePaths, error) {
	var all ScopePaths
	for _, src := range sources {
		paths, err := an.References(src)
		if err != nil {
			return nil, err
		}
		all = append(all, paths...)
	}
	return normalize(all), nil
}

// normalize drops duplicates and paths under a shorter path of the set,
// keeping the order of first appearance.
func normalize(paths ScopePaths) ScopePaths {
	var out ScopePaths
	for _, p := range paths {
		if slices.ContainsFunc(out, func(q []string) bool { return isPathPrefix(q, p) }) {
			continue
		}
		out = slices.DeleteFunc(out, func(q []string) bool { return isPathPrefix(p, q) })
		out = append(out, p)
	}
	return out
}

func isPathPrefix(prefix, path []string) bool {
	return len(prefix) <= len(path) && slices.Equal(prefix, path[:len(prefix)])
}

// pathTrie is a set of paths below one point of a value: whole, or the
// listed children (in the order they were added).
type pathTrie struct {
	whole    bool
	children []*pathChild
}

type pathChild struct {
	key  string
	trie *pathTrie
}

func (t *pathTrie) add(path []string) {
	for _, key := range path {
		if t.whole {
			return
		}
		i := slices.IndexFunc(t.children, func(c *pathChild) bool { return c.key == key })
		if i < 0 {
			t.children = append(t.children, &pathChild{key: key, trie: &pathTrie{}})
			i = len(t.children) - 1
		}
		t = t.children[i].trie
	}
	t.whole, t.children = true, nil
}

// reads says whether the trie names anything.
func (t *pathTrie) reads() bool { return t.whole || len(t.children) > 0 }

// child is the trie below key, nil when nothing below key is named.
func (t *pathTrie) child(key string) *pathTrie {
	if t.whole {
		return &pathTrie{whole: true}
	}
	for _, c := range t.children {
		if c.key == key {
			return c.trie
		}
	}
	return nil
}

// prune returns the part of v the trie names: v itself when the trie is
// whole or v is not an object (an expression that selects into a
// non-object fails the same way on the whole value), else a new object with
// the named keys v has. It never ranges over a map: keys come from the
// trie, in order.
func (t *pathTrie) prune(v any) any {
	if t.whole {
		return v
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(t.children))
	for _, c := range t.children {
		if child, present := m[c.key]; present {
			out[c.key] = c.trie.prune(child)
		}
	}
	return out
}

// scopeTries splits scope paths by variable.
type scopeTries struct {
	input  pathTrie
	nodes  pathTrie // below: node id, then the output's fields
	errors pathTrie // below: node id
}

func newScopeTries(paths ScopePaths) *scopeTries {
	st := &scopeTries{}
	for _, p := range paths {
		switch p[0] {
		case "input":
			st.input.add(p[1:])
		case "nodes":
			st.nodes.add(p[1:])
		case "errors":
			// An error value is small: send it whole.
			st.errors.add(p[1:min(len(p), 2)])
		}
	}
	return st
}

// HistoryEstimate is what starting an execution will write to Temporal,
// from the definition and the input alone (node outputs are not known yet).
type HistoryEstimate struct {
	// Bytes estimates the history, should every node run.
	Bytes int
	// LargestPayload is the largest single payload the execution will send
	// (its start, or one node's request), and LargestWhat names it.
	LargestPayload int
	LargestWhat    string
}

// historyEventOverhead approximates the bytes of history each regular
// activity adds besides its input: scheduled/started/completed events and
// the workflow task that follows.
const historyEventOverhead = 1 << 10

// HistoryModel is what a definition will write to an execution's history
// apart from its input, computed once per definition (the API keeps it with
// the loaded definition) so that each execute only measures its input.
// Local activities record only their results, so only nodes scheduled as
// regular activities count their requests (node, edges, and the part of the
// input they read).
type HistoryModel struct {
	definitionBytes int
	remote          []remoteRequest
}

// remoteRequest is a node whose request Temporal records.
type remoteRequest struct {
	id         string
	fixedBytes int // the node and its edges
	// input is the part of the input the node reads; nil: all of it
	// (an execution without Reads). inputKey names the paths, so nodes
	// reading the same parts are measured once per estimate.
	input    *pathTrie
	inputKey string
}

// NewHistoryModel builds the model of def; reads may be nil (every node is
// then given the whole input).
func NewHistoryModel(def *Definition, reg *Registry, reads *Reads) (*HistoryModel, error) {
	defJSON, err := json.Marshal(def)
	if err != nil {
		return nil, err
	}
	m := &HistoryModel{definitionBytes: len(defJSON)}
	g := newGraph(def)
	for i, n := range def.Nodes {
		nt, ok := reg.Lookup(n.Type)
		if !ok || !scheduledRemotely(n, nt.Kind) {
			continue
		}
		nodeJSON, err := json.Marshal(n)
		if err != nil {
			return nil, err
		}
		edgesJSON, err := json.Marshal(g.outgoingEdges(i))
		if err != nil {
			return nil, err
		}
		r := remoteRequest{id: n.ID, fixedBytes: len(nodeJSON) + len(edgesJSON)}
		if reads != nil && i < len(reads.Nodes) {
			r.input = &newScopeTries(reads.Nodes[i]).input
			r.inputKey = strings.Join(flatten(reads.Nodes[i], "input"), "\x00")
		}
		m.remote = append(m.remote, r)
	}
	return m, nil
}

// CarryCalled counts the definitions the execution carries for its call
// nodes (ExecutionInput.Called) in its start, which they make bigger. The
// children's own histories are not counted: each is an execution of its own.
func (m *HistoryModel) CarryCalled(called []Definition) error {
	if len(called) == 0 {
		return nil
	}
	raw, err := json.Marshal(called)
	if err != nil {
		return err
	}
	m.definitionBytes += len(raw)
	return nil
}

// Estimate is what an execution with input will write to its history,
// should every node run (node outputs are not known yet).
func (m *HistoryModel) Estimate(input json.RawMessage) (HistoryEstimate, error) {
	start := m.definitionBytes + len(input)
	est := HistoryEstimate{Bytes: start, LargestPayload: start, LargestWhat: "the execution's input and definition"}
	var decoded any
	measured := map[string]int{} // inputKey -> pruned input size
	for _, r := range m.remote {
		inputBytes := len(input)
		if r.input != nil && !r.input.whole {
			size, seen := measured[r.inputKey]
			if !seen {
				// Only a node reading part of the input needs it decoded.
				if decoded == nil {
					if err := json.Unmarshal(input, &decoded); err != nil {
						return est, err
					}
				}
				pruned, err := json.Marshal(r.input.prune(decoded))
				if err != nil {
					return est, err
				}
				size = len(pruned)
				measured[r.inputKey] = size
			}
			inputBytes = size
		}
		request := r.fixedBytes + inputBytes
		est.Bytes += request + historyEventOverhead
		if request > est.LargestPayload {
			est.LargestPayload, est.LargestWhat = request, "the request of node "+r.id
		}
	}
	return est, nil
}

// flatten lists the paths under variable name as strings, for a map key.
func flatten(paths ScopePaths, name string) []string {
	var out []string
	for _, p := range paths {
		if p[0] == name {
			out = append(out, strings.Join(p, "\x01"))
		}
	}
	return out
}

// scheduledRemotely says whether a node runs as a regular activity (its
// request recorded in history) rather than a local activity or in the
// workflow itself.
func scheduledRemotely(n Node, kind Kind) bool {
	switch kind {
	case KindIO:
		return true
	case KindPure:
		return n.Execution == ExecutionRemote
	}
	return false
}
