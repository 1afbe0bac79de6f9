package activities

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

const validationInput = `{
	"email": "ada@example.com", "name": "Ada", "age": 36, "score": 7.5,
	"tags": ["a", "b"], "role": "admin", "count": 3, "flag": true, "nothing": null,
	"address": {"zip": "75001", "city": "Paris"}, "items": [{"id": "p1"}],
	"password": "secret", "confirm": "secret"
}`

// TestValidationOperators runs every operator once passing and once failing,
// each as a single rule on validationInput.
func TestValidationOperators(t *testing.T) {
	env := newEnv(t, 0)
	tests := []struct {
		name    string
		rule    string
		wantMsg string // "" means the rule passes
	}{
		{"required present", `{"field": "name", "operator": "required"}`, ""},
		{"required value true", `{"field": "name", "operator": "required", "value": true}`, ""},
		{"required absent", `{"field": "phone", "operator": "required"}`, "is required"},
		{"required null", `{"field": "nothing", "operator": "required"}`, "is required"},
		{"required nested", `{"field": "address.zip", "operator": "required"}`, ""},
		{"required list index", `{"field": "items.0.id", "operator": "required"}`, ""},
		{"required nested absent", `{"field": "address.street", "operator": "required"}`, "is required"},
		{"email ok", `{"field": "email", "operator": "email"}`, ""},
		{"email bad", `{"field": "name", "operator": "email"}`, "must be a valid email address"},
		{"email not a string", `{"field": "age", "operator": "email"}`, "must be a valid email address"},
		{"minLength ok", `{"field": "name", "operator": "minLength", "value": 3}`, ""},
		{"minLength short", `{"field": "name", "operator": "minLength", "value": 4}`, "must be at least 4 characters long"},
		{"minLength list", `{"field": "tags", "operator": "minLength", "value": 3}`, "must contain at least 3 items"},
		{"maxLength ok", `{"field": "name", "operator": "maxLength", "value": 3}`, ""},
		{"maxLength long", `{"field": "name", "operator": "maxLength", "value": 2}`, "must be at most 2 characters long"},
		{"maxLength number", `{"field": "age", "operator": "maxLength", "value": 2}`, "must be a string or a list"},
		{"pattern ok", `{"field": "address.zip", "operator": "pattern", "value": "^[0-9]{5}$"}`, ""},
		{"pattern bad", `{"field": "name", "operator": "pattern", "value": "^[0-9]+$"}`, "must match the pattern ^[0-9]+$"},
		{"min ok", `{"field": "age", "operator": "min", "value": 18}`, ""},
		{"min low", `{"field": "score", "operator": "min", "value": 8}`, "must be at least 8"},
		{"min not a number", `{"field": "name", "operator": "min", "value": 1}`, "must be a number"},
		{"max ok", `{"field": "score", "operator": "max", "value": 7.5}`, ""},
		{"max high", `{"field": "age", "operator": "max", "value": 30}`, "must be at most 30"},
		{"oneOf ok", `{"field": "role", "operator": "oneOf", "value": ["user", "admin"]}`, ""},
		{"oneOf number", `{"field": "count", "operator": "oneOf", "value": [1, 2, 3]}`, ""},
		{"oneOf bad", `{"field": "role", "operator": "oneOf", "value": ["user", "guest"]}`, `must be one of "user", "guest"`},
		{"type string", `{"field": "name", "operator": "type", "value": "string"}`, ""},
		{"type number", `{"field": "score", "operator": "type", "value": "number"}`, ""},
		{"type integer", `{"field": "age", "operator": "type", "value": "integer"}`, ""},
		{"type integer bad", `{"field": "score", "operator": "type", "value": "integer"}`, "must be an integer"},
		{"type boolean", `{"field": "flag", "operator": "type", "value": "boolean"}`, ""},
		{"type object", `{"field": "address", "operator": "type", "value": "object"}`, ""},
		{"type array", `{"field": "tags", "operator": "type", "value": "array"}`, ""},
		{"type array bad", `{"field": "name", "operator": "type", "value": "array"}`, "must be an array"},
		{"type string bad", `{"field": "age", "operator": "type", "value": "string"}`, "must be a string"},
		{"expr ok", `{"field": "confirm", "operator": "expr", "value": "value == input.password"}`, ""},
		{"expr mixed numbers", `{"field": "age", "operator": "expr", "value": "value * 2 > 70 && value % 2 == 0"}`, ""},
		{"expr bad", `{"field": "name", "operator": "expr", "value": "value.startsWith('B')"}`, "is invalid"},
		{"custom message", `{"field": "name", "operator": "minLength", "value": 10, "message": "Name too short"}`, "Name too short"},
		// absent or null optional fields skip their rules
		{"absent skips", `{"field": "phone", "operator": "pattern", "value": "^[0-9]+$"}`, ""},
		{"null skips", `{"field": "nothing", "operator": "type", "value": "string"}`, ""},
		{"absent skips expr", `{"field": "phone", "operator": "expr", "value": "false"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := nodeRequest(t, "check", TypeValidation, `{"rules": [`+tt.rule+`]}`, validationInput)
			res, err := execNode(t, env, req)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("rule failed: %v", err)
				}
				// The output is the validated target: the input.
				jsonEqual(t, res.Output, validationInput)
				return
			}
			appErr := appError(t, err, interpreter.ErrValidation)
			var fields []interpreter.FieldError
			if err := appErr.Details(&fields); err != nil {
				t.Fatalf("details: %v", err)
			}
			if len(fields) != 1 || fields[0].Message != tt.wantMsg {
				t.Fatalf("fields = %+v, want one with message %q", fields, tt.wantMsg)
			}
		})
	}
}

func TestValidationReportsEveryFailure(t *testing.T) {
	env := newEnv(t, 0)
	config := `{"rules": [
		{"field": "email", "operator": "required"},
		{"field": "email", "operator": "email", "message": "Invalid email"},
		{"field": "age", "operator": "min", "value": 18},
		{"field": "name", "operator": "minLength", "value": 2},
		{"field": "nickname", "operator": "minLength", "value": 2}
	]}`
	req := nodeRequest(t, "validate_input", TypeValidation, config, `{"email": "nope", "age": 12, "name": "Al"}`)
	_, err := execNode(t, env, req)
	appErr := appError(t, err, interpreter.ErrValidation)
	var fields []interpreter.FieldError
	if err := appErr.Details(&fields); err != nil {
		t.Fatal(err)
	}
	want := []interpreter.FieldError{
		{Field: "email", Message: "Invalid email"},
		{Field: "age", Message: "must be at least 18"},
	}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields = %+v, want %+v", fields, want)
	}
	if !strings.Contains(appErr.Message(), "email: Invalid email; age: must be at least 18") {
		t.Fatalf("message = %q", appErr.Message())
	}
}

func TestValidationTarget(t *testing.T) {
	env := newEnv(t, 0)
	config := `{"target": "{'total': input.price * input.qty, 'customer': input.customer}", "rules": [
		{"field": "total", "operator": "max", "value": 100},
		{"field": "customer.email", "operator": "email"}
	]}`
	req := nodeRequest(t, "v", TypeValidation, config, `{"price": 20, "qty": 3, "customer": {"email": "a@b.co"}}`,
		interpreter.Edge{ID: "ok", Source: "v", Target: "next", Condition: "nodes.v.total == 60"})
	res, err := execNode(t, env, req)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, res.Output, `{"total": 60, "customer": {"email": "a@b.co"}}`)
	if !reflect.DeepEqual(res.Fired, []string{"ok"}) {
		t.Fatalf("fired = %v", res.Fired)
	}

	// A target that fails to evaluate is an expression error naming the field.
	bad := nodeRequest(t, "v", TypeValidation, `{"target": "input.nope.deeper", "rules": [{"field": "a", "operator": "required"}]}`, `{}`)
	_, err = execNode(t, env, bad)
	appErr := appError(t, err, interpreter.ErrExpression)
	if !strings.Contains(appErr.Message(), `node "v": target`) {
		t.Fatalf("message = %q", appErr.Message())
	}
}

// An expr rule that fails on the value (a number where a string was
// expected) fails the rule with its message: bad input is a validation
// failure listing the field, not a node error.
func TestValidationExprRuntimeError(t *testing.T) {
	env := newEnv(t, 0)
	req := nodeRequest(t, "v", TypeValidation,
		`{"rules": [{"field": "a", "operator": "expr", "value": "value.size() > 1", "message": "a must be a long string"},
		            {"field": "b", "operator": "required"}]}`, `{"a": 5}`)
	_, err := execNode(t, env, req)
	appErr := appError(t, err, interpreter.ErrValidation)
	var fields []interpreter.FieldError
	if err := appErr.Details(&fields); err != nil {
		t.Fatal(err)
	}
	want := []interpreter.FieldError{{Field: "a", Message: "a must be a long string"}, {Field: "b", Message: "is required"}}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields = %+v, want %+v", fields, want)
	}
}

// An expr rule whose expression itself fails (a division by zero, the cost
// or size limit) is a definition error: the node fails with an expression
// error naming the rule and the expression, not a 400 blaming the input.
func TestValidationExprFault(t *testing.T) {
	env := newEnv(t, 0)
	for _, src := range []string{
		"int(value) / 0 > 1",
		"int(value) % 0 == 1",
		"lists.range(100000).map(i, lists.range(20).map(j, j)).size() > 0",
		"size('x'.replace('', 'yyyyyyyy' + 'y'.replace('', lists.range(300000).map(i, 'z').join('')))) > 0",
	} {
		req := nodeRequest(t, "v", TypeValidation,
			`{"rules": [{"field": "n", "operator": "expr", "value": `+strconv.Quote(src)+`}]}`, `{"n": 3}`)
		_, err := execNode(t, env, req)
		appErr := appError(t, err, interpreter.ErrExpression)
		msg := appErr.Message()
		if !strings.Contains(msg, `node "v": rules[0] (field n)`) || !strings.Contains(msg, "limit") && !strings.Contains(msg, "by zero") {
			t.Errorf("%s: message %q", src, msg)
		}
	}
}

func TestValidationCheckConfig(t *testing.T) {
	p := problemAt
	tests := []configCase{
		{"ok", `{"rules": [{"field": "email", "operator": "email", "message": "Invalid email"}]}`, nil},
		{"all operators ok", `{"target": "input.user", "rules": [
			{"field": "a", "operator": "required"},
			{"field": "a", "operator": "minLength", "value": 1},
			{"field": "a", "operator": "maxLength", "value": 9},
			{"field": "a", "operator": "pattern", "value": "^x"},
			{"field": "a", "operator": "min", "value": -1.5},
			{"field": "a", "operator": "max", "value": 10},
			{"field": "a", "operator": "oneOf", "value": [1, "x", null]},
			{"field": "a", "operator": "type", "value": "integer"},
			{"field": "a", "operator": "expr", "value": "value > 1"}]}`, nil},
		{"no config", ``, []interpreter.Problem{p("rules", interpreter.CodeRequired)}},
		{"not an object", `[]`, []interpreter.Problem{p("", interpreter.CodeInvalidConfig)}},
		{"unknown field", `{"rules": [], "extra": 1}`, []interpreter.Problem{p("", interpreter.CodeInvalidConfig)}},
		{"every problem", `{"target": "input.", "rules": [
			{"field": "", "operator": "required"},
			{"field": "a", "operator": "bogus"},
			{"field": "a..b", "operator": ""},
			{"field": "a", "operator": "pattern", "value": "("},
			{"field": "a", "operator": "minLength", "value": -1},
			{"field": "a", "operator": "maxLength", "value": 1.5},
			{"field": "a", "operator": "min", "value": "x"},
			{"field": "a", "operator": "max"},
			{"field": "a", "operator": "oneOf", "value": []},
			{"field": "a", "operator": "type", "value": "date"},
			{"field": "a", "operator": "expr", "value": "value >"},
			{"field": "a", "operator": "expr"},
			{"field": "a", "operator": "email", "value": "x"}]}`,
			[]interpreter.Problem{
				p("target", interpreter.CodeInvalidExpression),
				p("rules[0].field", interpreter.CodeRequired),
				p("rules[1].operator", interpreter.CodeInvalidConfig),
				p("rules[2].field", interpreter.CodeInvalidConfig),
				p("rules[2].operator", interpreter.CodeRequired),
				p("rules[3].value", interpreter.CodeInvalidConfig),
				p("rules[4].value", interpreter.CodeInvalidConfig),
				p("rules[5].value", interpreter.CodeInvalidConfig),
				p("rules[6].value", interpreter.CodeInvalidConfig),
				p("rules[7].value", interpreter.CodeInvalidConfig),
				p("rules[8].value", interpreter.CodeInvalidConfig),
				p("rules[9].value", interpreter.CodeInvalidConfig),
				p("rules[10].value", interpreter.CodeInvalidExpression),
				p("rules[11].value", interpreter.CodeInvalidConfig),
				p("rules[12].value", interpreter.CodeInvalidConfig),
			}},
	}
	checkConfigCases(t, lookupType(t, TypeValidation, IOOptions{}), tests)
}

func TestValidEmail(t *testing.T) {
	for addr, want := range map[string]bool{
		"ada@example.com":           true,
		"a.b+tag@sub.example.org":   true,
		"ada@localhost":             false,
		"Ada <ada@example.com>":     false,
		"ada@@example.com":          false,
		"ada example@example.com":   false,
		"@example.com":              false,
		"ada@.example.com":          false,
		"ada@example.com.":          false,
		"":                          false,
		"ada@exa mple.com":          false,
		"ada@example.com\nBcc: x@y": false,
	} {
		if got := validEmail(addr); got != want {
			t.Errorf("validEmail(%q) = %v, want %v", addr, got, want)
		}
	}
}
