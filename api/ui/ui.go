// Package ui holds the graph page: the HTML, script and style the API
// serves under /ui/ (api/graphpage.go), and the one library they use,
// @dagrejs/dagre's single minified file (assets/dagre.min.js, 3.1.3 from
// npm, unmodified, sha256 54a503e3…b578; MIT, assets/dagre.LICENSE), which
// lays the graph out. No CDN, no node_modules, no bundler: every file is
// embedded in the binary.
//
// The page holds no data: its script reads the definitions and executions
// through the API routes (GET /api/workflows…, GET /api/executions…) with
// their access rules, sending the API key the user entered once (kept in
// sessionStorage, sent as X-API-Key, never in a URL).
package ui

import (
	"bytes"
	"embed"
	"html/template"
)

//go:embed index.html
var pageHTML string

//go:embed assets/graph.js assets/graph.css assets/dagre.min.js
var assets embed.FS

// page is index.html; Root is the relative path from the page's URL to the
// API's root, so that the page works behind a path prefix.
var page = template.Must(template.New("ui").Parse(pageHTML))

// ContentSecurityPolicy is the policy of the page and its assets:
// scripts, styles and fetches from the API itself only, nothing inline.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Page renders the page for a URL depth levels below /ui/ (0 for /ui/,
// 2 for /ui/executions/{id}). The script reads which view to draw from
// location.pathname.
func Page(depth int) ([]byte, error) {
	root := "../"
	for range depth {
		root += "../"
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ Root string }{root}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Asset is the file name under assets/ (graph.js, graph.css, dagre.min.js)
// and its content type; ok is false for any other name.
func Asset(name string) (content []byte, contentType string, ok bool) {
	types := map[string]string{
		"graph.js":     "text/javascript; charset=utf-8",
		"dagre.min.js": "text/javascript; charset=utf-8",
		"graph.css":    "text/css; charset=utf-8",
	}
	contentType, ok = types[name]
	if !ok {
		return nil, "", false
	}
	content, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, "", false
	}
	return content, contentType, true
}
