package activities

import (
	"reflect"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func TestCondition(t *testing.T) {
	env := newEnv(t, 0)
	edges := []interpreter.Edge{
		{ID: "big", Source: "route", Target: "review", On: interpreter.OutcomeTrue},
		{ID: "vip", Source: "route", Target: "vip", On: interpreter.OutcomeTrue, Condition: "input.customer.tier == 'gold'"},
		{ID: "small", Source: "route", Target: "charge", On: interpreter.OutcomeFalse},
		{ID: "small-result", Source: "route", Target: "log", On: interpreter.OutcomeFalse, Condition: "nodes.route.result == false"},
		{ID: "err", Source: "route", Target: "x", On: interpreter.OutcomeError},
	}
	tests := []struct {
		name      string
		input     string
		wantOut   string
		wantFired []string
	}{
		{"true", `{"amount": 1500, "customer": {"tier": "silver"}}`, interpreter.OutcomeTrue, []string{"big"}},
		{"true with extra condition", `{"amount": 1000, "customer": {"tier": "gold"}}`, interpreter.OutcomeTrue, []string{"big", "vip"}},
		{"false", `{"amount": 999.99, "customer": {"tier": "gold"}}`, interpreter.OutcomeFalse, []string{"small", "small-result"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := nodeRequest(t, "route", TypeCondition, `{"expression": "input.amount >= 1000"}`, tt.input, edges...)
			res, err := execNode(t, env, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.wantOut || !reflect.DeepEqual(res.Fired, tt.wantFired) {
				t.Fatalf("outcome %q fired %v, want %q %v", res.Outcome, res.Fired, tt.wantOut, tt.wantFired)
			}
			jsonEqual(t, res.Output, `{"result": `+tt.wantOut+`}`)
		})
	}
}

func TestConditionNotBool(t *testing.T) {
	env := newEnv(t, 0)
	_, err := execNode(t, env, nodeRequest(t, "route", TypeCondition, `{"expression": "input.amount"}`, `{"amount": 1}`))
	appError(t, err, interpreter.ErrExpression)
}

func TestConditionCheckConfig(t *testing.T) {
	p := problemAt
	checkProblems(t, lookupType(t, TypeCondition, IOOptions{}), `{"expression": "input.a > 1"}`, nil)
	checkProblems(t, lookupType(t, TypeCondition, IOOptions{}), `{}`, []interpreter.Problem{p("expression", interpreter.CodeRequired)})
	checkProblems(t, lookupType(t, TypeCondition, IOOptions{}), `{"expression": "input.a >"}`, []interpreter.Problem{p("expression", interpreter.CodeInvalidExpression)})
	if got := lookupType(t, TypeCondition, IOOptions{}).Outcomes; !reflect.DeepEqual(got, []string{"true", "false"}) {
		t.Fatalf("outcomes = %v", got)
	}
}
