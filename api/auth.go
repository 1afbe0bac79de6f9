package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// Access model (README "Access"):
//
//   - Client keys (API_KEYS) may read definitions, execute them and the
//     shipped definitions' routes, read the products, read, signal and
//     cancel the executions they started, and manage the schedules they
//     created (schedules.go).
//   - Admin keys (ADMIN_API_KEYS) may also register definitions, read,
//     signal and cancel every execution and manage every schedule.
//   - Public routes (PUBLIC_ROUTES) are open at client level to callers
//     without a key, who are all the anonymous caller; admin-only routes
//     are never public.
//   - With no key configured at all, every route is open and the anonymous
//     caller acts as an admin (the behaviour before keys existed).
//
// A key's name is the caller's identity: it scopes Idempotency-Keys and is
// recorded on every execution the caller starts (search attribute
// interpreter.SearchAttrCaller); another caller's execution is 404, not
// 403, so its existence is not revealed.

// APIKey is a caller's key: Name identifies the caller, Secret is what it
// sends as "Authorization: Bearer <secret>" or "X-API-Key: <secret>".
type APIKey struct {
	Name   string
	Secret string
}

// AnonymousCaller is the identity of a request without a key.
const AnonymousCaller = config.AnonymousCaller

// Error codes of access control (append only, like the others).
const (
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
)

const headerAPIKey = "X-API-Key"

// access is what a route requires of its caller.
type access int

const (
	accessClient access = iota // any valid key, or none on a public route
	accessAdmin                // an admin key
)

// caller is who makes a request, as the auth middleware found it.
type caller struct {
	name string
	// admin callers see every execution.
	admin bool
}

// storedKey is a configured key; only the SHA-256 of its secret is kept,
// so every comparison is over 32 bytes whatever the lengths.
type storedKey struct {
	caller
	hash [sha256.Size]byte
}

// keyring holds the configured keys and public routes.
type keyring struct {
	keys   []storedKey
	public map[string]bool
}

const callerContextKey = "workflow-backend.caller"

func newKeyring(client, admin []APIKey, public []string) (*keyring, error) {
	k := &keyring{public: map[string]bool{}}
	names := map[string]bool{}
	for _, list := range []struct {
		keys  []APIKey
		admin bool
	}{{client, false}, {admin, true}} {
		for _, key := range list.keys {
			switch {
			// problem.CallerName keeps names safe to put in a visibility query.
			case !problem.CallerName.Valid(key.Name) || strings.EqualFold(key.Name, AnonymousCaller):
				return nil, fmt.Errorf("api: API key name %q is not allowed", key.Name)
			case names[key.Name]:
				return nil, fmt.Errorf("api: API key name %q is used twice", key.Name)
			case key.Secret == "":
				return nil, fmt.Errorf("api: API key %q has an empty secret", key.Name)
			}
			names[key.Name] = true
			k.keys = append(k.keys, storedKey{caller: caller{name: key.Name, admin: list.admin}, hash: sha256.Sum256([]byte(key.Secret))})
		}
	}
	for _, r := range public {
		k.public[normalizeRoute(r)] = true
	}
	return k, nil
}

// enabled says whether any key is configured; without one every route is open.
func (k *keyring) enabled() bool { return len(k.keys) > 0 }

// lookup finds the key whose secret is presented. It compares against
// every key, in constant time each, so that the time taken says nothing
// about which key (if any) nearly matched.
func (k *keyring) lookup(secret string) (caller, bool) {
	h := sha256.Sum256([]byte(secret))
	var found caller
	match := 0
	for _, key := range k.keys {
		if subtle.ConstantTimeCompare(h[:], key.hash[:]) == 1 {
			found = key.caller
			match = 1
		}
	}
	return found, match == 1
}

// normalizeRoute turns the README's {id} notation into Echo's :id.
var braceParam = regexp.MustCompile(`\{([^}/]+)\}`)

func normalizeRoute(r string) string {
	return braceParam.ReplaceAllString(strings.TrimSpace(r), ":$1")
}

// bearerToken extracts the token of an Authorization header "Bearer
// <token>" (scheme case-insensitive). The API-key guard and the codec
// endpoints both read it.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// presentedSecret reads the key from Authorization: Bearer or X-API-Key.
// present is false when neither header is sent; an Authorization header of
// another scheme, or two different keys, is malformed (ok false).
func presentedSecret(h http.Header) (secret string, present, ok bool) {
	var bearer string
	if auth := h.Get(echo.HeaderAuthorization); auth != "" {
		token, found := bearerToken(auth)
		if !found {
			return "", true, false
		}
		bearer = token
	}
	apiKey := strings.TrimSpace(h.Get(headerAPIKey))
	switch {
	case bearer != "" && apiKey != "" && bearer != apiKey:
		return "", true, false
	case bearer != "":
		return bearer, true, true
	case apiKey != "":
		return apiKey, true, true
	}
	return "", false, true
}

// errUnauthorized never says whether the key presented exists.
func errUnauthorized() *appError {
	return newError(http.StatusUnauthorized, codeUnauthorized,
		"a valid API key is required: send it as Authorization: Bearer <key> or X-API-Key: <key>")
}

func errForbidden() *appError {
	return newError(http.StatusForbidden, codeForbidden, "this API key may not use this route")
}

// guard is the per-route middleware that authenticates the caller and
// checks it may use a route of path with the given access. It is added
// route by route (routes.go), so routes that bring their own
// authentication (the codec endpoints) are not affected.
func (s *Server) guard(path string, need access) echo.MiddlewareFunc {
	public := s.keys.public[path] && need == accessClient
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !s.keys.enabled() {
				c.Set(callerContextKey, caller{name: AnonymousCaller, admin: true})
				return next(c)
			}
			secret, present, ok := presentedSecret(c.Request().Header)
			switch {
			case !ok:
				return s.unauthorized(c)
			case !present && public:
				c.Set(callerContextKey, caller{name: AnonymousCaller})
				return next(c)
			case !present:
				return s.unauthorized(c)
			}
			// A key sent to a public route is checked too: a client with a
			// wrong key learns it at once, and a right one is its identity.
			who, found := s.keys.lookup(secret)
			if !found {
				return s.unauthorized(c)
			}
			if need == accessAdmin && !who.admin {
				return errForbidden()
			}
			c.Set(callerContextKey, who)
			return next(c)
		}
	}
}

func (s *Server) unauthorized(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="workflow-backend"`)
	return errUnauthorized()
}

// callerOf is the caller the guard put on the request. A route without a
// guard (none today) would be the anonymous caller without privileges.
func callerOf(c echo.Context) caller {
	if who, ok := c.Get(callerContextKey).(caller); ok {
		return who
	}
	return caller{name: AnonymousCaller}
}

// caller names who makes the request, to scope idempotency keys.
func (s *Server) caller(c echo.Context) string { return callerOf(c).name }
