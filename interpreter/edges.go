package interpreter

// EdgesOn is the one rule for which edges an outcome takes: the edges whose
// On is outcome (an empty On means success), in definition order, before
// their conditions are evaluated. The scheduler, the activities that decide
// their node's edges, and the validator all match edges with it.
func EdgesOn(edges []Edge, outcome string) []Edge {
	var matching []Edge
	for _, e := range edges {
		if e.EdgeOn() == outcome {
			matching = append(matching, e)
		}
	}
	return matching
}

// AllOutcomes lists every outcome a node of this type can end with: success
// and error, then the type's own.
func (t NodeType) AllOutcomes() []string {
	return append([]string{OutcomeSuccess, OutcomeError}, t.Outcomes...)
}
