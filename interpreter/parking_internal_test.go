package interpreter

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// ShouldPark, the hook a node that runs many steps (loop, map) asks
// between steps, starts the drain itself once the history is over the
// budget: while such a node runs alone no other completion makes a
// boundary.
func TestShouldParkStartsTheDrainOverTheBudget(t *testing.T) {
	for _, tc := range []struct {
		historyLength int
		want          bool
	}{{historyLength: 9, want: false}, {historyLength: 10, want: true}} {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestWorkflowEnvironment()
		env.SetCurrentHistoryLength(tc.historyLength)
		var got bool
		env.ExecuteWorkflow(func(ctx workflow.Context) error {
			def := Definition{ID: "d", Version: "1", StartNode: "steps", Nodes: []Node{{ID: "steps", Type: "loop"}}}
			r := newRun(ctx, NewRegistry(), ExecutionInput{Definition: def, RunBudget: &RunBudget{Events: 10}})
			r.running = 1 // the node that asks
			park := &parking{r: r}
			got = park.ShouldPark(ctx)
			if got != park.Ready().IsReady() || got != r.draining {
				return errors.New("ShouldPark, Ready and the run disagree")
			}
			return nil
		})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("history of %d events, budget 10: ShouldPark %v, want %v", tc.historyLength, got, tc.want)
		}
	}
}
