package activities

import (
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func TestFail(t *testing.T) {
	env := newEnv(t, 0)
	tests := []struct {
		name   string
		config string
		want   interpreter.BusinessFailure
	}{
		{"full", `{"status": 409, "code": "email_exists", "message": "This email is already registered"}`,
			interpreter.BusinessFailure{Status: 409, Code: "email_exists", Message: "This email is already registered"}},
		{"default message", `{"status": 402, "code": "payment_failed"}`,
			interpreter.BusinessFailure{Status: 402, Code: "payment_failed", Message: "Payment Required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := nodeRequest(t, "reject", TypeFail, tt.config, `{}`,
				interpreter.Edge{ID: "never", Source: "reject", Target: "x"})
			_, err := execNode(t, env, req)
			appErr := appError(t, err, interpreter.ErrBusiness)
			var got interpreter.BusinessFailure
			if err := appErr.Details(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want || appErr.Message() != tt.want.Message {
				t.Fatalf("failure = %+v (message %q), want %+v", got, appErr.Message(), tt.want)
			}
		})
	}
}

func TestFailCheckConfig(t *testing.T) {
	p := problemAt
	checkProblems(t, lookupType(t, TypeFail, IOOptions{}), `{"status": 404, "code": "not_found"}`, nil)
	checkProblems(t, lookupType(t, TypeFail, IOOptions{}), `{}`, []interpreter.Problem{
		p("status", interpreter.CodeRequired), p("code", interpreter.CodeRequired)})
	checkProblems(t, lookupType(t, TypeFail, IOOptions{}), `{"status": 302, "code": "x"}`, []interpreter.Problem{p("status", interpreter.CodeInvalidConfig)})
	checkProblems(t, lookupType(t, TypeFail, IOOptions{}), `{"status": "409", "code": "x"}`, []interpreter.Problem{p("status", interpreter.CodeInvalidConfig)})
	checkProblems(t, lookupType(t, TypeFail, IOOptions{}), `{"status": 409, "code": "x", "message": "${input.a}", "extra": true}`,
		[]interpreter.Problem{p("", interpreter.CodeInvalidConfig)})
}
