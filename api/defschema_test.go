package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// definitionSchemaURL is where the examples' "$schema" points (the API of
// make dev).
const definitionSchemaURL = "http://127.0.0.1:3000/api/schema/definition.json"

// schemaAPI serves an API with every node type (the workers'), and returns
// its URL and the definition schema it serves, compiled.
func schemaAPI(t *testing.T) (string, *jsonschema.Schema) {
	t.Helper()
	o, _ := testOptions(t)
	o.Registry = interpreter.NewRegistry(activities.NodeTypes(activities.IOOptions{})...)
	base := serve(t, o)
	r := callAt(t, base, http.MethodGet, "/api/schema/definition.json", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/schema/definition.json: %d %s", r.Status, r.Raw)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(definitionSchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(definitionSchemaURL)
	if err != nil {
		t.Fatalf("the definition schema does not compile: %v", err)
	}
	return base, schema
}

func validateDoc(schema *jsonschema.Schema, raw []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return schema.Validate(v)
}

// TestExamplesMatchTheDefinitionSchema: every file of examples/ names the
// schema in "$schema", and it and every shipped definition (workflows/)
// match it.
func TestExamplesMatchTheDefinitionSchema(t *testing.T) {
	_, schema := schemaAPI(t)
	examples, _ := filepath.Glob("../examples/*.json")
	shipped, _ := filepath.Glob("../workflows/*.json")
	if len(examples) < 4 || len(shipped) < 2 {
		t.Fatalf("found %d examples and %d shipped definitions", len(examples), len(shipped))
	}
	for _, f := range append(examples, shipped...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateDoc(schema, raw); err != nil {
			t.Errorf("%s does not match the definition schema: %v", f, err)
		}
		if filepath.Dir(f) == filepath.Join("..", "examples") {
			var head struct {
				Schema string `json:"$schema"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || head.Schema != definitionSchemaURL {
				t.Errorf("%s: $schema is %q, want %q", f, head.Schema, definitionSchemaURL)
			}
		}
	}
}

// TestDefinitionSchemaAgreesWithRegistration: what the schema refuses,
// registration refuses too (400 invalid_definition), and the valid base of
// each case passes both, "$schema" included.
func TestDefinitionSchemaAgreesWithRegistration(t *testing.T) {
	base, schema := schemaAPI(t)
	node := func(typ string, config any) map[string]any { return apitest.Node("a", typ, config) }
	def := func(n map[string]any) map[string]any {
		d := apitest.Definition("schema-check", "1", "a", []map[string]any{n}, nil)
		d["$schema"] = definitionSchemaURL
		return d
	}
	// Each case is a valid definition and a change that makes it invalid.
	tests := []struct {
		name   string
		valid  map[string]any
		break_ func(d map[string]any)
	}{
		{"no id", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { delete(d, "id") }},
		{"a malformed id", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { d["id"] = "Not An Id" }},
		{"an unknown field", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { d["owner"] = "ada" }},
		{"a $schema that is no string", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { d["$schema"] = 5 }},
		{"no nodes", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { d["nodes"] = []any{} }},
		{"an unknown node type", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { nodeOf(d)["type"] = "teleport" }},
		{"a node id starting with a digit", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { nodeOf(d)["id"] = "1a"; d["startNode"] = "1a" }},
		{"an unknown execution mode", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { nodeOf(d)["execution"] = "elsewhere" }},
		{"an unknown edge outcome", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) {
			d["nodes"] = append(d["nodes"].([]map[string]any), apitest.Transform("b", map[string]string{"y": "1"}))
			d["edges"] = []map[string]any{apitest.Edge("a", "b", "on", "sometimes")}
		}},
		{"transform: no mapping", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { delete(nodeOf(d), "config") }},
		{"transform: an unknown config field", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { configOf(d)["mode"] = "fast" }},
		{"transform: a mapping to a number", def(apitest.Transform("a", map[string]string{"x": "1"})), func(d map[string]any) { configOf(d)["mapping"] = map[string]any{"x": 1} }},
		{"condition: no expression", def(node("condition", map[string]any{"expression": "true"})), func(d map[string]any) { delete(configOf(d), "expression") }},
		{"validation: an unknown operator", def(node("validation", map[string]any{"rules": []any{map[string]any{"field": "email", "operator": "email"}}})), func(d map[string]any) {
			configOf(d)["rules"] = []any{map[string]any{"field": "email", "operator": "looksRight"}}
		}},
		{"fail: a success status", def(node("fail", map[string]any{"status": 409, "code": "taken"})), func(d map[string]any) { configOf(d)["status"] = 200 }},
		{"fail: no code", def(node("fail", map[string]any{"status": 409, "code": "taken"})), func(d map[string]any) { delete(configOf(d), "code") }},
		{"wait: a duration and a signal", def(node("wait", map[string]any{"signal": "approve"})), func(d map[string]any) { configOf(d)["duration"] = "1h" }},
		{"wait: a timeout without a signal", def(node("wait", map[string]any{"duration": "1h"})), func(d map[string]any) { configOf(d)["timeout"] = "2h" }},
		{"wait: a signal that is no name", def(node("wait", map[string]any{"signal": "approve"})), func(d map[string]any) { configOf(d)["signal"] = "ap prove" }},
		{"respond: an error status", def(node("respond", map[string]any{"status": 202})), func(d map[string]any) { configOf(d)["status"] = 404 }},
		{"call: no definition", def(node("call", map[string]any{"definition": "schema-check-child", "version": "1"})), func(d map[string]any) { delete(configOf(d), "definition") }},
		{"api_call: an unknown method", def(node("api_call", map[string]any{"method": "GET", "url": "'https://example.com'"})), func(d map[string]any) { configOf(d)["method"] = "FETCH" }},
		{"database_query: an unknown mode", def(node("database_query", map[string]any{"connection": "app", "query": "SELECT 1", "mode": "one"})), func(d map[string]any) { configOf(d)["mode"] = "some" }},
		{"email: a template that is not dynamic", def(node("email", map[string]any{"to": "input.email", "templateId": "d-1"})), func(d map[string]any) { configOf(d)["templateId"] = "welcome" }},
		{"email: data without a template", def(node("email", map[string]any{"to": "input.email", "subject": "'Hi'", "text": "'Hello'"})), func(d map[string]any) {
			configOf(d)["data"] = map[string]any{"name": "input.name"}
		}},
		{"notification: a connection and a url", def(node("notification", map[string]any{"connection": "ops", "message": "'done'"})), func(d map[string]any) { configOf(d)["url"] = "'https://example.com'" }},
		{"notification: an empty connection and no url", def(node("notification", map[string]any{"connection": "ops", "message": "'done'"})), func(d map[string]any) { configOf(d)["connection"] = "" }},
		{"email: a subject with a template", def(node("email", map[string]any{"to": "input.email", "templateId": "d-1"})), func(d map[string]any) { configOf(d)["subject"] = "'Hi'" }},
		{"external_service: no operation", def(node("external_service", map[string]any{"service": "crm", "operation": "upsert"})), func(d map[string]any) { delete(configOf(d), "operation") }},
		{"file_processing: a csv option on write", def(node("file_processing", map[string]any{"operation": "write", "path": "'out.txt'", "content": "'x'"})), func(d map[string]any) {
			configOf(d)["header"] = true
		}},
	}
	// Empty strings (and maps) registration reads as not set: both accept.
	accepted := []map[string]any{
		def(node("wait", map[string]any{"duration": "1h", "signal": "", "until": "", "timeout": ""})),
		def(node("notification", map[string]any{"connection": "ops", "url": "", "message": "'done'"})),
		def(node("email", map[string]any{"to": "input.email", "templateId": "", "subject": "'Hi'", "text": "'Hello'", "data": map[string]any{}})),
		def(node("email", map[string]any{"to": "input.email", "templateId": "d-1", "subject": "", "text": "", "html": ""})),
		def(node("file_processing", map[string]any{"operation": "parse_json", "path": "'in.json'", "content": "", "format": "", "delimiter": ""})),
	}
	for i, d := range accepted {
		d["version"] = fmt.Sprintf("accepted-%d", i)
		raw, _ := json.Marshal(d)
		if err := validateDoc(schema, raw); err != nil {
			t.Errorf("the schema refuses %s: %v", raw, err)
		}
		apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", raw), http.StatusCreated, "")
	}

	// The called definition of the call case.
	register(t, base, apitest.Definition("schema-check-child", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"x": "1"})}, nil), http.StatusCreated)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.valid["version"] = fmt.Sprintf("v%d", i)
			raw, _ := json.Marshal(tt.valid)
			if err := validateDoc(schema, raw); err != nil {
				t.Fatalf("the valid definition does not match the schema: %v\n%s", err, raw)
			}
			apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", raw), http.StatusCreated, "")

			tt.break_(tt.valid)
			raw, _ = json.Marshal(tt.valid)
			if err := validateDoc(schema, raw); err == nil {
				t.Errorf("the schema accepts %s", raw)
			}
			tt.valid["version"] = "x" + tt.valid["version"].(string)
			raw, _ = json.Marshal(tt.valid)
			r := callAt(t, base, http.MethodPost, "/api/workflows", raw)
			if r.Status != http.StatusBadRequest || (r.ErrCode() != codeInvalidDefinition && r.ErrCode() != codeInvalidJSON) {
				t.Errorf("registration answers %d %s, want 400 invalid_definition: %s", r.Status, r.ErrCode(), r.Raw)
			}
		})
	}
}

func nodeOf(d map[string]any) map[string]any { return d["nodes"].([]map[string]any)[0] }

func configOf(d map[string]any) map[string]any { return nodeOf(d)["config"].(map[string]any) }
