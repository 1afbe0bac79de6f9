package interpreter

// scope builds the expression variables from the nodes that have finished,
// as fresh maps: each request owns its copy.
func (r *run) scope() Scope {
	s := Scope{Input: r.input, Nodes: map[string]any{}, Errors: map[string]any{}, Execution: r.info}
	for _, st := range r.nodes {
		switch st.Status {
		case StatusCompleted:
			s.Nodes[st.ID] = st.output
		case StatusFailed:
			s.Errors[st.ID] = st.errInfo
		}
	}
	return s
}

// nodeScope is the scope node i is given: what it reads, or everything
// when the execution carries no Reads.
func (r *run) nodeScope(i int) Scope {
	if r.reads == nil {
		return r.scope()
	}
	return r.scopeOf(r.reads.Nodes[i])
}

// scopeOf builds the part of the scope that paths name, as fresh maps. It
// walks the nodes in definition order and the paths in their order, never a
// map.
func (r *run) scopeOf(paths ScopePaths) Scope {
	st := newScopeTries(paths)
	s := Scope{Nodes: map[string]any{}, Errors: map[string]any{}, Execution: r.info}
	if st.input.reads() {
		s.Input = st.input.prune(r.input)
	}
	for _, n := range r.nodes {
		switch n.Status {
		case StatusCompleted:
			if t := st.nodes.child(n.ID); t != nil {
				s.Nodes[n.ID] = t.prune(n.output)
			}
		case StatusFailed:
			if st.errors.child(n.ID) != nil {
				s.Errors[n.ID] = n.errInfo
			}
		}
	}
	return s
}
