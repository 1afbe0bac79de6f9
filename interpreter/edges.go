package interpreter

import (
	"encoding/json"
	"slices"

	"go.temporal.io/sdk/workflow"
)

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

// OutcomesFor lists the outcomes a node of this type with config can end
// with: success and error, then those of the type's own its config allows.
func (t NodeType) OutcomesFor(config json.RawMessage) []string {
	if t.OutcomesOf == nil {
		return t.AllOutcomes()
	}
	return append([]string{OutcomeSuccess, OutcomeError}, t.OutcomesOf(config)...)
}

// decideEdges returns the ids of the edges of outcome whose condition holds.
// Conditions are CEL, so they are evaluated by a local activity, scheduled
// in schedule and awaited in ctx (a coroutine blocks only on its own
// context; schedule may be the compensation context); edges without
// conditions are decided here.
func decideEdges(ctx, schedule workflow.Context, nodeID, outcome string, edges []Edge, scope Scope) ([]string, error) {
	matching := EdgesOn(edges, outcome)
	if !slices.ContainsFunc(matching, func(e Edge) bool { return e.Condition != "" }) {
		ids := make([]string, len(matching))
		for i, e := range matching {
			ids[i] = e.ID
		}
		return ids, nil
	}
	var fired []string
	err := helperActivity(schedule, EdgesActivity, nodeID+": edges on "+outcome,
		EdgesRequest{Outcome: outcome, Edges: matching, Scope: scope}).Get(ctx, &fired)
	return fired, err
}
