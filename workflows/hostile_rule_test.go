package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestValidationRuleFaults: a validation rule whose expression fails by
// itself is the definition's fault (422 naming the rule), not the input's
// (400); a rule that is false, or fails on the value's type, stays a 400.
func TestValidationRuleFaults(t *testing.T) {
	t.Parallel()
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), testenv.StripeMock(t), nil)
	for _, c := range []struct {
		rule, input string
		status      int
		code, says  string
	}{
		{"size(value) / 0 > 1", `{"s": "abc"}`, http.StatusUnprocessableEntity, "execution_failed", "division by zero"},
		{"size(value.replace('', value)) > 0", `{"s": "` + strings.Repeat("x", 200_000) + `"}`, http.StatusUnprocessableEntity, "execution_failed", "EXPR_MAX_VALUE_BYTES"},
		{"size(value) > 5", `{"s": "abc"}`, http.StatusBadRequest, "validation_failed", "is invalid"},
		{"value.startsWith('a')", `{"s": 5}`, http.StatusBadRequest, "validation_failed", "is invalid"},
	} {
		id := fmt.Sprintf("t-rule-%d", queueSeq.Add(1))
		def, _ := json.Marshal(map[string]any{"id": id, "version": "1", "startNode": "v", "edges": []any{},
			"nodes": []any{map[string]any{"id": "v", "type": "validation", "config": map[string]any{
				"rules": []any{map[string]any{"field": "s", "operator": "expr", "value": c.rule}}}}}})
		if r := e.post(t, "/api/workflows", string(def)); r.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		r := e.post(t, "/api/workflows/"+id+"/execute", `{"input": `+c.input+`}`)
		if r.Status != c.status || r.Error.Code != c.code || !strings.Contains(r.Raw, c.says) {
			t.Errorf("%s: %d %.400s, want %d %s saying %q", c.rule, r.Status, r.Raw, c.status, c.code, c.says)
		}
	}
	e.healthy(t)
}
