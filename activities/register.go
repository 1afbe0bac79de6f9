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

// IOOptions are the names a definition may use in I/O nodes, known to the API
// (which holds no secrets) and to the workers alike.
type IOOptions struct {
	// Databases are the connection names of database_query nodes.
	Databases []string
	// Services maps each external_service service to its operations.
	Services map[string][]string
}

// IONodeTypes describes the node types of this package that do I/O, for
// interpreter.NewRegistry.
func IONodeTypes(o IOOptions) []interpreter.NodeType {
	return []interpreter.NodeType{
		APICallNodeType(),
		DatabaseQueryNodeType(o.Databases),
		ExternalServiceNodeType(o.Services),
		EmailNodeType(),
		NotificationNodeType(),
		FileProcessingNodeType(),
	}
}

// NodeTypes describes every node type of this package, the pure ones and
// the I/O ones with o's names, for interpreter.NewRegistry: the registry of
// the workers and of the API.
func NodeTypes(o IOOptions) []interpreter.NodeType {
	return append(PureNodeTypes(), IONodeTypes(o)...)
}

// IO holds the dependencies of the I/O node types: the secrets and
// connections that only the workers serving the I/O task queue have.
type IO struct {
	HTTP     *HTTPNodes
	Database *DatabaseNodes
	Services *ServiceNodes
	Email    *EmailNodes
	Files    *FileNodes
}

// Register registers the I/O node activities under their node type names.
func (io *IO) Register(r Registrar) {
	for _, reg := range []struct {
		name string
		fn   any
	}{
		{TypeAPICall, io.HTTP.APICall},
		{TypeDatabaseQuery, io.Database.DatabaseQuery},
		{TypeExternalService, io.Services.ExternalService},
		{TypeEmail, io.Email.Email},
		{TypeNotification, io.HTTP.Notification},
		{TypeFileProcessing, io.Files.FileProcessing},
	} {
		r.RegisterActivityWithOptions(reg.fn, activity.RegisterOptions{Name: reg.name})
	}
}
