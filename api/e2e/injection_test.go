package e2e

import (
	"net/http"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// Strings in the input that look like expressions are data: they reach the
// output unchanged, are never compiled or evaluated (no division by zero,
// no secret read, no hashing), and compare as plain strings.
func TestExpressionInjectionIsData(t *testing.T) {
	id := uniqueID("t-expr-injection")
	register(t, apitest.Definition(id, "1", "echo", []map[string]any{
		apitest.Transform("echo", map[string]string{
			"text":     "input.text",
			"suffixed": "input.text + '!'",
			"length":   "size(input.text)",
			"isPlain":  "input.text == 'input.password'",
		}),
	}, nil), http.StatusCreated)
	for _, text := range []string{
		"input.password",
		"1/0",
		`"a" + "b"`,
		`hashPassword("x")`,
		"nodes.echo.text",
		"${input.password}",
		"{{input.password}}",
		"') || true || ('",
		"input.list.map(a, input.list.map(b, a))",
	} {
		r := execute(t, id, "", map[string]any{"input": map[string]any{"text": text, "password": "hunter2-secret"}})
		apitest.Expect(t, r, http.StatusOK, "")
		var res executeResponse
		r.DecodeData(t, &res)
		apitest.JSONEqual(t, res.Output, map[string]any{"echo": map[string]any{
			"text": text, "suffixed": text + "!", "length": len([]rune(text)), "isPlain": text == "input.password",
		}})
	}
}
