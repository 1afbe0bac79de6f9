package api

import (
	"net/http"

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

// openAPI is GET /api/openapi.json (api/apidoc/openapi.yaml, as JSON).
func (s *Server) openAPI(c echo.Context) error {
	doc, err := apidoc.OpenAPI()
	if err != nil {
		return internalError(err, "OpenAPI document")
	}
	return c.JSONBlob(http.StatusOK, doc)
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
