package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

// dagreSHA256 is the checksum of api/ui/assets/dagre.min.js as npm ships it
// in @dagrejs/dagre 3.1.3 (npm pack @dagrejs/dagre@3.1.3).
const dagreSHA256 = "54a503e346f93ca0bb10abe7999587e037262935687aca45eb4e4b0f64bbb578"

// TestGraphPageRoutes fetches the graph page's HTML and assets without a key
// on an API that requires one (they hold no data), and checks that they load
// nothing from elsewhere, under a strict content security policy, with the
// relative links that fit each page's depth. The page drawn in a browser is
// tested in api/e2e (TestGraphPage).
func TestGraphPageRoutes(t *testing.T) {
	base := keyedAPI(t, nil, nil)
	for path, root := range map[string]string{
		"/ui/":                            "../",
		"/ui/workflows/approval":          "../../",
		"/ui/executions/some-execution.x": "../../",
	} {
		page := callAt(t, base, http.MethodGet, path, nil)
		if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, page.Status, page.Header.Get("Content-Type"))
		}
		html := string(page.Raw)
		for _, want := range []string{`data-root="` + root + `"`, `src="` + root + `ui/assets/dagre.min.js"`,
			`src="` + root + `ui/assets/graph.js"`, `href="` + root + `ui/assets/graph.css"`} {
			if !strings.Contains(html, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
		if strings.Contains(html, "http://") || strings.Contains(html, "https://") || strings.Contains(html, "//cdn") {
			t.Errorf("%s refers to another site: %s", path, html)
		}
		csp := page.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s Content-Security-Policy %q allows inline code", path, csp)
		}
	}

	// /ui redirects, relatively, to /ui/.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(base + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "ui/" {
		t.Errorf("/ui: %d to %q, want 301 to ui/", res.StatusCode, res.Header.Get("Location"))
	}

	for name, contentType := range map[string]string{
		"graph.js": "text/javascript", "graph.css": "text/css", "dagre.min.js": "text/javascript",
	} {
		r := callAt(t, base, http.MethodGet, "/ui/assets/"+name, nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), contentType) || len(r.Raw) < 1000 {
			t.Errorf("%s: %d %s, %d bytes", name, r.Status, r.Header.Get("Content-Type"), len(r.Raw))
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s is served without nosniff", name)
		}
		if name == "dagre.min.js" {
			if sum := sha256.Sum256(r.Raw); hex.EncodeToString(sum[:]) != dagreSHA256 {
				t.Errorf("dagre.min.js is not @dagrejs/dagre 3.1.3's file (sha256 %x)", sum)
			}
		}
	}
	// Only the page's own files; the licence and anything else are not served.
	for _, name := range []string{"dagre.LICENSE", "ui.go", "..%2fui.go", "index.html"} {
		if r := callAt(t, base, http.MethodGet, "/ui/assets/"+name, nil); r.Status != http.StatusNotFound {
			t.Errorf("/ui/assets/%s: %d, want 404", name, r.Status)
		}
	}
}
