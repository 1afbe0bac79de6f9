package interpreter

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// DefinitionSchema is the JSON Schema (draft 2020-12) of a definition
// document for the node types of reg: GET /api/schema/definition.json, the
// "$schema" of the files in examples/. It has the top-level fields of
// Definition, Node and Edge and, for each node type, its ConfigSchema,
// applied to the config of the nodes of that type with if/then on "type".
//
// It says what a schema can say; Parse stays the authority (expressions,
// reachability, references between nodes, names only the workers know).
// Everything it refuses, Parse refuses too (TestSchemaAgreesWithRegistration
// in package api holds it to that). A node type without a ConfigSchema
// gets an unconstrained config (TestEveryNodeTypeHasAConfigSchema fails).
func DefinitionSchema(reg *Registry) ([]byte, error) {
	defs := map[string]any{
		"node":  nodeSchema(reg),
		"edge":  edgeSchema(reg),
		"retry": retrySchema,
		"expressions": map[string]any{
			"type": "object", "additionalProperties": map[string]any{"type": "string", "description": "CEL"},
		},
	}
	for _, t := range reg.types {
		if len(t.ConfigSchema) == 0 {
			continue
		}
		var s any
		if err := json.Unmarshal(t.ConfigSchema, &s); err != nil {
			return nil, fmt.Errorf("node type %s: ConfigSchema: %w", t.Name, err)
		}
		defs[configDef(t.Name)] = s
	}
	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                "workflow-backend definition",
		"description":          "A graph of nodes and edges the interpreter runs (README \"Definitions\", docs/nodes.md).",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"id", "version", "startNode", "nodes"},
		"properties": map[string]any{
			"$schema":     map[string]any{"type": "string", "description": "This schema's URL, for editors; not stored."},
			"id":          idSchema(problem.DefinitionID),
			"name":        map[string]any{"type": "string"},
			"description": map[string]any{"type": "string"},
			"version":     idSchema(problem.Version),
			"startNode":   map[string]any{"type": "string", "description": "The id of the first node"},
			"inputSchema": map[string]any{"type": []string{"object", "boolean"}, "description": "A JSON Schema (2020-12) every input must match"},
			"output":      map[string]any{"$ref": "#/$defs/expressions", "description": "The execution's output: key -> CEL over input and nodes"},
			"nodes":       map[string]any{"type": "array", "minItems": 1, "maxItems": maxNodes, "items": map[string]any{"$ref": "#/$defs/node"}},
			"edges":       map[string]any{"type": "array", "maxItems": maxEdges, "items": map[string]any{"$ref": "#/$defs/edge"}},
			"cache": map[string]any{
				"type": "object", "additionalProperties": false, "required": []string{"key", "ttl"},
				"description": "Reuse the output of an earlier execute with the same key for ttl (README \"Result cache\")",
				"properties": map[string]any{
					"key":      map[string]any{"type": "string", "minLength": 1, "description": "CEL over input"},
					"ttl":      map[string]any{"type": "string", "minLength": 1, "description": "Go duration, 1s to 24h"},
					"readOnly": map[string]any{"type": "boolean", "description": "The I/O nodes only read"},
				},
			},
		},
		"$defs": defs,
	}
	return json.MarshalIndent(schema, "", "  ")
}

func configDef(typeName string) string { return "config." + typeName }

func idSchema(rule problem.IDRule) map[string]any {
	return map[string]any{"type": "string", "pattern": rule.Pattern(), "description": rule.What + ": " + rule.Hint}
}

// nodeSchema is a node: its own fields, and its config's schema chosen by
// its type.
func nodeSchema(reg *Registry) map[string]any {
	var byType []any
	for _, t := range reg.types {
		then := map[string]any{}
		if len(t.ConfigSchema) > 0 {
			then["properties"] = map[string]any{"config": map[string]any{"$ref": "#/$defs/" + configDef(t.Name)}}
			if hasRequired(t.ConfigSchema) {
				// An absent config is {}: it lacks what the config requires.
				then["required"] = []string{"config"}
			}
		}
		byType = append(byType, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": t.Name}}, "required": []string{"type"}},
			"then": then,
		})
	}
	return map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"id", "type"},
		"properties": map[string]any{
			"id":        idSchema(problem.NodeID),
			"type":      map[string]any{"enum": reg.Names()},
			"label":     map[string]any{"type": "string"},
			"config":    map[string]any{"type": "object"},
			"retry":     map[string]any{"$ref": "#/$defs/retry"},
			"timeout":   map[string]any{"type": "string", "description": "Go duration: start-to-close of one attempt"},
			"execution": map[string]any{"enum": []string{ExecutionLocal, ExecutionRemote}},
		},
		"allOf": byType,
	}
}

// hasRequired says whether a config schema requires some field.
func hasRequired(schema json.RawMessage) bool {
	var s struct {
		Required []string `json:"required"`
	}
	return json.Unmarshal(schema, &s) == nil && len(s.Required) > 0
}

// edgeSchema is an edge; on names an outcome of some node type.
func edgeSchema(reg *Registry) map[string]any {
	outcomes := []string{OutcomeSuccess, OutcomeError}
	for _, t := range reg.types {
		for _, o := range t.Outcomes {
			if !slices.Contains(outcomes, o) {
				outcomes = append(outcomes, o)
			}
		}
	}
	return map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"source", "target"},
		"properties": map[string]any{
			"id":        map[string]any{"type": "string", "description": "Derived from source, target and on when absent"},
			"source":    map[string]any{"type": "string"},
			"target":    map[string]any{"type": "string"},
			"label":     map[string]any{"type": "string"},
			"on":        map[string]any{"enum": outcomes},
			"condition": map[string]any{"type": "string", "description": "CEL bool"},
		},
	}
}

var retrySchema = map[string]any{
	"type":                 "object",
	"additionalProperties": false,
	"properties": map[string]any{
		"maximumAttempts":    map[string]any{"type": "integer", "minimum": 0},
		"initialInterval":    map[string]any{"type": "string", "description": "Go duration"},
		"backoffCoefficient": map[string]any{"type": "number"},
		"maximumInterval":    map[string]any{"type": "string", "description": "Go duration"},
	},
}
