package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// On a loopback listener, a request must name a loopback host: a page on
// a name rebound to 127.0.0.1 is refused, reads included.
func TestLoopbackHostGuard(t *testing.T) {
	s := &Server{echo: echo.New(), opts: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		allowedHosts: originHosts([]string{"https://dev.example.com"})}
	s.loopbackOnly.Store(true)
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.Use(s.crossSiteGuard())
	s.echo.GET("/api/executions", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for host, want := range map[string]int{
		"127.0.0.1:3000": 204, "localhost:3000": 204, "LOCALHOST": 204, "[::1]:3000": 204, "127.8.9.10": 204,
		"dev.example.com": 204, "evil.example:3000": 403, "10.0.0.5:3000": 403, "localhost.evil.example": 403,
	} {
		req := httptest.NewRequest("GET", "http://x/api/executions", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		s.echo.ServeHTTP(rec, req)
		if rec.Code != want || (want == 403 && !strings.Contains(rec.Body.String(), codeHostNotAllowed)) {
			t.Errorf("Host %s: %d %s, want %d", host, rec.Code, rec.Body, want)
		}
	}
}

func TestCrossSiteGuard(t *testing.T) {
	s := &Server{echo: echo.New(), opts: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		allowedOrigins: trimOrigins([]string{"https://shop.example.com/"})}
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.Use(s.crossSiteGuard())
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	s.echo.POST("/api/workflows", ok)
	s.echo.POST("/api/executions/:id/cancel", ok)
	s.echo.GET("/api/workflows", ok)
	s.echo.POST("/codec/decode", ok)

	json := "application/json"
	for _, tt := range []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
	}{
		{"curl with JSON", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json}, 204},
		{"JSON with a charset", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": "application/json; charset=utf-8"}, 204},
		{"no body, no type", "POST", "/api/executions/x/cancel", "", nil, 204},
		{"text/plain", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": "text/plain"}, 415},
		{"a form", "POST", "/api/workflows", "a=1", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"multipart", "POST", "/api/workflows", "--x--", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415},
		{"a body without a type", "POST", "/api/workflows", "{}", nil, 415},
		{"a foreign page", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Origin": "https://evil.example"}, 403},
		{"a foreign page, no body", "POST", "/api/executions/x/cancel", "", map[string]string{"Origin": "https://evil.example"}, 403},
		{"a sandboxed page", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Origin": "null"}, 403},
		{"another port of localhost", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Origin": "http://localhost:5173"}, 403},
		{"cross-site without Origin", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site without Origin", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Sec-Fetch-Site": "same-site"}, 403},
		{"same-origin without Origin", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Sec-Fetch-Site": "same-origin"}, 204},
		{"an allowed origin", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Origin": "https://shop.example.com"}, 204},
		{"the API's own origin", "POST", "/api/workflows", "{}", map[string]string{"Content-Type": json, "Origin": "http://api.test"}, 204},
		{"reads are not affected", "GET", "/api/workflows", "", map[string]string{"Origin": "https://evil.example"}, 204},
		{"the codec has its own rules", "POST", "/codec/decode", "{}", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, 204},
	} {
		req := httptest.NewRequest(tt.method, "http://api.test"+tt.path, strings.NewReader(tt.body))
		if tt.body == "" {
			req.Body = http.NoBody
			req.ContentLength = 0
		}
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.echo.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
		if tt.want == 403 && !strings.Contains(rec.Body.String(), codeOriginNotAllowed) ||
			tt.want == 415 && !strings.Contains(rec.Body.String(), codeUnsupportedMediaType) {
			t.Errorf("%s: body %s", tt.name, rec.Body)
		}
	}
}
