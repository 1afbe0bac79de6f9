package interpreter_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// A definition's "$schema" is an editor's reference: registration accepts
// a string there and drops it, so it is neither stored nor part of the
// canonical document a version's content is compared by.
func TestParseDropsSchemaReference(t *testing.T) {
	reg, env := newRegistry(t)
	doc := func(schema string) []byte {
		return []byte(`{` + schema + `"id": "s", "version": "1", "startNode": "a",
			"nodes": [{"id": "a", "type": "transform", "config": {"mapping": {"x": "1"}}}], "edges": []}`)
	}
	plain, problems := interpreter.Parse(doc(""), reg, env)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	referenced, problems := interpreter.Parse(doc(`"$schema": "http://127.0.0.1:3000/api/schema/definition.json", `), reg, env)
	if len(problems) > 0 {
		t.Fatalf("$schema refused: %+v", problems)
	}
	a, _ := interpreter.Canonical(plain)
	b, _ := interpreter.Canonical(referenced)
	if string(a) != string(b) || strings.Contains(string(b), "$schema") {
		t.Errorf("canonical documents differ:\n%s\n%s", a, b)
	}
	if _, problems := interpreter.Parse(doc(`"$schema": 5, `), reg, env); len(problems) != 1 || problems[0].Code != interpreter.CodeInvalidJSON {
		t.Errorf("a $schema that is no string: %+v, want one invalid_json problem", problems)
	}
}

// The definition schema lists every node type and applies each one's
// ConfigSchema to the configs of its nodes; a type without one gets an
// unconstrained config (TestEveryNodeTypeHasAConfigSchema in activities
// fails for it).
func TestDefinitionSchemaCoversTheRegistry(t *testing.T) {
	bare := interpreter.NodeType{Name: "bare", Kind: interpreter.KindPure,
		CheckConfig: func(json.RawMessage, interpreter.ExprChecker) []interpreter.Problem { return nil }}
	reg := interpreter.NewRegistry(bare)
	raw, err := interpreter.DefinitionSchema(reg)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var node struct {
		Properties struct {
			Type struct {
				Enum []string `json:"enum"`
			} `json:"type"`
		} `json:"properties"`
		AllOf []json.RawMessage `json:"allOf"`
	}
	if err := json.Unmarshal(schema.Defs["node"], &node); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(node.Properties.Type.Enum, ","); got != strings.Join(reg.Names(), ",") {
		t.Errorf("node types %s, want %s", got, strings.Join(reg.Names(), ","))
	}
	if len(node.AllOf) != len(reg.Names()) {
		t.Errorf("%d if/then clauses for %d node types", len(node.AllOf), len(reg.Names()))
	}
	for _, name := range []string{"wait", "call", "respond"} {
		if schema.Defs["config."+name] == nil {
			t.Errorf("no $defs/config.%s", name)
		}
	}
	if schema.Defs["config.bare"] != nil {
		t.Error("a type without ConfigSchema has a config schema")
	}
}
