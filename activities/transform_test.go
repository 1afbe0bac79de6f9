package activities

import (
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func TestTransform(t *testing.T) {
	env := newEnv(t, 0)
	tests := []struct {
		name    string
		mapping string
		input   string
		want    string
	}{
		{"mixed arithmetic", `{"double": "input.quantity * 2", "discounted": "input.amount * 0.9", "twice": "2 * input.quantity"}`,
			`{"quantity": 3, "amount": 100}`, `{"double": 6, "discounted": 90, "twice": 6}`},
		{"strings and lists", `{"email": "input.email.lowerAscii().trim()", "ids": "input.items.map(i, i.id)", "n": "size(input.items)"}`,
			`{"email": " Ada@Example.COM ", "items": [{"id": "a"}, {"id": "b"}]}`, `{"email": "ada@example.com", "ids": ["a", "b"], "n": 2}`},
		{"objects and nulls", `{"user": "{'name': input.name, 'phone': input.?phone.orValue(null)}"}`,
			`{"name": "Ada"}`, `{"user": {"name": "Ada", "phone": null}}`},
		{"execution variable", `{"id": "execution.id", "def": "execution.definitionId + '@' + execution.version", "year": "execution.startedAt.getFullYear()"}`,
			`{}`, `{"id": "exec-1", "def": "def@1.0.0", "year": 2024}`},
		{"timestamp output", `{"at": "execution.startedAt + duration('1h')"}`,
			`{}`, `{"at": "2024-05-01T13:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := nodeRequest(t, "shape", TypeTransform, `{"mapping": `+tt.mapping+`}`, tt.input)
			res, err := execNode(t, env, req)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, res.Output, tt.want)
			if res.Outcome != interpreter.OutcomeSuccess {
				t.Fatalf("outcome = %q", res.Outcome)
			}
		})
	}
}

func TestTransformErrorsInKeyOrder(t *testing.T) {
	env := newEnv(t, 0)
	// Both b and z fail; b is always the one reported.
	req := nodeRequest(t, "shape", TypeTransform,
		`{"mapping": {"z": "input.missing.x", "a": "1", "b": "input.name * 2"}}`, `{"name": "Ada"}`)
	for range 5 {
		_, err := execNode(t, env, req)
		appErr := appError(t, err, interpreter.ErrExpression)
		if !strings.Contains(appErr.Message(), `node "shape": mapping.b "input.name * 2": no such overload: string * int`) {
			t.Fatalf("message = %q", appErr.Message())
		}
	}
}

func TestTransformCheckConfig(t *testing.T) {
	p := problemAt
	checkProblems(t, lookupType(t, TypeTransform, IOOptions{}), `{"mapping": {"a": "input.x * 2"}}`, nil)
	checkProblems(t, lookupType(t, TypeTransform, IOOptions{}), `{}`, []interpreter.Problem{p("mapping", interpreter.CodeRequired)})
	checkProblems(t, lookupType(t, TypeTransform, IOOptions{}), `{"mapping": {"a": 1}}`, []interpreter.Problem{p("mapping", interpreter.CodeInvalidConfig)})
	checkProblems(t, lookupType(t, TypeTransform, IOOptions{}), `{"mapping": {"c": "input.", "a": "", "b": "nope(1)", "ok": "true"}}`, []interpreter.Problem{
		p("mapping.a", interpreter.CodeRequired),
		p("mapping.b", interpreter.CodeInvalidExpression),
		p("mapping.c", interpreter.CodeInvalidExpression),
	})
}
