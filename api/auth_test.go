package api

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// Keys of the keyed API the access tests run against.
const (
	aliceKey = "alice-secret-0123456789"
	bobKey   = "bob-secret-0123456789ab"
	opsKey   = "ops-secret-0123456789abc"
)

// keyedAPI serves, on its own httptest server, an API with keys over the
// package's Temporal, store and workers, and returns its base URL.
func keyedAPI(t *testing.T, public []string, logs *bytes.Buffer) string {
	t.Helper()
	logger := env.logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := New(Options{
		Client: env.client, PayloadCodec: env.codec, Store: env.store, Registry: env.registry, Exprs: env.exprs,
		TaskQueue: testTaskQueue, Namespace: testNamespace, EagerStart: true, Logger: logger,
		APIKeys:      []APIKey{{Name: "alice", Secret: aliceKey}, {Name: "bob", Secret: bobKey}},
		AdminAPIKeys: []APIKey{{Name: "ops", Secret: opsKey}},
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

// Without keys every route is open and New says so loudly.
func TestNoKeysWarns(t *testing.T) {
	var logs bytes.Buffer
	if _, err := New(Options{Client: env.client, Store: env.store, Registry: env.registry,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "no API keys configured") {
		t.Fatalf("no warning about open routes: %s", logs.String())
	}
}

// 401 for a missing, unknown or malformed key, always with the same body;
// 403 for a client key on an admin route; public routes open without a key.
func TestAPIKeys(t *testing.T) {
	var logs bytes.Buffer
	base := keyedAPI(t, []string{"/health", "/api/workflows", "/api/nowhere"}, &logs)
	if !strings.Contains(logs.String(), "PUBLIC_ROUTES names no API route") || !strings.Contains(logs.String(), "/api/nowhere") {
		t.Errorf("no warning about a public route that names nothing: %s", logs.String())
	}
	id := uniqueID("t-keys")
	def := definition(id, "1", "a", []map[string]any{transform("a", map[string]string{"v": "1"})}, nil)

	var unauthorized []string
	for _, headers := range [][]string{
		nil,
		bearer("no-such-key-0123456789"),
		{"X-API-Key", "no-such-key-0123456789"},
		{"Authorization", "Basic " + aliceKey},
		{"Authorization", "Bearer " + aliceKey, "X-API-Key", bobKey},
	} {
		r := callAt(t, base, http.MethodGet, "/api/executions", nil, headers...)
		expect(t, r, http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: %v", r.Header)
		}
		unauthorized = append(unauthorized, string(r.Raw))
	}
	if len(slices.Compact(unauthorized)) != 1 {
		t.Errorf("401 bodies differ, telling keys apart: %q", unauthorized)
	}
	// A wrong key is refused on a public route too.
	expect(t, callAt(t, base, http.MethodGet, "/health", nil, bearer("no-such-key-0123456789")...), http.StatusUnauthorized, "unauthorized")

	// Public: open at client level without a key; the admin route at the
	// same path is not.
	if r := callAt(t, base, http.MethodGet, "/health", nil); r.Status != http.StatusOK {
		t.Fatalf("public /health without a key: %d %s", r.Status, r.Raw)
	}
	expect(t, callAt(t, base, http.MethodGet, "/api/workflows", nil), http.StatusOK, "")
	expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def), http.StatusUnauthorized, "unauthorized")

	// Registering needs an admin key.
	r := callAt(t, base, http.MethodPost, "/api/workflows", def, bearer(aliceKey)...)
	expect(t, r, http.StatusForbidden, "forbidden")
	if strings.Contains(string(r.Raw), "alice") {
		t.Errorf("403 names the caller: %s", r.Raw)
	}
	expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def, "X-API-Key", opsKey), http.StatusCreated, "")
	expect(t, callAt(t, base, http.MethodGet, "/api/workflows/"+id, nil, "X-API-Key", aliceKey), http.StatusOK, "")
	expect(t, callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", nil, "x-api-key", bobKey), http.StatusOK, "")
	expect(t, callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", nil, "Authorization", "bearer "+aliceKey), http.StatusOK, "")
}

// Executions belong to the caller that started them: another client gets
// 404 (as for an unknown id) on read, signal and cancel, and does not see
// them in the list; an admin sees and reads all. The same Idempotency-Key
// from two callers starts two executions.
func TestExecutionScoping(t *testing.T) {
	base := keyedAPI(t, []string{"/api/workflows/{id}/execute"}, nil)
	id := uniqueID("t-scoping")
	expect(t, callAt(t, base, http.MethodPost, "/api/workflows", definition(id, "1", "approval", []map[string]any{
		node("approval", "wait", map[string]any{"signal": "approve"}),
	}, nil), bearer(opsKey)...), http.StatusCreated, "")

	start := func(key string, headers ...string) string {
		t.Helper()
		if key != "" {
			headers = append(headers, bearer(key)...)
		}
		r := callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", map[string]any{"input": 1},
			append(headers, "Prefer", "respond-async")...)
		expect(t, r, http.StatusAccepted, "")
		var res executeResponse
		r.data(t, &res)
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
	expect(t, unknown, http.StatusNotFound, "execution_not_found")
	for _, probe := range []struct{ method, path string }{
		{http.MethodGet, "/api/executions/" + alices},
		{http.MethodPost, "/api/executions/" + alices + "/signals/approve"},
		{http.MethodPost, "/api/executions/" + alices + "/cancel"},
		{http.MethodGet, "/api/executions/" + anons},
	} {
		r := callAt(t, base, probe.method, probe.path, nil, bearer(bobKey)...)
		expect(t, r, http.StatusNotFound, "execution_not_found")
		if want := strings.Replace(string(unknown.Raw), id+"-no-such-run", alices, 1); probe.path == "/api/executions/"+alices && string(r.Raw) != want {
			t.Errorf("another caller's execution reads %s, an unknown one %s", r.Raw, unknown.Raw)
		}
	}
	// The anonymous caller may not read executions here (the route is not public).
	expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+anons, nil), http.StatusUnauthorized, "unauthorized")

	// Alice reads and signals hers; the admin reads anyone's and cancels.
	expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+alices, nil, bearer(aliceKey)...), http.StatusOK, "")
	expect(t, callAt(t, base, http.MethodPost, "/api/executions/"+alices+"/signals/approve", nil, bearer(aliceKey)...), http.StatusAccepted, "")
	expect(t, callAt(t, base, http.MethodGet, "/api/executions/"+bobs, nil, bearer(opsKey)...), http.StatusOK, "")
	expect(t, callAt(t, base, http.MethodPost, "/api/executions/"+bobs+"/cancel", nil, bearer(opsKey)...), http.StatusAccepted, "")

	// Lists: visibility is eventually consistent, so poll until they settle.
	list := func(key string) []string {
		r := callAt(t, base, http.MethodGet, "/api/executions?pageSize=100&definitionId="+id, nil, bearer(key)...)
		expect(t, r, http.StatusOK, "")
		var page struct {
			Executions []executionSummary `json:"executions"`
		}
		r.data(t, &page)
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
	if owner, _ := desc.TypedSearchAttributes.GetKeyword(searchAttrCaller); owner != "alice" {
		t.Errorf("caller search attribute %q, want alice", owner)
	}
}

func TestPresentedSecret(t *testing.T) {
	for _, tc := range []struct {
		headers             []string
		secret              string
		present, wellFormed bool
	}{
		{nil, "", false, true},
		{[]string{"Authorization", "Bearer abc"}, "abc", true, true},
		{[]string{"Authorization", "bearer  abc "}, "abc", true, true},
		{[]string{"X-API-Key", "abc"}, "abc", true, true},
		{[]string{"Authorization", "Bearer abc", "X-API-Key", "abc"}, "abc", true, true},
		{[]string{"Authorization", "Bearer abc", "X-API-Key", "abd"}, "", true, false},
		{[]string{"Authorization", "Basic abc"}, "", true, false},
		{[]string{"Authorization", "Bearer"}, "", true, false},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(tc.headers); i += 2 {
			h.Add(tc.headers[i], tc.headers[i+1])
		}
		secret, present, ok := presentedSecret(h)
		if secret != tc.secret || present != tc.present || ok != tc.wellFormed {
			t.Errorf("%v: got %q %v %v", tc.headers, secret, present, ok)
		}
	}
}

func TestKeyring(t *testing.T) {
	k, err := newKeyring([]APIKey{{"a", "secret-a"}}, []APIKey{{"root", "secret-root"}}, []string{"/x/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	if who, ok := k.lookup("secret-root"); !ok || who.name != "root" || !who.admin {
		t.Errorf("root: %+v %v", who, ok)
	}
	if who, ok := k.lookup("secret-a"); !ok || who.name != "a" || who.admin {
		t.Errorf("a: %+v %v", who, ok)
	}
	for _, wrong := range []string{"", "secret-", "secret-a ", "SECRET-A"} {
		if _, ok := k.lookup(wrong); ok {
			t.Errorf("%q accepted", wrong)
		}
	}
	if !k.public["/x/:id"] {
		t.Errorf("public routes %v", k.public)
	}
	for _, bad := range [][]APIKey{{{"anonymous", "s"}}, {{"a b", "s"}}, {{"a", ""}}, {{"a", "s"}, {"a", "t"}}, {{"x'--", "s"}}} {
		if _, err := newKeyring(bad, nil, nil); err == nil {
			t.Errorf("keys %v accepted", bad)
		}
	}
}
