package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// A real execution that waited for a signal and failed at a fail node
// becomes a test case (its payloads decrypted through the codec), and
// test mode runs it to the same failure and path, the signal answered by
// its mock.
func TestTestCaseOfARealExecutionRunsInTestMode(t *testing.T) {
	id := uniqueID("t-testcase")
	register(t, apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
		apitest.Node("small", "condition", map[string]any{"expression": "nodes.approval.amount <= 100"}),
		apitest.Transform("accept", map[string]string{"by": "nodes.approval.by"}),
		apitest.Node("refuse", "fail", map[string]any{"status": 403, "code": "over_limit", "message": "too much to approve"}),
	}, []map[string]any{
		apitest.Edge("approval", "small"),
		apitest.Edge("small", "accept", "on", "true"),
		apitest.Edge("small", "refuse", "on", "false"),
	}), http.StatusCreated)

	r := execute(t, id, "", map[string]any{"input": map[string]any{"note": "q3"}}, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	apitest.Expect(t, call(t, http.MethodGet, "/api/executions/"+res.ExecutionID+"/testcase", nil), http.StatusConflict, "execution_running")

	apitest.Expect(t, call(t, http.MethodPost, "/api/executions/"+res.ExecutionID+"/signals/approve", map[string]any{"by": "ann", "amount": 500}), http.StatusAccepted, "")
	waitFor(t, res.ExecutionID, statusIs("failed"))

	tc := call(t, http.MethodGet, "/api/executions/"+res.ExecutionID+"/testcase", nil)
	apitest.Expect(t, tc, http.StatusOK, "")
	apitest.JSONEqual(t, tc.Body.Data, map[string]any{
		"id": id, "version": "1", "input": map[string]any{"note": "q3"},
		"mocks":  map[string]any{"approval": map[string]any{"output": map[string]any{"by": "ann", "amount": 500}}},
		"expect": map[string]any{"status": "failed", "error": map[string]any{"type": "BusinessError", "code": "over_limit", "status": 403}},
	})

	test := call(t, http.MethodPost, "/api/workflows/test", tc.Body.Data)
	apitest.Expect(t, test, http.StatusOK, "")
	var got struct {
		Status string
		Error  struct {
			HTTPStatus int `json:"httpStatus"`
			Code       string
		}
		Path       []string
		Mismatches []string
	}
	test.DecodeData(t, &got)
	if got.Status != "failed" || got.Error.HTTPStatus != 403 || got.Error.Code != "over_limit" ||
		strings.Join(got.Path, ",") != "approval,small,refuse" || got.Mismatches == nil || len(got.Mismatches) != 0 {
		t.Errorf("test run %s", test.Body.Data)
	}
	real := getExecution(t, res.ExecutionID)
	if real.Error == nil || real.Error.HTTPStatus != got.Error.HTTPStatus || real.Error.Code != got.Error.Code {
		t.Errorf("real error %+v, test error %+v", real.Error, got.Error)
	}
}
