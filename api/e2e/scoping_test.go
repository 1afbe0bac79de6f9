package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/api"
	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Executions belong to the caller that started them: another client gets
// 404 (as for an unknown id) on read, signal and cancel, and does not see
// them in the list; an admin sees and reads all. The same Idempotency-Key
// from two callers starts two executions.
func TestExecutionScoping(t *testing.T) {
	base := keyedAPI(t, []string{"/api/workflows/{id}/execute"})
	id := uniqueID("t-scoping")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", apitest.Definition(id, "1", "approval", []map[string]any{
		apitest.Node("approval", "wait", map[string]any{"signal": "approve"}),
	}, nil), bearer(opsKey)...), http.StatusCreated, "")

	start := func(key string, headers ...string) string {
		t.Helper()
		if key != "" {
			headers = append(headers, bearer(key)...)
		}
		r := callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", map[string]any{"input": 1},
			append(headers, "Prefer", "respond-async")...)
		apitest.Expect(t, r, http.StatusAccepted, "")
		var res executeResponse
		r.DecodeData(t, &res)
		return res.ExecutionID
	}
	alices := start(aliceKey)
	bobs := start(bobKey)
	anons := start("") // the execute route is public here

	// Idempotency-Keys are per caller.
	aliceIdem := start(aliceKey, "Idempotency-Key", "order-42")
	bobIdem := start(bobKey, "Idempotency-Key", "order-42")
	if aliceIdem == bobIdem || start(aliceKey, "Idempotency-Key", "order-42") != aliceIdem {
		t.Fatalf("idempotent ids: alice %s (again %s), bob %s", aliceIdem, start(aliceKey, "Idempotency-Key", "order-42"), bobIdem)
	}

	unknown := callAt(t, base, http.MethodGet, "/api/executions/"+id+"-no-such-run", nil, bearer(bobKey)...)
	apitest.Expect(t, unknown, http.StatusNotFound, "execution_not_found")
	for _, probe := range []struct{ method, path string }{
		{http.MethodGet, "/api/executions/" + alices},
		{http.MethodPost, "/api/executions/" + alices + "/signals/approve"},
		{http.MethodPost, "/api/executions/" + alices + "/cancel"},
		{http.MethodPost, "/api/executions/" + alices + "/redrive"},
		{http.MethodPost, "/api/executions/" + alices + "/rerun"},
		{http.MethodGet, "/api/executions/" + anons},
	} {
		r := callAt(t, base, probe.method, probe.path, nil, bearer(bobKey)...)
		apitest.Expect(t, r, http.StatusNotFound, "execution_not_found")
		if want := strings.Replace(string(unknown.Raw), id+"-no-such-run", alices, 1); probe.path == "/api/executions/"+alices && string(r.Raw) != want {
			t.Errorf("another caller's execution reads %s, an unknown one %s", r.Raw, unknown.Raw)
		}
	}
	// The anonymous caller may not read executions here (the route is not public).
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+anons, nil), http.StatusUnauthorized, "unauthorized")

	// Alice reads and signals hers; the admin reads anyone's and cancels.
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+alices, nil, bearer(aliceKey)...), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/executions/"+alices+"/signals/approve", nil, bearer(aliceKey)...), http.StatusAccepted, "")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+bobs, nil, bearer(opsKey)...), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/executions/"+bobs+"/cancel", nil, bearer(opsKey)...), http.StatusAccepted, "")

	// Lists: visibility is eventually consistent, so poll until they settle.
	list := func(key string) []string {
		r := callAt(t, base, http.MethodGet, "/api/executions?pageSize=100&definitionId="+id, nil, bearer(key)...)
		apitest.Expect(t, r, http.StatusOK, "")
		var page struct {
			Executions []executionView `json:"executions"`
		}
		r.DecodeData(t, &page)
		var ids []string
		for _, e := range page.Executions {
			ids = append(ids, e.ExecutionID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	wants := map[string][]string{
		aliceKey: sorted(alices, aliceIdem),
		bobKey:   sorted(bobs, bobIdem),
		opsKey:   sorted(alices, aliceIdem, bobs, bobIdem, anons),
	}
	for key, want := range wants {
		poll(t, fmt.Sprintf("list for %s, want %v", key[:5], want), func() []string { return list(key) },
			func(got []string) bool { return slices.Equal(got, want) })
	}

	// The caller is recorded on the execution, for operators.
	desc, err := env.client.DescribeWorkflow(t.Context(), alices, "")
	if err != nil {
		t.Fatal(err)
	}
	if owner, _ := desc.TypedSearchAttributes.GetKeyword(temporal.NewSearchAttributeKeyKeyword(interpreter.SearchAttrCaller)); owner != "alice" {
		t.Errorf("caller search attribute %q, want alice", owner)
	}
}

// Keys of the keyed API the scoping test runs against.
const (
	aliceKey = "alice-secret-0123456789"
	bobKey   = "bob-secret-0123456789ab"
	opsKey   = "ops-secret-0123456789abc"
)

// keyedAPI serves, on its own httptest server, an API with keys over the
// package's Temporal, store and workers, and returns its base URL.
func keyedAPI(t *testing.T, public []string) string {
	t.Helper()
	s, err := api.New(api.Options{
		Client: env.client, PayloadCodec: env.codec, Store: env.store, Registry: env.registry, Exprs: env.exprs,
		TaskQueue: testTaskQueue, Namespace: testNamespace, EagerStart: true, Logger: env.logger,
		APIKeys:      []api.APIKey{{Name: "alice", Secret: aliceKey}, {Name: "bob", Secret: bobKey}},
		AdminAPIKeys: []api.APIKey{{Name: "ops", Secret: opsKey}},
		PublicRoutes: public,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }
