package api

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/metrics"
)

// echoParam is a path parameter as Echo writes it (:id); OpenAPI writes {id}.
var echoParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// TestOpenAPIDescribesEveryRoute walks every route the Echo server
// registers (with every option that adds routes: metrics) and fails when
// one is missing from the OpenAPI document, or when the document describes
// an operation no route serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	o, _ := testOptions(t)
	meters, err := metrics.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	o.Metrics = meters
	s := newServer(t, o)

	served := map[string]bool{}
	for _, r := range s.echo.Routes() {
		if r.Method == echoRouteNotFound {
			continue // the codec group's fallback, not a route
		}
		served[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	described := map[string]bool{}
	doc := apitest.OpenAPIDocument(t)
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	for _, op := range slices.Sorted(mapKeys(served)) {
		if !described[op] {
			t.Errorf("%s is served but not in the OpenAPI document (api/apidoc/openapi.yaml)", op)
		}
	}
	for _, op := range slices.Sorted(mapKeys(described)) {
		if !served[op] {
			t.Errorf("%s is in the OpenAPI document but no route serves it", op)
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes found: %v", len(served), served)
	}
}

// echoRouteNotFound is the method Echo lists a group's not-found fallback
// under.
const echoRouteNotFound = "echo_route_not_found"

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestOpenAPIListsEveryErrorCode reads the error codes the API declares
// (every const code… = "…" in api/*.go) and fails when one is not in the
// document's ErrorCode, when ErrorCode lists a code the API does not
// declare, or when a status's response lists a code ErrorCode does not.
// Every code must be in some status's response: that is where the document
// says which status a code comes with.
func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	declared := declaredErrorCodes(t)
	doc := apitest.OpenAPIDocument(t)
	listed := map[string]bool{}
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		listed[v.(string)] = true
	}
	for code := range declared {
		if !listed[code] {
			t.Errorf("error code %q (api/*.go) is not in the OpenAPI document's ErrorCode", code)
		}
	}
	for code := range listed {
		if !declared[code] {
			t.Errorf("ErrorCode lists %q, which no api/*.go constant declares", code)
		}
	}
	withStatus := map[string]bool{}
	for name, resp := range doc.Components.Responses {
		for _, code := range responseCodes(resp.Value) {
			withStatus[code] = true
			if !listed[code] {
				t.Errorf("response %s lists code %q, which ErrorCode does not", name, code)
			}
		}
	}
	for code := range listed {
		if !withStatus[code] {
			t.Errorf("no response of components/responses lists code %q: the document does not say its status", code)
		}
	}
}

// responseCodes are the codes an error response's schema restricts
// error.code to (the allOf branch beside its $ref to Error).
func responseCodes(r *openapi3.Response) []string {
	mt := r.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	var codes []string
	for _, s := range append([]*openapi3.SchemaRef{mt.Schema}, mt.Schema.Value.AllOf...) {
		if s.Value == nil {
			continue
		}
		errProp := s.Value.Properties["error"]
		if errProp == nil || errProp.Value == nil {
			continue
		}
		if code := errProp.Value.Properties["code"]; code != nil && code.Value != nil {
			for _, v := range code.Value.Enum {
				codes = append(codes, v.(string))
			}
		}
	}
	return codes
}

// declaredErrorCodes parses the package's sources for its error codes.
func declaredErrorCodes(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "code") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						codes[v] = true
					}
				}
			}
		}
	}
	if len(codes) < 30 {
		t.Fatalf("found only %d error codes: %v", len(codes), codes)
	}
	return codes
}

// TestDescriptionRoutes fetches the document, the definition schema, the
// docs page and its script, without a key on an API that requires one.
func TestDescriptionRoutes(t *testing.T) {
	base := keyedAPI(t, nil, nil)

	r := callAt(t, base, http.MethodGet, "/api/openapi.json", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", r.Status, r.Raw)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Raw, &doc); err != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/api/workflows/{id}/execute"] == nil {
		t.Fatalf("openapi.json: %v %.300s", err, r.Raw)
	}

	r = callAt(t, base, http.MethodGet, "/api/schema/definition.json", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/schema+json" {
		t.Fatalf("definition.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}

	page := callAt(t, base, http.MethodGet, "/docs", nil)
	if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %d %s", page.Status, page.Header.Get("Content-Type"))
	}
	html := string(page.Raw)
	for _, want := range []string{`spec-url="api/openapi.json"`, `src="docs/redoc.standalone.js"`} {
		if !strings.Contains(html, want) {
			t.Errorf("/docs lacks %s", want)
		}
	}
	// Nothing from elsewhere: no absolute URL in the page, and a policy that
	// forbids loading any.
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") || strings.Contains(html, "//cdn") {
		t.Errorf("/docs refers to another site: %s", html)
	}
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/docs Content-Security-Policy %q lacks %q", csp, want)
		}
	}

	script := callAt(t, base, http.MethodGet, "/docs/redoc.standalone.js", nil)
	if script.Status != http.StatusOK || !strings.HasPrefix(script.Header.Get("Content-Type"), "text/javascript") ||
		len(script.Raw) < 500_000 || !strings.Contains(string(script.Raw[:2000]), "Redoc") {
		t.Fatalf("script: %d %s, %d bytes", script.Status, script.Header.Get("Content-Type"), len(script.Raw))
	}
	if script.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("the script is served without nosniff")
	}
}

// TestOpenAPISecurityFollowsPublicRoutes: the document served says which
// operations this server opens without a key (its PUBLIC_ROUTES, or every
// one when it has no key), not the defaults the file marks.
func TestOpenAPISecurityFollowsPublicRoutes(t *testing.T) {
	security := func(t *testing.T, base string) map[string]string {
		t.Helper()
		r := callAt(t, base, http.MethodGet, "/api/openapi.json", nil)
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(r.Raw, &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for path, item := range doc.Paths {
			for method, raw := range item {
				var op struct {
					Security json.RawMessage `json:"security"`
				}
				var compact bytes.Buffer
				if json.Unmarshal(raw, &op) == nil && (len(op.Security) == 0 || json.Compact(&compact, op.Security) == nil) {
					out[strings.ToUpper(method)+" "+path] = compact.String()
				}
			}
		}
		return out
	}
	const optional, required, none = `[{},{"bearerAuth":[]},{"apiKey":[]}]`, ``, `[]`

	keyed := security(t, keyedAPI(t, []string{"/api/products/{id}", "/api/workflows"}, nil))
	for op, want := range map[string]string{
		"GET /api/products/{id}":          optional,
		"GET /api/workflows":              optional,
		"POST /api/workflows":             required, // admin: never public
		"GET /api/products":               required,
		"GET /health":                     required,
		"POST /api/orders/process":        required,
		"GET /api/openapi.json":           none,
		"GET /docs":                       none,
		"POST /codec/decode":              `[{"bearerAuth":[]}]`,
		"GET /api/executions":             required,
		"GET /api/workflows/{id}":         required,
		"POST /api/users/register":        required,
		"GET /api/schema/definition.json": none,
	} {
		if got := keyed[op]; got != want {
			t.Errorf("with keys: %s security %s, want %q", op, got, want)
		}
	}

	o, _ := testOptions(t)
	open := security(t, serve(t, o))
	for _, op := range []string{"POST /api/workflows", "GET /api/workflows/statistics", "GET /api/executions"} {
		if got := open[op]; got != optional {
			t.Errorf("without keys: %s security %s, want %s", op, got, optional)
		}
	}
}
