package activities

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// sharedExprs is the expression environment of the tests: building one
// compiles CEL's declarations, so the tests share it (it is safe for
// concurrent use, as the activities of a worker share theirs).
var sharedExprs = sync.OnceValues(func() (*expr.Env, error) { return expr.New(expr.Limits{}) })

func testExprs(t *testing.T) *expr.Env {
	t.Helper()
	e, err := sharedExprs()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newEnv returns a test activity environment with the pure activities
// registered. ExecuteActivity sends arguments and results through the SDK's
// data converter, so activities see JSON-decoded input (numbers are float64)
// as they do in production, and errors come back as the workflow sees them.
func newEnv(t *testing.T, maxOutput int) *testsuite.TestActivityEnvironment {
	t.Helper()
	e := testExprs(t)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	(&Activities{Expr: e, MaxOutputBytes: maxOutput}).RegisterPure(env)
	return env
}

// decodeJSON decodes a JSON document for a test input.
func decodeJSON(t *testing.T, doc string) any {
	t.Helper()
	if doc == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return v
}

// nodeRequest builds the request of a node of type typ with the given config
// and input JSON.
func nodeRequest(t *testing.T, id, typ, config, input string, edges ...interpreter.Edge) interpreter.NodeRequest {
	t.Helper()
	return interpreter.NodeRequest{
		Node:  interpreter.Node{ID: id, Type: typ, Config: json.RawMessage(config)},
		Edges: edges,
		Scope: interpreter.Scope{
			Input: decodeJSON(t, input),
			Execution: interpreter.ExecutionInfo{
				ID: "exec-1", DefinitionID: "def", Version: "1.0.0",
				StartedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			},
		},
	}
}

// execNode executes a node activity through the SDK and decodes its result.
func execNode(t *testing.T, env *testsuite.TestActivityEnvironment, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
	t.Helper()
	val, err := env.ExecuteActivity(req.Node.Type, req)
	if err != nil {
		return interpreter.NodeResult{}, err
	}
	var res interpreter.NodeResult
	if err := val.Get(&res); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return res, nil
}

// appError asserts err is a non-retryable application error of type typ.
func appError(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error = %v, want an ApplicationError of type %s", err, typ)
	}
	if appErr.Type() != typ {
		t.Fatalf("error type = %s (%v), want %s", appErr.Type(), err, typ)
	}
	if !appErr.NonRetryable() {
		t.Fatalf("error %v is retryable", err)
	}
	return appErr
}

func jsonEqual(t *testing.T, got any, want string) {
	t.Helper()
	if !reflect.DeepEqual(got, decodeJSON(t, want)) {
		g, _ := json.Marshal(got)
		t.Fatalf("got %s, want %s", g, want)
	}
}

func TestOutputCap(t *testing.T) {
	env := newEnv(t, 100)
	big := `{"s": "` + strings.Repeat("x", 200) + `"}`
	req := nodeRequest(t, "shape", TypeTransform, `{"mapping": {"copy": "input.s"}}`, big)
	_, err := execNode(t, env, req)
	appErr := appError(t, err, interpreter.ErrPayloadTooBig)
	for _, want := range []string{`"shape"`, "limit is 100"} {
		if !strings.Contains(appErr.Message(), want) {
			t.Fatalf("message %q does not contain %q", appErr.Message(), want)
		}
	}

	small := nodeRequest(t, "shape", TypeTransform, `{"mapping": {"copy": "input.s"}}`, `{"s": "ok"}`)
	if _, err := execNode(t, env, small); err != nil {
		t.Fatalf("small output: %v", err)
	}
}

func TestBadConfigAtRunTime(t *testing.T) {
	env := newEnv(t, 0)
	tests := []struct {
		typ, config, want string
	}{
		{TypeValidation, `{"rules": [{"field": "a", "operator": "nope"}]}`, "rules[0].operator"},
		{TypeTransform, `{"mapping": {"a": "input."}}`, "mapping.a"},
		{TypeCondition, `{"expr": "true"}`, `unknown field "expr"`},
		{TypeFail, `{"status": 200, "code": "x"}`, "status"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			_, err := execNode(t, env, nodeRequest(t, "n1", tt.typ, tt.config, `{}`))
			appErr := appError(t, err, interpreter.ErrConfiguration)
			if !strings.Contains(appErr.Message(), tt.want) || !strings.Contains(appErr.Message(), `"n1"`) {
				t.Fatalf("message %q should name the node and contain %q", appErr.Message(), tt.want)
			}
		})
	}
}

func TestAttemptAndFiredEdgeOrder(t *testing.T) {
	env := newEnv(t, 0)
	edges := []interpreter.Edge{
		{ID: "e3", Source: "t", Target: "c"},
		{ID: "e1", Source: "t", Target: "a", Condition: "nodes.t.total > 10"},
		{ID: "e2", Source: "t", Target: "b", On: interpreter.OutcomeError},
		{ID: "e0", Source: "t", Target: "d", Condition: "nodes.t.total > 100"},
	}
	req := nodeRequest(t, "t", TypeTransform, `{"mapping": {"total": "input.q * 20"}}`, `{"q": 1}`, edges...)
	res, err := execNode(t, env, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Fired, []string{"e3", "e1"}) {
		t.Fatalf("fired = %v, want [e3 e1]", res.Fired)
	}
	if res.Attempt != 1 || res.Outcome != interpreter.OutcomeSuccess {
		t.Fatalf("attempt %d outcome %q", res.Attempt, res.Outcome)
	}
}

func TestEdgeConditionFailure(t *testing.T) {
	env := newEnv(t, 0)
	edges := []interpreter.Edge{{ID: "bad", Source: "t", Target: "a", Condition: "nodes.t.missing > 1"}}
	req := nodeRequest(t, "t", TypeTransform, `{"mapping": {"x": "1"}}`, `{}`, edges...)
	_, err := execNode(t, env, req)
	appErr := appError(t, err, interpreter.ErrExpression)
	for _, want := range []string{`edge "bad"`, `node "t"`, "condition", "nodes.t.missing > 1"} {
		if !strings.Contains(appErr.Message(), want) {
			t.Fatalf("message %q does not contain %q", appErr.Message(), want)
		}
	}
}

// recorder records registrations.
type recorder map[string]bool

func (r recorder) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) { r[o.Name] = true }

// TestRegistration derives from the one list: every node type is in the
// registry and registered on the worker of its kind's task queue, once.
func TestRegistration(t *testing.T) {
	all := NodeTypes(IOOptions{})
	a := &Activities{}
	pure, io := recorder{}, recorder{}
	a.RegisterPure(pure)
	a.RegisterIO(io, &IO{})
	reg := interpreter.NewRegistry(all...)
	for _, nt := range all {
		if _, ok := reg.Lookup(nt.Name); !ok {
			t.Errorf("node type %s is not in the registry", nt.Name)
		}
		if nt.CheckConfig == nil {
			t.Errorf("node type %s has no config check", nt.Name)
		}
		switch nt.Kind {
		case interpreter.KindPure:
			if !pure[nt.Name] || io[nt.Name] {
				t.Errorf("pure node type %s: registered on the main queue %v, on the I/O queue %v", nt.Name, pure[nt.Name], io[nt.Name])
			}
		case interpreter.KindIO:
			if !io[nt.Name] || pure[nt.Name] {
				t.Errorf("I/O node type %s: registered on the I/O queue %v, on the main queue %v", nt.Name, io[nt.Name], pure[nt.Name])
			}
		default:
			t.Errorf("node type %s has kind %v", nt.Name, nt.Kind)
		}
	}
	helpers := []string{interpreter.EdgesActivity, interpreter.UntilActivity, interpreter.OutputActivity, interpreter.CallInputActivity,
		interpreter.LoopStepActivity, interpreter.MapItemsActivity}
	for _, name := range helpers {
		if !pure[name] {
			t.Errorf("helper %s not registered", name)
		}
	}
	if got, want := len(pure)+len(io), len(all)+len(helpers); got != want {
		t.Errorf("registered %d activities, want %d (every node type and helper once)", got, want)
	}
	// The registry holds the list and the interpreter's own wait, call,
	// respond, loop and map.
	if got, want := len(reg.Names()), len(all)+5; got != want {
		t.Errorf("registry has %d node types, want %d", got, want)
	}
	if got := PureNodeTypes(); len(got) != len(pure)-len(helpers) {
		t.Errorf("PureNodeTypes has %d node types, %d are registered as pure", len(got), len(pure)-len(helpers))
	}
}

// lookupType finds a node type of the list by name, its I/O names checked
// against o.
func lookupType(t *testing.T, name string, o IOOptions) interpreter.NodeType {
	t.Helper()
	for _, nt := range NodeTypes(o) {
		if nt.Name == name {
			return nt
		}
	}
	t.Fatalf("no node type %s", name)
	return interpreter.NodeType{}
}

// problemAt is a wanted problem: its path and code (checkProblems does not
// compare messages).
func problemAt(path, code string) interpreter.Problem {
	return interpreter.Problem{Path: path, Code: code}
}

// configCase is one config of a node type and the problems it has.
type configCase struct {
	name, config string
	want         []interpreter.Problem
}

// checkConfigCases runs checkProblems on each case, as a subtest.
func checkConfigCases(t *testing.T, nt interpreter.NodeType, cases []configCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkProblems(t, nt, c.config, c.want) })
	}
}

// checkProblems runs a node type's CheckConfig and compares paths and codes.
func checkProblems(t *testing.T, nt interpreter.NodeType, config string, want []interpreter.Problem) {
	t.Helper()
	e := testExprs(t)
	got := nt.CheckConfig(json.RawMessage(config), e)
	if len(got) != len(want) {
		t.Fatalf("CheckConfig(%s) = %+v, want %d problems %+v", config, got, len(want), want)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Code != want[i].Code {
			t.Fatalf("problem %d = %+v, want path %q code %q", i, got[i], want[i].Path, want[i].Code)
		}
		if got[i].Message == "" {
			t.Fatalf("problem %d has no message", i)
		}
	}
}
