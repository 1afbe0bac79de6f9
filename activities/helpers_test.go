package activities

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

func TestEdgesOnError(t *testing.T) {
	env := newEnv(t, 0)
	scope := interpreter.Scope{
		Input: decodeJSON(t, `{"amount": 50}`),
		Nodes: map[string]any{"charge": decodeJSON(t, `{"id": "ch_1"}`)},
		Errors: map[string]any{"ship": decodeJSON(t,
			`{"type": "ValidationError", "message": "bad", "fields": [{"field": "zip", "message": "is required"}]}`)},
	}
	edges := []interpreter.Edge{
		{ID: "refund", Source: "ship", Target: "refund", On: interpreter.OutcomeError, Condition: "has(nodes.charge)"},
		{ID: "notify", Source: "ship", Target: "notify", On: interpreter.OutcomeError,
			Condition: "errors.ship.type == 'ValidationError' && errors.ship.fields[0].field == 'zip'"},
		{ID: "other", Source: "ship", Target: "other", On: interpreter.OutcomeError, Condition: "errors.ship.type == 'Timeout'"},
		{ID: "plain", Source: "ship", Target: "log", On: interpreter.OutcomeError},
		{ID: "next", Source: "ship", Target: "next"},
	}
	val, err := env.ExecuteActivity(interpreter.EdgesActivity,
		interpreter.EdgesRequest{Outcome: interpreter.OutcomeError, Edges: edges, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	if err := val.Get(&fired); err != nil {
		t.Fatal(err)
	}
	if want := []string{"refund", "notify", "plain"}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired = %v, want %v", fired, want)
	}

	// A condition that fails names the edge.
	bad := []interpreter.Edge{{ID: "bad", Source: "ship", Target: "x", On: interpreter.OutcomeError, Condition: "errors.nope.type == 'x'"}}
	_, err = env.ExecuteActivity(interpreter.EdgesActivity,
		interpreter.EdgesRequest{Outcome: interpreter.OutcomeError, Edges: bad, Scope: scope})
	appErr := appError(t, err, interpreter.ErrExpression)
	if !strings.Contains(appErr.Message(), `edge "bad"`) {
		t.Fatalf("message = %q", appErr.Message())
	}
}

func TestUntil(t *testing.T) {
	env := newEnv(t, 0)
	started := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	scope := interpreter.Scope{
		Input:     decodeJSON(t, `{"deliverAt": "2024-06-01T10:00:00+02:00"}`),
		Execution: interpreter.ExecutionInfo{ID: "e", StartedAt: started},
	}
	tests := []struct {
		expr string
		want time.Time
	}{
		{"input.deliverAt", time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)},
		{"timestamp(input.deliverAt) + duration('1h')", time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)},
		{"execution.startedAt + duration('24h')", started.Add(24 * time.Hour)},
	}
	for _, tt := range tests {
		val, err := env.ExecuteActivity(interpreter.UntilActivity, interpreter.UntilRequest{Expression: tt.expr, Scope: scope})
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		var got time.Time
		if err := val.Get(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(tt.want) {
			t.Fatalf("Until(%s) = %v, want %v", tt.expr, got, tt.want)
		}
	}
	_, err := env.ExecuteActivity(interpreter.UntilActivity, interpreter.UntilRequest{Expression: "'soon'", Scope: scope})
	appError(t, err, interpreter.ErrExpression)
}

func TestOutput(t *testing.T) {
	env := newEnv(t, 0)
	scope := interpreter.Scope{
		Input: decodeJSON(t, `{"email": "ada@example.com", "quantity": 2}`),
		Nodes: map[string]any{"create_user": decodeJSON(t, `{"row": {"id": 7, "email": "ada@example.com"}}`)},
	}
	mapping := map[string]string{
		"user":  "nodes.create_user.row",
		"total": "input.quantity * 2.5",
		"id":    "execution.id",
	}
	scope.Execution.ID = "exec-9"
	val, err := env.ExecuteActivity(interpreter.OutputActivity, interpreter.OutputRequest{Mapping: mapping, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := val.Get(&out); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, out, `{"user": {"id": 7, "email": "ada@example.com"}, "total": 5, "id": "exec-9"}`)

	// Errors are reported for the first failing key in sorted order.
	bad := map[string]string{"z": "nodes.missing.x", "b": "input.email * 2", "a": "1"}
	_, err = env.ExecuteActivity(interpreter.OutputActivity, interpreter.OutputRequest{Mapping: bad, Scope: scope})
	appErr := appError(t, err, interpreter.ErrExpression)
	if !strings.Contains(appErr.Message(), "output.b") {
		t.Fatalf("message = %q", appErr.Message())
	}
}

func TestOutputCapped(t *testing.T) {
	env := newEnv(t, 64)
	scope := interpreter.Scope{Input: decodeJSON(t, `{"s": "`+strings.Repeat("x", 100)+`"}`)}
	_, err := env.ExecuteActivity(interpreter.OutputActivity,
		interpreter.OutputRequest{Mapping: map[string]string{"s": "input.s"}, Scope: scope})
	appError(t, err, interpreter.ErrPayloadTooBig)
}
