package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// Keys of the keyed API the access tests run against.
const (
	aliceKey = "alice-secret-0123456789"
	bobKey   = "bob-secret-0123456789ab"
	opsKey   = "ops-secret-0123456789abc"
)

// keyedAPI serves, on its own httptest server, an API with keys (over a
// fake Temporal) and returns its base URL.
func keyedAPI(t *testing.T, public []string, logs *bytes.Buffer) string {
	t.Helper()
	o, _ := testOptions(t)
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	o.APIKeys = []APIKey{{Name: "alice", Secret: aliceKey}, {Name: "bob", Secret: bobKey}}
	o.AdminAPIKeys = []APIKey{{Name: "ops", Secret: opsKey}}
	o.PublicRoutes = public
	return serve(t, o)
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// Without keys every route is open and New says so loudly.
func TestNoKeysWarns(t *testing.T) {
	var logs bytes.Buffer
	o, _ := testOptions(t)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := New(o); err != nil {
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
	id := "t-keys"
	def := apitest.Definition(id, "1", "a", []map[string]any{apitest.Transform("a", map[string]string{"v": "1"})}, nil)

	var unauthorized []string
	for _, headers := range [][]string{
		nil,
		bearer("no-such-key-0123456789"),
		{"X-API-Key", "no-such-key-0123456789"},
		{"Authorization", "Basic " + aliceKey},
		{"Authorization", "Bearer " + aliceKey, "X-API-Key", bobKey},
	} {
		r := callAt(t, base, http.MethodGet, "/api/executions", nil, headers...)
		apitest.Expect(t, r, http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: %v", r.Header)
		}
		unauthorized = append(unauthorized, string(r.Raw))
	}
	if len(slices.Compact(unauthorized)) != 1 {
		t.Errorf("401 bodies differ, telling keys apart: %q", unauthorized)
	}
	// A wrong key is refused on a public route too.
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/health", nil, bearer("no-such-key-0123456789")...), http.StatusUnauthorized, "unauthorized")

	// Public: open at client level without a key; the admin route at the
	// same path is not.
	if r := callAt(t, base, http.MethodGet, "/health", nil); r.Status != http.StatusOK {
		t.Fatalf("public /health without a key: %d %s", r.Status, r.Raw)
	}
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows", nil), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def), http.StatusUnauthorized, "unauthorized")

	// Registering needs an admin key.
	r := callAt(t, base, http.MethodPost, "/api/workflows", def, bearer(aliceKey)...)
	apitest.Expect(t, r, http.StatusForbidden, "forbidden")
	if strings.Contains(string(r.Raw), "alice") {
		t.Errorf("403 names the caller: %s", r.Raw)
	}
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows", def, "X-API-Key", opsKey), http.StatusCreated, "")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/"+id, nil, "X-API-Key", aliceKey), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", nil, "x-api-key", bobKey), http.StatusOK, "")
	apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/workflows/"+id+"/execute", nil, "Authorization", "bearer "+aliceKey), http.StatusOK, "")
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

// The statistics count every caller's executions: admin keys only.
func TestStatisticsNeedsAdmin(t *testing.T) {
	base := keyedAPI(t, []string{"/api/workflows/statistics"}, nil)
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/statistics", nil), http.StatusUnauthorized, "unauthorized")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/statistics", nil, bearer(aliceKey)...), http.StatusForbidden, "forbidden")
	apitest.Expect(t, callAt(t, base, http.MethodGet, "/api/workflows/statistics", nil, bearer(opsKey)...), http.StatusOK, "")
}
