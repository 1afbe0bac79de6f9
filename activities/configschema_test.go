package activities

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestEveryNodeTypeHasAConfigSchema: every registered node type, the
// interpreter's own included, carries the JSON Schema of its config (its
// part of GET /api/schema/definition.json), and it compiles as draft
// 2020-12.
func TestEveryNodeTypeHasAConfigSchema(t *testing.T) {
	reg := interpreter.NewRegistry(NodeTypes(IOOptions{})...)
	for _, name := range reg.Names() {
		nt, _ := reg.Lookup(name)
		if len(nt.ConfigSchema) == 0 {
			t.Errorf("node type %s has no ConfigSchema: write the JSON Schema of its config next to its code", name)
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(nt.ConfigSchema))
		if err != nil {
			t.Errorf("node type %s: ConfigSchema is not JSON: %v", name, err)
			continue
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		if err := c.AddResource("urn:config:"+name, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Compile("urn:config:" + name); err != nil {
			t.Errorf("node type %s: ConfigSchema does not compile: %v", name, err)
		}
	}
}
