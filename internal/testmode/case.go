package testmode

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Parse checks an inline definition as registration does (interpreter.Parse);
// the problems' paths start with "definition.".
func (e *Engine) Parse(doc []byte) (interpreter.Definition, []problem.Problem) {
	def, problems := interpreter.Parse(doc, e.Registry, e.Exprs)
	for i := range problems {
		problems[i].Path = problem.Join("definition", problems[i].Path)
	}
	return def, problems
}

// Case is a test-case file of the testcases command: a Request and what
// its run must give.
type Case struct {
	Request
	Expect *Expect `json:"expect,omitempty"`
}

// Expect is what a case's run must give. Status is required; the other
// fields are checked when present.
type Expect struct {
	// Status: completed, failed or canceled.
	Status string `json:"status"`
	// Output is compared whole with the execution's output, as JSON values.
	Output json.RawMessage `json:"output,omitempty"`
	// Error: each field given is compared with the same field of the
	// execution's error (type, nodeId, nodeType, status, code, message,
	// fields), e.g. {"status": 402, "code": "payment_declined"}.
	Error map[string]any `json:"error,omitempty"`
	// Path is compared whole with the nodes that ran, in order.
	Path []string `json:"path,omitempty"`
}

// Mismatches lists every way res differs from x, empty when it matches.
func (x Expect) Mismatches(res *Result) []string {
	var out []string
	if res.Status != x.Status {
		out = append(out, fmt.Sprintf("status is %s, want %s%s", res.Status, x.Status, errorSuffix(res)))
	}
	if x.Output != nil {
		var want any
		if err := json.Unmarshal(x.Output, &want); err != nil {
			out = append(out, "expect.output is not JSON: "+err.Error())
		} else if got := normalize(res.Output); !reflect.DeepEqual(got, want) {
			out = append(out, fmt.Sprintf("output is %s, want %s", compact(got), compact(want)))
		}
	}
	if x.Error != nil {
		got := map[string]any{}
		if res.Error != nil {
			_ = json.Unmarshal([]byte(compact(res.Error)), &got)
		}
		keys := make([]string, 0, len(x.Error))
		for k := range x.Error {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if want := normalize(x.Error[k]); !reflect.DeepEqual(got[k], want) {
				out = append(out, fmt.Sprintf("error.%s is %s, want %s", k, compact(got[k]), compact(want)))
			}
		}
	}
	if x.Path != nil && !slices.Equal(res.Path, x.Path) {
		out = append(out, fmt.Sprintf("path is %s, want %s", strings.Join(res.Path, " → "), strings.Join(x.Path, " → ")))
	}
	return out
}

func errorSuffix(res *Result) string {
	if res.Error == nil {
		return ""
	}
	return " (error: " + compact(res.Error) + ")"
}

// normalize turns v into what JSON decoding gives (float64 numbers, maps).
func normalize(v any) any {
	var out any
	_ = json.Unmarshal([]byte(compact(v)), &out)
	return out
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
