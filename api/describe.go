package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/api/apidoc"
)

// The routes that describe the API: the OpenAPI document, the JSON Schema of
// a definition and the page that draws the document. They are public
// whatever the keys and PUBLIC_ROUTES say (they reveal no caller's data, and
// a browser opening /docs sends no key), so they are added without the
// guard of route(); the rate limit, the body limit and the cross-site
// guard apply as to every route.
func (s *Server) describeRoutes() {
	s.echo.GET("/api/openapi.json", s.openAPI)
	s.echo.GET("/api/schema/definition.json", s.definitionSchema)
	s.echo.GET("/docs", s.docsPage)
	s.echo.GET("/docs/redoc.standalone.js", s.docsScript)
}

// openAPI is GET /api/openapi.json (describedOpenAPI).
func (s *Server) openAPI(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, s.openAPIDoc)
}

// describedOpenAPI is api/apidoc/openapi.yaml as JSON, with each guarded
// operation's security requirement as this server's keys and PUBLIC_ROUTES
// make it: optional (an empty requirement among the schemes) on a public
// route, or on every route when no key is configured; the document's
// required default otherwise. The file marks the default PUBLIC_ROUTES.
func (s *Server) describedOpenAPI() ([]byte, error) {
	raw, err := apidoc.OpenAPI()
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("api: OpenAPI document: %w", err)
	}
	if err := json.Unmarshal(doc["paths"], &paths); err != nil {
		return nil, fmt.Errorf("api: OpenAPI document paths: %w", err)
	}
	optional := []map[string][]string{{}, {"bearerAuth": {}}, {"apiKey": {}}}
	for path, item := range paths {
		for method, rawOp := range item {
			need, guarded := s.guarded[strings.ToUpper(method)+" "+normalizeRoute(path)]
			if !guarded {
				continue // parameters, or a route with its own access (codec, description)
			}
			var op map[string]json.RawMessage
			if err := json.Unmarshal(rawOp, &op); err != nil {
				return nil, fmt.Errorf("api: OpenAPI document %s %s: %w", method, path, err)
			}
			delete(op, "security") // the document's default: a key
			if !s.keys.enabled() || (need == accessClient && s.keys.public[normalizeRoute(path)]) {
				op["security"], _ = json.Marshal(optional)
			}
			if item[method], err = json.Marshal(op); err != nil {
				return nil, err
			}
		}
	}
	if doc["paths"], err = json.Marshal(paths); err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
}

// definitionSchema is GET /api/schema/definition.json: the JSON Schema of a
// definition for the node types of this server's registry
// (interpreter.DefinitionSchema), built once by New.
func (s *Server) definitionSchema(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/schema+json", s.defSchema)
}

// docsPage is GET /docs. The page and its script are served with a content
// security policy that lets them load nothing from elsewhere.
func (s *Server) docsPage(c echo.Context) error {
	docsHeaders(c)
	return c.HTMLBlob(http.StatusOK, apidoc.DocsPage)
}

// docsScript is GET /docs/redoc.standalone.js.
func (s *Server) docsScript(c echo.Context) error {
	docsHeaders(c)
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", apidoc.RedocScript)
}

func docsHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", apidoc.DocsContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
