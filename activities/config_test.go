package activities

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestCompiledConfigCache: a node's config is compiled once per definition
// version and node, not on every run; another config under the same key, or
// a request that names no definition version, compiles again; the cache
// keeps at most its bound.
func TestCompiledConfigCache(t *testing.T) {
	a := &Activities{Expr: testExprs(t), compiledConfigs: newConfigCache(2)}
	var compiles atomic.Int32
	condition := conditionNode(a)
	counting := condition
	counting.Compile = func(cfg ConditionConfig, c *compiling) ConditionConfig {
		compiles.Add(1)
		return condition.Compile(cfg, c)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(counting.activity(a), activity.RegisterOptions{Name: TypeCondition})
	run := func(req interpreter.NodeRequest, wantOutcome string) {
		t.Helper()
		res, err := execNode(t, env, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != wantOutcome {
			t.Fatalf("outcome %q, want %q", res.Outcome, wantOutcome)
		}
	}
	big := nodeRequest(t, "route", TypeCondition, `{"expression": "input.amount >= 1000"}`, `{"amount": 1500}`)
	for range 3 {
		run(big, interpreter.OutcomeTrue)
	}
	if n := compiles.Load(); n != 1 {
		t.Fatalf("three runs of one node compiled %d times, want 1", n)
	}

	// Same definition version and node id, another config (a test reusing
	// an id): compiled again, and that config is the one that runs.
	run(nodeRequest(t, "route", TypeCondition, `{"expression": "input.amount >= 2000"}`, `{"amount": 1500}`), interpreter.OutcomeFalse)
	if n := compiles.Load(); n != 2 {
		t.Fatalf("another config compiled %d times in all, want 2", n)
	}

	// No definition version to key on: compiled every time.
	anonymous := big
	anonymous.Scope.Execution.DefinitionID = ""
	run(anonymous, interpreter.OutcomeTrue)
	run(anonymous, interpreter.OutcomeTrue)
	if n := compiles.Load(); n != 4 {
		t.Fatalf("compiled %d times in all, want 4", n)
	}

	// Bounded: more nodes than the bound keep the bound.
	for i := range 5 {
		run(nodeRequest(t, fmt.Sprintf("n%d", i), TypeCondition, `{"expression": "true"}`, `{}`), interpreter.OutcomeTrue)
	}
	if n := a.configs().len(); n != 2 {
		t.Fatalf("cache holds %d configs, want its bound 2", n)
	}
}

// TestRegisteredActivitiesUseTheCache: the activities the list registers
// compile through the Activities' cache.
func TestRegisteredActivitiesUseTheCache(t *testing.T) {
	a := &Activities{Expr: testExprs(t)}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a.RegisterPure(env)
	req := nodeRequest(t, "shape", TypeTransform, `{"mapping": {"x": "input.x"}}`, `{"x": 1}`)
	if _, err := execNode(t, env, req); err != nil {
		t.Fatal(err)
	}
	// The activity receives the config as the data converter encodes it:
	// compact JSON.
	var raw bytes.Buffer
	if err := json.Compact(&raw, req.Node.Config); err != nil {
		t.Fatal(err)
	}
	key := configKey{definitionID: "def", version: "1.0.0", nodeID: "shape"}
	if _, ok := a.configs().get(key, raw.Bytes()); !ok {
		t.Fatal("the transform's compiled config is not cached")
	}
}
