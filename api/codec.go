package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// The codec-server endpoints (Temporal's remote codec protocol): the Web UI
// and `temporal --codec-endpoint http://…/codec` POST {"payloads": […]} to
// /codec/decode (or /codec/encode) and get the payloads back decoded. They
// hand out plain text, so every call must be authenticated: an admin key of
// Options.AdminAPIKeys as a bearer token (the CLI's --codec-auth "Bearer
// …"; client keys are refused, since decoding reveals every execution's
// payloads while a client key sees only its own executions), an OpenID
// Connect token of Options.CodecOIDC (the UI's passAccessToken), or, when
// Options.CodecAllowLoopback says so (dev mode), any caller on loopback.

// codecBodyLimit is the request body limit of the codec endpoints: the UI
// sends a page of history's payloads at once, and a single payload may be
// up to 2 MB (Temporal's limit).
const codecBodyLimit = 8 << 20

// OIDCOptions name the OpenID Connect provider whose tokens the codec
// endpoints accept.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL; its discovery document
	// (Issuer/.well-known/openid-configuration) names the signing keys.
	Issuer string
	// Audience must be in the token's aud claim (the UI's client id, or
	// the API audience of an access token).
	Audience string
	// HTTPClient fetches discovery and keys. Optional: default a client
	// with a 10 s timeout.
	HTTPClient *http.Client
}

// codecRoutes mounts /codec/encode and /codec/decode behind CORS and auth.
func (s *Server) codecRoutes() {
	g := s.echo.Group("/codec", s.codecCORS(), s.codecAuth)
	for _, path := range []string{"/encode", "/decode"} {
		g.POST(path, s.codecHandler(path == "/encode"))
		// Group middleware runs only on routes of the group: without an
		// OPTIONS route the router would answer the browser's preflight
		// itself, without CORS headers. The CORS middleware answers a
		// preflight before codecAuth runs (browsers send no credentials
		// with it).
		g.OPTIONS(path, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	}
}

// codecInvalidPayload answers a codec request whose payloads cannot be
// read or decoded.
const codeInvalidPayload = "invalid_payload"

// codecHandler encodes or decodes {"payloads": […]} (the protocol of the
// SDK's converter.NewPayloadCodecHTTPHandler, answered here so that a bad
// request gets the API's error envelope rather than the protobuf or
// cipher library's message). Encryption off: the payloads come back as
// they are, so a UI configured with the endpoint still works.
func (s *Server) codecHandler(encode bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(body, &in); err != nil {
			return newError(http.StatusBadRequest, codeInvalidPayload,
				`the body must be {"payloads": [...]}, Temporal payloads in their JSON form`).withCause(err)
		}
		out := in.GetPayloads()
		if s.codec.codec != nil {
			if encode {
				out, err = s.codec.codec.Encode(out)
			} else {
				out, err = s.codec.codec.Decode(out)
			}
			if err != nil {
				return newError(http.StatusBadRequest, codeInvalidPayload,
					"a payload could not be decoded: it was encrypted with a key this server does not hold, or it was altered").withCause(err)
			}
		}
		data, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			return internalError(err, "encode codec answer")
		}
		return c.JSONBlob(http.StatusOK, data)
	}
}

// codecCORS answers the browser's preflight for the UI's origins: the UI
// sends Content-Type: application/json, X-Namespace and, with
// passAccessToken, Authorization; with includeCredentials, cookies.
func (s *Server) codecCORS() echo.MiddlewareFunc {
	if len(s.codec.origins) == 0 {
		// Echo's CORS middleware would allow every origin ("*"): with no
		// origin configured, send no CORS headers and let browsers refuse.
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:     s.codec.origins,
		AllowMethods:     []string{http.MethodPost, http.MethodOptions},
		AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType, "X-Namespace"},
		AllowCredentials: true,
		MaxAge:           600,
	})
}

// codecAuth lets a request through when it carries an admin key or a
// valid OIDC token as a bearer token, or comes from loopback where allowed;
// else 401 with no detail of what was wrong.
func (s *Server) codecAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.codecAuthorized(c) {
			return next(c)
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="codec"`)
		return errCodecUnauthorized()
	}
}

// errCodecUnauthorized is the codec endpoints' 401. It is not
// errUnauthorized: those endpoints take no X-API-Key and no client key,
// and take OIDC tokens.
func errCodecUnauthorized() *appError {
	return newError(http.StatusUnauthorized, codeUnauthorized,
		"an admin API key (Authorization: Bearer <key>) or an OpenID Connect token is required")
}

func (s *Server) codecAuthorized(c echo.Context) bool {
	req := c.Request()
	if token, ok := bearerToken(req.Header.Get(echo.HeaderAuthorization)); ok {
		if who, found := s.keys.lookup(token); found && who.admin {
			return true
		}
		if s.codec.oidc != nil {
			if err := s.codec.oidc.verify(req.Context(), token); err == nil {
				return true
			} else if !errors.Is(err, context.Canceled) {
				s.opts.Logger.Debug("codec: OIDC token rejected", "request_id", requestID(c), "error", err)
			}
		}
	}
	// The TCP peer, never X-Forwarded-For: a header cannot make a remote
	// caller local.
	return s.codec.allowLoopback && isLoopback(req.RemoteAddr)
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// codecAccess is who may use the codec endpoints, next to the admin keys
// of Server.keys.
type codecAccess struct {
	codec         converter.PayloadCodec
	origins       []string
	allowLoopback bool
	oidc          *oidcVerifier
}

func newCodecAccess(o Options) codecAccess {
	a := codecAccess{codec: o.PayloadCodec, origins: o.CodecCORSOrigins, allowLoopback: o.CodecAllowLoopback}
	if o.CodecOIDC != nil {
		a.oidc = newOIDCVerifier(*o.CodecOIDC)
	}
	return a
}

// oidcVerifier checks tokens against an OIDC issuer. Discovery happens on
// first use, not at start-up, so the API starts while the provider is
// unreachable; a failed discovery is retried at most every
// oidcRetryInterval.
type oidcVerifier struct {
	opts OIDCOptions

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
	lastErr  error
}

const oidcRetryInterval = 10 * time.Second

func newOIDCVerifier(o OIDCOptions) *oidcVerifier {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &oidcVerifier{opts: o}
}

func (v *oidcVerifier) verify(ctx context.Context, token string) error {
	ver, err := v.get(ctx)
	if err != nil {
		return err
	}
	_, err = ver.Verify(ctx, token)
	return err
}

func (v *oidcVerifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.failedAt.IsZero() && time.Since(v.failedAt) < oidcRetryInterval {
		return nil, v.lastErr
	}
	// The provider keeps this context to fetch keys later: carry the HTTP
	// client, not the request's cancellation.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), v.opts.HTTPClient)
	provider, err := oidc.NewProvider(pctx, v.opts.Issuer)
	if err != nil {
		v.failedAt, v.lastErr = time.Now(), err
		return nil, err
	}
	v.verifier = provider.Verifier(&oidc.Config{ClientID: v.opts.Audience})
	return v.verifier, nil
}
