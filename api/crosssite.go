package api

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Codes of the cross-site guard.
const (
	// codeOriginNotAllowed answers a browser request from a page of
	// another origin.
	codeOriginNotAllowed = "origin_not_allowed"
	// codeHostNotAllowed answers a request to a loopback listener that
	// names another host (DNS rebinding).
	codeHostNotAllowed = "host_not_allowed"
)

// crossSiteGuard stops web pages from driving the API through a visitor's
// browser (cross-site request forgery). It matters most in open mode (no
// API keys, dev mode's default): any page the developer opens could
// otherwise register and run definitions on their 127.0.0.1 API. Two rules,
// for every request that can change something (POST, PUT, PATCH, DELETE;
// the codec endpoints have their own CORS list and change nothing):
//
//   - A body must be JSON (Content-Type application/json), else 415. A page
//     can send text/plain, form or multipart bodies to any site without
//     asking; application/json needs a CORS preflight, which the API never
//     grants. A request without a body (cancel) needs no Content-Type.
//   - A browser says where the request comes from: the Origin header, or
//     Sec-Fetch-Site when it sends no Origin. Another origin is refused
//     with 403 unless ALLOWED_ORIGINS lists it; the API's own origin (a page
//     it serves) is allowed. Clients that are not browsers (curl, SDKs,
//     other services) send neither header and are not affected.
//
// DNS rebinding defeats both rules: a page on a name the attacker points at
// 127.0.0.1 is, to the browser, the API's own origin, for reads too. So an
// API listening on loopback only (dev mode's default) answers only requests
// addressed to localhost, a loopback address or an ALLOWED_ORIGINS host.
func (s *Server) crossSiteGuard() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if s.loopbackOnly.Load() && !s.loopbackHost(req.Host) {
				return newError(http.StatusForbidden, codeHostNotAllowed,
					"this API listens on loopback and answers requests to localhost, 127.0.0.1 or [::1] only (ALLOWED_ORIGINS adds hosts)")
			}
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(c)
			}
			if strings.HasPrefix(req.URL.Path, "/codec/") {
				return next(c)
			}
			if err := s.checkOrigin(req); err != nil {
				return err
			}
			if hasBody(req) && !isJSON(req.Header.Get(echo.HeaderContentType)) {
				return newError(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
					"send the body as JSON with Content-Type: application/json")
			}
			return next(c)
		}
	}
}

func (s *Server) checkOrigin(req *http.Request) error {
	refuse := func(from string) error {
		return newError(http.StatusForbidden, codeOriginNotAllowed,
			"requests from web pages of "+from+" are not allowed (ALLOWED_ORIGINS lists the origins that are)")
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		// Browsers that send no Origin still say whether the request is
		// cross-site; same-site is another port or subdomain of the same
		// site (a dev server on localhost:5173), another origin too.
		switch req.Header.Get("Sec-Fetch-Site") {
		case "cross-site", "same-site":
			return refuse("another site")
		}
		return nil
	}
	if slices.Contains(s.allowedOrigins, strings.TrimRight(origin, "/")) {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || origin == "null" || u.Host == "" {
		return refuse("an unknown origin")
	}
	if strings.EqualFold(u.Host, req.Host) {
		return nil // a page the API serves itself
	}
	return refuse(origin)
}

// loopbackHost says whether a Host header names this machine's loopback
// (or a host of ALLOWED_ORIGINS).
func (s *Server) loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	return slices.ContainsFunc(s.allowedHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// hasBody says whether the request carries a body.
func hasBody(req *http.Request) bool {
	return req.ContentLength > 0 || (req.ContentLength < 0 && req.Body != nil && req.Body != http.NoBody)
}

// isJSON accepts application/json, with parameters (charset=utf-8).
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == echo.MIMEApplicationJSON
}

// originHosts are the host names of origins, which a loopback listener
// answers besides its own names.
func originHosts(origins []string) []string {
	var hosts []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}

// trimOrigins drops trailing slashes, so "https://a.example/" matches the
// Origin header "https://a.example".
func trimOrigins(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		out = append(out, strings.TrimRight(strings.TrimSpace(o), "/"))
	}
	return out
}
