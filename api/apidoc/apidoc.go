// Package apidoc holds the API's description: the OpenAPI document
// (openapi.yaml, served as JSON on GET /api/openapi.json) and the page that
// draws it on GET /docs, with the one script it needs (Redoc's standalone
// bundle, vendored under docs/ with its licences: no CDN, no bundler).
//
// It is a package of its own so that both the API, which serves it, and the
// shared test helpers (api/apitest), which validate every response the tests
// receive against it, can import it.
package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// DocsPage is the HTML of GET /docs.
//
//go:embed docs/index.html
var DocsPage []byte

// RedocScript is Redoc's standalone bundle (docs/redoc.standalone.js,
// redoc 2.5.4 from npm; licences next to it), GET /docs/redoc.standalone.js.
//
//go:embed docs/redoc.standalone.js
var RedocScript []byte

// DocsContentSecurityPolicy is the policy of the docs page and its script:
// everything from the API itself, nothing from elsewhere. Redoc writes its
// styles at run time (inline style elements) and runs its search index in
// a worker made from a blob.
const DocsContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// setsKey holds the response sets the operations merge in with YAML's <<;
// they are resolved when the YAML is read, so the JSON leaves them out.
const setsKey = "x-response-sets"

// OpenAPI is the OpenAPI document as JSON, converted from openapi.yaml once.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("apidoc: openapi.yaml: %w", err)
	}
	delete(doc, setsKey)
	if err := checkKeys(doc, ""); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("apidoc: openapi.yaml as JSON: %w", err)
	}
	return buf.Bytes(), nil
})

// checkKeys reports a mapping whose keys are not all strings (an unquoted
// 200 in the YAML), which JSON cannot carry.
func checkKeys(v any, at string) error {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if err := checkKeys(child, at+"/"+k); err != nil {
				return err
			}
		}
	case map[any]any:
		return fmt.Errorf("apidoc: openapi.yaml%s: every key must be a string (quote status codes: \"200\")", at)
	case []any:
		for i, child := range v {
			if err := checkKeys(child, fmt.Sprintf("%s/%d", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
