package activities

import (
	"go.temporal.io/sdk/activity"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Registrar is what RegisterPure needs of a worker (worker.Worker and the
// SDK's test environments have it).
type Registrar interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// PureNodeTypes describes the node types of this package that do no I/O, for
// interpreter.NewRegistry.
func PureNodeTypes() []interpreter.NodeType {
	return []interpreter.NodeType{
		ValidationNodeType(),
		TransformNodeType(),
		ConditionNodeType(),
		FailNodeType(),
	}
}

// RegisterPure registers the pure node activities under their node type names
// and the interpreter's helper activities under the interpreter's names. Names
// are explicit: renaming a method must not rename an activity in history.
func (a *Activities) RegisterPure(r Registrar) {
	for _, reg := range []struct {
		name string
		fn   any
	}{
		{TypeValidation, a.Validation},
		{TypeTransform, a.Transform},
		{TypeCondition, a.Condition},
		{TypeFail, a.Fail},
		{interpreter.EdgesActivity, a.Edges},
		{interpreter.UntilActivity, a.Until},
		{interpreter.OutputActivity, a.Output},
	} {
		r.RegisterActivityWithOptions(reg.fn, activity.RegisterOptions{Name: reg.name})
	}
}
