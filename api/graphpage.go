package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/api/ui"
)

// graphPageRoutes are the graph page's (package ui): GET /ui/ (definitions
// and recent executions), /ui/workflows/{id} (a definition drawn; ?version=
// for another than the latest), /ui/executions/{executionId} (an execution
// drawn with its nodes' live statuses) and the page's assets. Like /docs
// they are public whatever the keys say: the HTML and scripts hold no
// data, which the page's script reads through the API's routes with the
// key the user enters, so every access rule still applies.
func (s *Server) graphPageRoutes() {
	s.echo.GET("/ui", func(c echo.Context) error {
		// Relative, so that it works behind a path prefix too.
		return c.Redirect(http.StatusMovedPermanently, "ui/")
	})
	s.echo.GET("/ui/", s.graphPage(0))
	s.echo.GET("/ui/workflows/:id", s.graphPage(1))
	s.echo.GET("/ui/executions/:executionId", s.graphPage(1))
	s.echo.GET("/ui/assets/:name", s.graphPageAsset)
}

// graphPage serves the page at depth path segments below /ui/ (the path
// parameters are not used here: the script reads them from its URL).
func (s *Server) graphPage(depth int) echo.HandlerFunc {
	html, err := ui.Page(depth)
	return func(c echo.Context) error {
		if err != nil {
			return internalError(err, "render the graph page")
		}
		graphPageHeaders(c)
		return c.HTMLBlob(http.StatusOK, html)
	}
}

// graphPageAsset is GET /ui/assets/{name}: graph.js, graph.css and
// dagre.min.js; any other name is 404.
func (s *Server) graphPageAsset(c echo.Context) error {
	content, contentType, found := ui.Asset(c.Param("name"))
	if !found {
		return echo.ErrNotFound
	}
	graphPageHeaders(c)
	return c.Blob(http.StatusOK, contentType, content)
}

func graphPageHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", ui.ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
