// Package api is the HTTP surface of the workflow backend: it
// registers and reads graph definitions, starts executions of the interpreter
// workflow and reports on them. It holds no execution state: Temporal does.
//
// Every route is listed in routes.go. Successes are
//
//	{"success": true, "data": …}
//
// and every error goes through one error handler (errors.go) that renders
//
//	{"success": false, "error": {"code", "message", "details"}}
//
// and never sends internal error text (Temporal, database) to a client: it
// logs it with the request id (X-Request-Id) and answers "internal error".
// details is always a list. An error about an execution also carries
// "executionId", "runId" and "uiUrl" in the error object, next to
// code/message/details, so details keep one shape per code.
//
// Handlers reach Temporal and the database through small interfaces
// (Executions, Schedules, Store), so that their tests run over fakes; api/e2e tests
// the whole over a real Temporal server. GET /health is the exception to the envelope:
// probes read {"status", "checks"} as it is.
package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/metrics"
	"github.com/workflow-backend/workflow-backend/internal/resultcache"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// definitionCacheSize is the number of parsed definitions kept in memory
// when Options.CacheSize is not set.
const definitionCacheSize = 1024

// Store is the API's database: the registered definitions and the
// products the shipped order definition sells. *store.Store is one.
type Store interface {
	definitionStore
	productStore
	Ping(ctx context.Context) error
}

var _ Store = (*store.Store)(nil)

// Options configure the API. Client, Store and Registry are required;
// every other field is optional, and a zero value takes the default of its
// environment variable (internal/config), so each default is written once.
type Options struct {
	// Client is what the API starts, queries, signals, cancels and lists
	// executions with: a Temporal client. Required.
	Client Executions
	// Schedules creates and manages the Temporal Schedules of the schedule
	// routes (schedules.go). Default: Client's ScheduleClient() when Client
	// is a client.Client; required otherwise.
	Schedules Schedules
	// Store holds the registered definitions and the products. Required.
	Store Store
	// Registry is the set of node types definitions are validated against;
	// it must be the one the workers run. Required.
	Registry *interpreter.Registry
	// Exprs compiles the definitions' CEL expressions at registration.
	// nil skips expression checks (tests only: a definition with a broken
	// expression would then fail at run time).
	Exprs interpreter.ExprChecker
	// Tester runs POST /api/workflows/test (testmode.go). Default: a
	// testmode.Engine on Registry when Exprs is an *expr.Env; nil
	// otherwise, and the route answers 503.
	Tester Tester
	// ExprCache is the compiled-expression cache GET
	// /api/workflows/statistics reports on (the *expr.Env of this process);
	// nil reports cacheStats as null.
	ExprCache ExprCache
	// Evaluator evaluates the cache keys of definitions that opt into the
	// result cache (an *expr.Env); nil runs them uncached.
	Evaluator Evaluator
	// ResultCacheEntries and ResultCacheBytes bound the result cache
	// (RESULT_CACHE_MAX_ENTRIES, RESULT_CACHE_MAX_BYTES).
	ResultCacheEntries int
	ResultCacheBytes   int64
	// Metrics receives the HTTP request metrics and is served on GET
	// /metrics with the Temporal client's metrics; nil serves no /metrics.
	Metrics *metrics.Metrics
	// TaskQueue is the task queue of the interpreter workflow (TASK_QUEUE).
	TaskQueue string
	// Namespace is the Temporal namespace of Client, used in uiUrl links
	// (TEMPORAL_NAMESPACE).
	Namespace string
	// UIBaseURL is the base of the Temporal Web UI, e.g.
	// http://127.0.0.1:8233; "" means responses carry no uiUrl.
	UIBaseURL string
	// EagerStart says a worker for TaskQueue runs in this process on Client,
	// so executions are started with StartWorkflowOptions.EnableEagerStart
	// (the first workflow task runs here without a round trip through
	// matching).
	EagerStart bool
	// DefaultWait is how long an execute waits for the result when the
	// request has no ?wait=; 0 answers 202 at once, so it is a pointer: nil
	// means EXECUTE_WAIT_DEFAULT's default.
	DefaultWait *time.Duration
	// MaxWait clamps ?wait= (EXECUTE_WAIT_MAX).
	MaxWait time.Duration
	// BodyLimit is the largest request body accepted, in bytes; larger
	// bodies get 413 (MAX_BODY_BYTES).
	BodyLimit int64
	// AllowedOrigins are browser origins (https://app.example.com) whose
	// pages may call the API's mutating routes; pages of any other origin
	// are refused (crosssite.go). Default: none besides the API's own.
	AllowedOrigins []string
	// Memory tells the API when the process is short of memory: new
	// executions are then refused with 503 (memory.go); nil never refuses.
	Memory MemoryGuard
	// HistoryBudget is the most history, in bytes, an execution may be
	// estimated to need when it starts (see checkHistoryBudget); a larger
	// input gets 413 history_budget_exceeded (HISTORY_BUDGET_BYTES).
	HistoryBudget int
	// RunBudget is carried in every execution's input: when one of its
	// runs continues as new besides Temporal's own suggestion (see
	// interpreter.RunBudget; RUN_HISTORY_EVENTS, RUN_HISTORY_BYTES).
	// Optional: nil means the interpreter's defaults. Tests set it low to
	// cross run boundaries quickly.
	RunBudget *interpreter.RunBudget
	// CacheSize is the number of parsed definitions (and compiled input
	// schemas) kept, keyed by (id, version). Default 1024.
	CacheSize int
	// PaymentMethodRequired makes the order route require a
	// paymentMethodId: set it when a real payment provider is configured
	// (dev mode's fake provider takes a test token).
	PaymentMethodRequired bool
	// APIKeys are the client keys and AdminAPIKeys the admin keys (see
	// auth.go for what each may do; the admin keys also open the codec
	// endpoints, codec.go). With neither, every route is open and New logs
	// a warning.
	APIKeys      []APIKey
	AdminAPIKeys []APIKey
	// PublicRoutes are route paths ("/api/products/:id" or
	// "/api/products/{id}") open at client level without a key. Default:
	// none.
	PublicRoutes []string
	// RateLimitMax requests per RateLimitWindow are allowed per client IP;
	// more get 429 with Retry-After (RATE_LIMIT_MAX, RATE_LIMIT_WINDOW).
	RateLimitMax    int
	RateLimitWindow time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client IP. Default: none (the TCP peer is the client).
	TrustedProxies []netip.Prefix
	// Logger receives request logs and internal errors. Default
	// slog.Default().
	Logger *slog.Logger

	// PayloadCodec must be the codec of the Temporal client's data
	// converter: the API decodes memos with the default data converter
	// wrapped in it, and serves it on POST /codec/encode and /codec/decode
	// (the Temporal codec-server protocol) for the Web UI and the CLI's
	// --codec-endpoint. nil means encryption off (memos are decoded with
	// the default data converter, the codec endpoints serve the payloads
	// unchanged).
	PayloadCodec converter.PayloadCodec
	// CodecOIDC, when set, makes the codec endpoints accept OpenID Connect
	// tokens (ID tokens, or JWT access tokens) of that issuer and audience,
	// which the Web UI sends with codec.passAccessToken.
	CodecOIDC *OIDCOptions
	// CodecAllowLoopback lets any caller on a loopback address use the
	// codec endpoints without a token. Dev mode only.
	CodecAllowLoopback bool
	// CodecCORSOrigins are the browser origins (the Web UI's) allowed to
	// call the codec endpoints. Default: none.
	CodecCORSOrigins []string
}

// withDefaults checks o and fills every zero optional field: the defaults
// are internal/config's, the ones the processes read from the environment.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Client == nil:
		return o, errors.New("api: Client is required")
	case o.Store == nil:
		return o, errors.New("api: Store is required")
	case o.Registry == nil:
		return o, errors.New("api: Registry is required")
	}
	if o.Schedules == nil {
		if c, ok := o.Client.(interface{ ScheduleClient() client.ScheduleClient }); ok {
			o.Schedules = c.ScheduleClient()
		}
	}
	if env, ok := o.Exprs.(*expr.Env); ok && o.Tester == nil {
		o.Tester = &testmode.Engine{Registry: o.Registry, Exprs: env}
	}
	if o.Schedules == nil {
		return o, errors.New("api: Schedules is required when Client is not a client.Client")
	}
	d := config.Defaults()
	o.TaskQueue = cmp.Or(o.TaskQueue, d.TaskQueue)
	o.Namespace = cmp.Or(o.Namespace, d.TemporalNamespace)
	if o.DefaultWait == nil {
		o.DefaultWait = &d.WaitDefault
	}
	orDefault(&o.MaxWait, d.WaitMax)
	if *o.DefaultWait < 0 || *o.DefaultWait > o.MaxWait {
		return o, fmt.Errorf("api: DefaultWait %s is not between 0 and MaxWait %s", *o.DefaultWait, o.MaxWait)
	}
	orDefault(&o.BodyLimit, d.MaxBodyBytes)
	orDefault(&o.HistoryBudget, d.HistoryBudget)
	orDefault(&o.RateLimitMax, d.RateLimitMax)
	orDefault(&o.RateLimitWindow, d.RateLimitWindow)
	orDefault(&o.CacheSize, definitionCacheSize)
	orDefault(&o.ResultCacheEntries, d.ResultCacheEntries)
	orDefault(&o.ResultCacheBytes, int64(d.ResultCacheBytes))
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.UIBaseURL = strings.TrimRight(o.UIBaseURL, "/")
	return o, nil
}

// orDefault sets an unset (zero or negative) option to its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Server is the HTTP API. Create it with New.
type Server struct {
	// opts are the options New was given, checked and with their defaults.
	opts Options
	echo *echo.Echo
	// dc decodes memos: the default data converter with PayloadCodec.
	dc converter.DataConverter
	// allowedOrigins may call mutating routes from a browser (normalised
	// AllowedOrigins); allowedHosts are their host names.
	allowedOrigins []string
	allowedHosts   []string
	// loopbackOnly is set by Serve when it listens on a loopback address:
	// requests must then name a loopback host (crosssite.go).
	loopbackOnly atomic.Bool
	defs         *definitionCache
	results      *resultcache.Cache // outputs of cached definitions (cache.go)
	keys         *keyring
	limiter      *rateLimiter
	codec        codecAccess
	// shippedVersions maps the id of each shipped definition to the
	// version RegisterShippedDefinitions registered; their routes answer
	// 503 until then.
	shippedVersions map[string]string
	// defSchema is GET /api/schema/definition.json for Registry's node
	// types.
	defSchema []byte
	// guarded holds what each route behind the key guard requires
	// ("GET /api/products/:id"), and openAPIDoc is GET /api/openapi.json
	// with the security requirements they and PUBLIC_ROUTES make
	// (describe.go).
	guarded    map[string]access
	openAPIDoc []byte
	// testRuns bounds the test-mode runs in progress (testmode.go).
	testRuns chan struct{}
}

// New checks o, fills its defaults and builds the routes.
func New(o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	dc := converter.GetDefaultDataConverter()
	if o.PayloadCodec != nil {
		dc = converter.NewCodecDataConverter(dc, o.PayloadCodec)
	}
	keys, err := newKeyring(o.APIKeys, o.AdminAPIKeys, o.PublicRoutes)
	if err != nil {
		return nil, err
	}
	defs, err := newDefinitionCache(o.CacheSize)
	if err != nil {
		return nil, err
	}
	defSchema, err := interpreter.DefinitionSchema(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("api: definition schema: %w", err)
	}
	s := &Server{
		defSchema:       defSchema,
		opts:            o,
		echo:            echo.New(),
		dc:              dc,
		allowedOrigins:  trimOrigins(o.AllowedOrigins),
		allowedHosts:    originHosts(o.AllowedOrigins),
		defs:            defs,
		results:         resultcache.New(o.ResultCacheEntries, o.ResultCacheBytes),
		keys:            keys,
		limiter:         newRateLimiter(o.RateLimitMax, o.RateLimitWindow),
		codec:           newCodecAccess(o),
		shippedVersions: map[string]string{},
		guarded:         map[string]access{},
		testRuns:        make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
	}
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.IPExtractor = ipExtractor(o.TrustedProxies)
	s.routes()
	if s.openAPIDoc, err = s.describedOpenAPI(); err != nil {
		return nil, err
	}
	s.warnAboutAccess(o.PublicRoutes)
	return s, nil
}
