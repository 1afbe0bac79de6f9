package interpreter

import (
	"encoding/json"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// Kind says where a node type runs.
type Kind int

const (
	// KindPure node types are deterministic and cheap: they run as local
	// activities unless a node asks for "execution": "remote".
	KindPure Kind = iota
	// KindIO node types do I/O: regular activities on the I/O task queue.
	KindIO
	// KindWorkflow node types are carried out by the workflow itself (wait,
	// call, respond, loop, map).
	KindWorkflow
)

// Problem is one thing wrong with a definition (see package problem, the
// toolkit every layer reports problems with).
type Problem = problem.Problem

// Problem codes. Clients match on them: append only (package problem
// declares them once).
const (
	CodeInvalidJSON       = problem.CodeInvalidJSON
	CodeRequired          = problem.CodeRequired
	CodeInvalidID         = problem.CodeInvalidID
	CodeReservedID        = problem.CodeReservedID
	CodeUnknownNodeType   = problem.CodeUnknownNodeType
	CodeDuplicateID       = problem.CodeDuplicateID
	CodeMissingStartNode  = problem.CodeMissingStartNode
	CodeUnknownNode       = problem.CodeUnknownNode
	CodeUnreachableNode   = problem.CodeUnreachableNode
	CodeCycle             = problem.CodeCycle
	CodeInvalidConfig     = problem.CodeInvalidConfig
	CodeInvalidDuration   = problem.CodeInvalidDuration
	CodeInvalidExpression = problem.CodeInvalidExpression
	CodeInvalidOutcome    = problem.CodeInvalidOutcome
	CodeInvalidExecution  = problem.CodeInvalidExecution
	CodeInvalidRetry      = problem.CodeInvalidRetry
	CodeInvalidSchema     = problem.CodeInvalidSchema
	CodeTooLarge          = problem.CodeTooLarge
	CodeUnknownDefinition = problem.CodeUnknownDefinition
)

// ExprChecker compiles a CEL expression without running it.
type ExprChecker = problem.Checker

// NodeType tells the validator and the scheduler about one node type.
// Package activities makes one from each entry of its list of node types;
// the interpreter adds its own wait.
type NodeType struct {
	Name string
	Kind Kind
	// Outcomes its outgoing edges may name besides success and error.
	Outcomes []string
	// OutcomesOf narrows Outcomes to those a node with this config can end
	// with (a wait node times out only when it waits for a signal with a
	// timeout), so an edge that could never fire is refused at
	// registration. Optional: nil means every one of Outcomes.
	OutcomesOf func(config json.RawMessage) []string
	// CheckConfig validates a node's config and compiles its expressions.
	// Paths in the problems are relative to the config ("rules[0].operator").
	CheckConfig func(config json.RawMessage, exprs ExprChecker) []Problem
	// ConfigSchema is the JSON Schema (draft 2020-12) of a node's config:
	// the node type's part of GET /api/schema/definition.json
	// (DefinitionSchema). It describes what editors can check; CheckConfig
	// stays the authority (expressions, names only the workers know).
	// Every node type has one (TestEveryNodeTypeHasAConfigSchema).
	ConfigSchema json.RawMessage
	// ImplicitReads lists, as expressions, what a node of this type reads
	// besides the expressions its CheckConfig compiles (a validation node
	// without a target checks fields of `input`). Optional: nil means
	// nothing else; see Reads.
	ImplicitReads func(config json.RawMessage) []string
}

// Registry is the set of node types a worker and the API agree on.
type Registry struct {
	types []NodeType
}

// NewRegistry returns a registry with the given types and the types the
// interpreter implements itself (wait, call, respond, loop, map). Loop and
// map check their body node with the registry's types.
func NewRegistry(types ...NodeType) *Registry {
	r := &Registry{}
	r.types = append([]NodeType{waitNodeType(), callNodeType(), respondNodeType(), loopNodeType(r), mapNodeType(r)}, types...)
	return r
}

// Lookup finds a node type by name.
func (r *Registry) Lookup(name string) (NodeType, bool) {
	for _, t := range r.types {
		if t.Name == name {
			return t, true
		}
	}
	return NodeType{}, false
}

// Names lists the registered node types in registration order.
func (r *Registry) Names() []string {
	names := make([]string, len(r.types))
	for i, t := range r.types {
		names[i] = t.Name
	}
	return names
}
