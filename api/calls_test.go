package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

func callNode(id string, config map[string]any) map[string]any {
	return apitest.Node(id, "call", config)
}

// storedCallConfig reads the config of node 0 of id@version as stored.
func storedCallConfig(t *testing.T, base, id, version string) interpreter.CallConfig {
	t.Helper()
	r := callAt(t, base, http.MethodGet, "/api/workflows/"+id+"/versions/"+version, nil)
	apitest.Expect(t, r, http.StatusOK, "")
	var d struct {
		Definition interpreter.Definition `json:"definition"`
	}
	r.DecodeData(t, &d)
	var c interpreter.CallConfig
	if err := json.Unmarshal(d.Definition.Nodes[0].Config, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Registration checks call nodes against the store: the called definition
// must be registered, a call without a version is pinned to the latest one,
// and calls must not loop back to the definition's id.
func TestRegistrationChecksCalls(t *testing.T) {
	o, fake := testOptions(t)
	base := serve(t, o)
	leaf := func(version string) map[string]any {
		return apitest.Definition("leaf", version, "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "input.n"})}, nil)
	}
	caller := func(id, version string, config map[string]any) map[string]any {
		return apitest.Definition(id, version, "c", []map[string]any{callNode("c", config)}, nil)
	}

	r := callAt(t, base, http.MethodPost, "/api/workflows", caller("top", "1", map[string]any{"definition": "leaf"}))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	apitest.JSONEqual(t, r.Body.Error.Details, []map[string]string{{"path": "nodes[0].config.definition", "code": "unknown_definition",
		"message": `definition "leaf" is not registered: register the called definition first`}})

	register(t, base, leaf("1"), http.StatusCreated)
	register(t, base, leaf("2"), http.StatusCreated)
	r = callAt(t, base, http.MethodPost, "/api/workflows", caller("top", "1", map[string]any{"definition": "leaf", "version": "3"}))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")

	register(t, base, caller("top", "1", map[string]any{"definition": "leaf", "input": map[string]string{"n": "input.x"}}), http.StatusCreated)
	if c := storedCallConfig(t, base, "top", "1"); c.Version != "2" || c.Definition != "leaf" || c.Input["n"] != "input.x" {
		t.Errorf("stored call config %+v, want leaf pinned to version 2", c)
	}

	// Self calls and loops through other definitions are refused.
	r = callAt(t, base, http.MethodPost, "/api/workflows", caller("self", "1", map[string]any{"definition": "self"}))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	register(t, base, caller("mid", "1", map[string]any{"definition": "top", "version": "1"}), http.StatusCreated)
	r = callAt(t, base, http.MethodPost, "/api/workflows", caller("leaf", "3", map[string]any{"definition": "mid"}))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	apitest.JSONEqual(t, r.Body.Error.Details, []map[string]string{{"path": "nodes[0].config.definition", "code": "cycle",
		"message": "calls loop: leaf -> mid -> top -> leaf: calls must not loop"}})

	// Executing carries every definition the calls reach, pinned.
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/mid/execute", map[string]any{"input": map[string]any{}}), http.StatusOK, "")
	in, ok := fake.inputs[len(fake.inputs)-1].(interpreter.ExecutionInput)
	if !ok {
		t.Fatalf("started with %T", fake.inputs[len(fake.inputs)-1])
	}
	var got []string
	for _, d := range in.Called {
		got = append(got, d.ID+"@"+d.Version)
	}
	if len(got) != 2 || got[0] != "top@1" || got[1] != "leaf@2" {
		t.Errorf("called = %v, want [top@1 leaf@2]", got)
	}
}

// The definition bodies of loop and map nodes are checked like calls:
// registered, pinned when unversioned, no loops back, and carried by the
// executions.
func TestRegistrationChecksBodyDefinitions(t *testing.T) {
	o, fake := testOptions(t)
	base := serve(t, o)
	looping := func(id, version, body string) map[string]any {
		return apitest.Definition(id, version, "l", []map[string]any{apitest.Node("l", "loop", map[string]any{
			"maxIterations": 3, "until": "true", "body": map[string]any{"definition": body},
		})}, nil)
	}
	mapping := func(id, version, body string) map[string]any {
		return apitest.Definition(id, version, "m", []map[string]any{apitest.Node("m", "map", map[string]any{
			"items": "input.xs", "maxItems": 10, "body": map[string]any{"definition": body},
		})}, nil)
	}

	r := callAt(t, base, http.MethodPost, "/api/workflows", mapping("each", "1", "leaf"))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	apitest.JSONEqual(t, r.Body.Error.Details, []map[string]string{{"path": "nodes[0].config.body.definition", "code": "unknown_definition",
		"message": `definition "leaf" is not registered: register the called definition first`}})

	register(t, base, apitest.Definition("leaf", "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "input.item"})}, nil), http.StatusCreated)
	register(t, base, mapping("each", "1", "leaf"), http.StatusCreated)
	register(t, base, looping("again", "1", "each"), http.StatusCreated)
	r = callAt(t, base, http.MethodGet, "/api/workflows/each/versions/1", nil)
	var d struct {
		Definition interpreter.Definition `json:"definition"`
	}
	r.DecodeData(t, &d)
	var c interpreter.MapConfig
	if err := json.Unmarshal(d.Definition.Nodes[0].Config, &c); err != nil {
		t.Fatal(err)
	}
	if c.Body.Definition != "leaf" || c.Body.Version != "1" || c.MaxItems != 10 || c.Items != "input.xs" {
		t.Errorf("stored map config %+v, want its body pinned to leaf 1", c)
	}

	// A loop whose body leads back to it is refused.
	r = callAt(t, base, http.MethodPost, "/api/workflows", looping("leaf", "2", "again"))
	apitest.Expect(t, r, http.StatusBadRequest, "invalid_definition")
	apitest.JSONEqual(t, r.Body.Error.Details, []map[string]string{{"path": "nodes[0].config.body.definition", "code": "cycle",
		"message": "calls loop: leaf -> again -> each -> leaf: calls must not loop"}})

	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/again/execute", map[string]any{"input": map[string]any{}}), http.StatusOK, "")
	in, _ := fake.inputs[len(fake.inputs)-1].(interpreter.ExecutionInput)
	var got []string
	for _, d := range in.Called {
		got = append(got, d.ID+"@"+d.Version)
	}
	if len(got) != 2 || got[0] != "each@1" || got[1] != "leaf@1" {
		t.Errorf("called = %v, want [each@1 leaf@1]", got)
	}
}
