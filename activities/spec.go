package activities

import (
	"context"
	"encoding/json"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// spec is one node type, declared once in its own file: everything the
// registry, the workers and the config check need to know of it. Config is
// the JSON config of a node of the type, decoded strictly; Compiled is what
// its runner needs, checked and prepared from it (often Config itself).
type spec[Config, Compiled any] struct {
	Name string
	// Kind is KindPure or KindIO (wait, which the workflow itself carries
	// out, is the interpreter's own node type).
	Kind interpreter.Kind
	// Outcomes its outgoing edges may name besides success and error.
	Outcomes []string
	// ConfigSchema is the JSON Schema (draft 2020-12) of Config, written
	// next to it in the type's file: GET /api/schema/definition.json
	// gathers them (interpreter.DefinitionSchema). It says what a schema
	// can; Compile checks everything (expressions, names the workers know).
	ConfigSchema string
	// Compile checks a decoded config, adding its problems to c, and
	// prepares what Run needs. It runs when a definition is registered and
	// once per definition version on the workers (see configCache).
	Compile func(cfg Config, c *compiling) Compiled
	// ImplicitReads lists what a node reads besides the expressions Compile
	// checks (see interpreter.NodeType). Optional.
	ImplicitReads func(cfg Config) []string
	// Run runs one node and returns its output and outcome (OutcomeSuccess
	// unless the type has outcomes of its own). It is bound to the node
	// type's dependencies where the list is built (nodeTypes); where nodes
	// are only checked, never run, they are nil and Run is never called.
	Run func(ctx context.Context, node interpreter.Node, cfg Compiled, vars map[string]any) (output any, outcome string, err error)
}

// nodeType is a spec as the list of node types holds it: its config types
// hidden behind what the registry and the workers take from it.
type nodeType interface {
	// entry is the node type as the registry knows it; registration holds
	// the names I/O nodes may use.
	entry(registration IOOptions) interpreter.NodeType
	// activity is the activity that runs nodes of the type in a's frame.
	activity(a *Activities) func(context.Context, interpreter.NodeRequest) (interpreter.NodeResult, error)
}

// compile decodes raw strictly (an absent config is {}) and compiles it. A
// config that does not decode has that one problem.
func (s spec[Config, Compiled]) compile(raw json.RawMessage, c *compiling) Compiled {
	var cfg Config
	if err := problem.Decode(raw, &cfg, "the config"); err != nil {
		c.Add(err.Path, interpreter.CodeInvalidConfig, "%s", err.Message)
		var none Compiled
		return none
	}
	return s.Compile(cfg, c)
}

func (s spec[Config, Compiled]) entry(registration IOOptions) interpreter.NodeType {
	nt := interpreter.NodeType{
		Name:         s.Name,
		Kind:         s.Kind,
		Outcomes:     s.Outcomes,
		ConfigSchema: json.RawMessage(s.ConfigSchema),
		CheckConfig: func(raw json.RawMessage, exprs interpreter.ExprChecker) []interpreter.Problem {
			var ps problem.List
			s.compile(raw, &compiling{List: &ps, exprs: exprs, registration: &registration})
			return ps.All()
		},
	}
	if s.ImplicitReads != nil {
		nt.ImplicitReads = func(raw json.RawMessage) []string {
			var cfg Config
			if problem.Decode(raw, &cfg, "the config") != nil {
				var zero Config // what a node reads that did not say otherwise
				cfg = zero
			}
			return s.ImplicitReads(cfg)
		}
	}
	return nt
}

func (s spec[Config, Compiled]) activity(a *Activities) func(context.Context, interpreter.NodeRequest) (interpreter.NodeResult, error) {
	return func(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
		cfg, err := cachedConfig(a, req, s.compile)
		if err != nil {
			return interpreter.NodeResult{}, err
		}
		return a.runNode(ctx, req, func(ctx context.Context, node interpreter.Node, vars map[string]any) (any, string, error) {
			return s.Run(ctx, node, cfg, vars)
		})
	}
}

// Compile-time check that the expression environment is an ExprChecker.
var _ interpreter.ExprChecker = (*expr.Env)(nil)
