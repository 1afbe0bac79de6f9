package activities

import (
	"go.temporal.io/sdk/activity"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// nodeTypes is the one list of node types, in registry order: the
// registry, the workers' registration (pure and I/O task queues), replay,
// the config check and the tests all derive from it. A new node type is one
// file with its spec, its test, and one line here.
//
// a and io are the runners' dependencies. Where nodes are only checked,
// never run (the registry of the API and of replay), they are empty and no
// runner is ever called.
func nodeTypes(a *Activities, io IO) []nodeType {
	return []nodeType{
		validationNode(a),
		transformNode(a),
		conditionNode(a),
		failNode(),
		apiCallNode(io.HTTP),
		databaseQueryNode(io.Database),
		externalServiceNode(io.Services),
		emailNode(io.Email),
		notificationNode(io.HTTP),
		fileProcessingNode(io.Files),
	}
}

// IOOptions are the names a definition may use in I/O nodes, known to the API
// (which holds no secrets) and to the workers alike.
type IOOptions struct {
	// Databases are the connection names of database_query nodes. Nil
	// accepts any name (a process that does not know them).
	Databases []string
	// Services maps each external_service service to its operations. Nil
	// accepts any service.
	Services map[string][]string
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

// NodeTypes describes every node type for interpreter.NewRegistry: the
// registry of the workers, of the API and of replay. The config check of I/O
// nodes accepts the names in o.
func NodeTypes(o IOOptions) []interpreter.NodeType {
	return entries(o, func(interpreter.NodeType) bool { return true })
}

// PureNodeTypes describes the node types that do no I/O.
func PureNodeTypes() []interpreter.NodeType {
	return entries(IOOptions{}, func(nt interpreter.NodeType) bool { return nt.Kind == interpreter.KindPure })
}

func entries(o IOOptions, keep func(interpreter.NodeType) bool) []interpreter.NodeType {
	var out []interpreter.NodeType
	for _, t := range nodeTypes(nil, IO{}) {
		if nt := t.entry(o); keep(nt) {
			out = append(out, nt)
		}
	}
	return out
}

// Registrar is what registration needs of a worker (worker.Worker and the
// SDK's test environments have it).
type Registrar interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// RegisterPure registers the pure node types' activities under their node
// type names and the interpreter's helper activities under the interpreter's
// names: the main task queue's worker. Names are explicit: renaming a method
// must not rename an activity in history.
func (a *Activities) RegisterPure(r Registrar) {
	a.register(r, IO{}, interpreter.KindPure)
	for _, helper := range []struct {
		name string
		fn   any
	}{
		{interpreter.EdgesActivity, a.Edges},
		{interpreter.UntilActivity, a.Until},
		{interpreter.OutputActivity, a.Output},
		{interpreter.CallInputActivity, a.CallInput},
		{interpreter.LoopStepActivity, a.LoopStep},
		{interpreter.MapItemsActivity, a.MapItems},
	} {
		r.RegisterActivityWithOptions(helper.fn, activity.RegisterOptions{Name: helper.name})
	}
}

// RegisterIO registers the I/O node types' activities, run with io's
// dependencies, under their node type names: the I/O task queue's worker.
// io holds every dependency in a worker (internal/app builds it); a test may
// leave out those of node types it does not run.
func (a *Activities) RegisterIO(r Registrar, io *IO) {
	a.register(r, *io, interpreter.KindIO)
}

func (a *Activities) register(r Registrar, io IO, kind interpreter.Kind) {
	for _, t := range nodeTypes(a, io) {
		if nt := t.entry(IOOptions{}); nt.Kind == kind {
			r.RegisterActivityWithOptions(t.activity(a), activity.RegisterOptions{Name: nt.Name})
		}
	}
}
