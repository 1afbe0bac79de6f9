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
// An error about an execution also carries "executionId", "runId" and
// "uiUrl" in the error object, next to code/message/details, so details
// keep one shape per code. GET /health is the exception to the envelope:
// probes read {"status", "checks"} as it is.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/internal/metrics"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Defaults of Options.
const (
	defaultWait      = 10 * time.Second
	defaultMaxWait   = 60 * time.Second
	defaultBodyLimit = 1 << 20 // 1 MiB
	// defaultRateLimitMax requests per defaultRateLimitWindow per client IP.
	defaultRateLimitMax    = 1000
	defaultRateLimitWindow = time.Second
	// defaultCacheSize is the number of parsed definitions kept in memory.
	defaultCacheSize = 1024
	// defaultHistoryBudget leaves room under Temporal's 50 MB history limit
	// for what the estimate cannot know: the nodes' outputs.
	defaultHistoryBudget = 32 << 20
)

// Options configure the API. Client, Store and Registry are required;
// every other field is optional and says its default.
type Options struct {
	// Client is the Temporal client the API starts, queries, signals,
	// cancels and lists executions with. Required.
	Client client.Client
	// Store holds the registered definitions. Required.
	Store *store.Store
	// Registry is the set of node types definitions are validated against;
	// it must be the one the workers run. Required.
	Registry *interpreter.Registry
	// Exprs compiles the definitions' CEL expressions at registration.
	// Optional: nil skips expression checks (tests only: a definition with a
	// broken expression would then fail at run time).
	Exprs interpreter.ExprChecker
	// ExprCache is the compiled-expression cache GET
	// /api/workflows/statistics reports on (the *expr.Env of this process).
	// Optional: nil reports cacheStats as null.
	ExprCache ExprCache
	// Metrics receives the HTTP request metrics and is served on GET
	// /metrics with the Temporal client's metrics. Optional: nil serves no
	// /metrics.
	Metrics *metrics.Metrics
	// TaskQueue is the task queue of the interpreter workflow. Optional:
	// default interpreter.DefaultTaskQueue.
	TaskQueue string
	// Namespace is the Temporal namespace of Client, used in uiUrl links.
	// Optional: default "default".
	Namespace string
	// UIBaseURL is the base of the Temporal Web UI, e.g.
	// http://127.0.0.1:8233. Optional: "" means responses carry no uiUrl.
	UIBaseURL string
	// EagerStart says a worker for TaskQueue runs in this process on Client,
	// so executions are started with StartWorkflowOptions.EnableEagerStart
	// (the first workflow task runs here without a round trip through
	// matching). Optional: default false.
	EagerStart bool
	// DefaultWait is how long POST /api/workflows/{id}/execute waits for the
	// result when the request has no ?wait=; 0 answers 202 at once. It is
	// taken as it is, 0 included (EXECUTE_WAIT_DEFAULT=0). Optional: nil
	// means 10s.
	DefaultWait *time.Duration
	// MaxWait clamps ?wait=. Optional: default 60s.
	MaxWait time.Duration
	// BodyLimit is the largest request body accepted, in bytes; larger
	// bodies get 413. Optional: default 1 MiB.
	BodyLimit int64
	// AllowedOrigins are browser origins (https://app.example.com) whose
	// pages may call the API's mutating routes; pages of any other origin
	// are refused (crosssite.go). Optional: default none besides the API's
	// own origin.
	AllowedOrigins []string
	// Memory tells the API when the process is short of memory: new
	// executions are then refused with 503 (memory.go). Optional: nil never
	// refuses.
	Memory MemoryGuard
	// HistoryBudget is the most history, in bytes, an execution may be
	// estimated to need when it starts (see checkHistoryBudget); a larger
	// input gets 413 history_budget_exceeded. Optional: default 32 MiB,
	// under Temporal's default limit of 50 MB per execution.
	HistoryBudget int
	// CacheSize is the number of parsed definitions (and compiled input
	// schemas) kept, keyed by (id, version). Optional: default 1024.
	CacheSize int
	// PaymentMethodRequired makes POST /api/orders/process require a
	// paymentMethodId: set it when a real payment provider is configured.
	// Optional: default false (dev mode's fake provider takes a test token).
	PaymentMethodRequired bool
	// APIKeys are the client keys and AdminAPIKeys the admin keys (see
	// auth.go for what each may do; the admin keys also open the codec
	// endpoints, codec.go). Optional: with neither, every route is open
	// and New logs a warning.
	APIKeys      []APIKey
	AdminAPIKeys []APIKey
	// PublicRoutes are route paths ("/api/products/:id" or
	// "/api/products/{id}") open at client level without a key. Optional:
	// default none.
	PublicRoutes []string
	// RateLimitMax requests per RateLimitWindow are allowed per client IP;
	// more get 429 with Retry-After. Optional: default 1000 per 1s.
	RateLimitMax    int
	RateLimitWindow time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client IP. Optional: default none (the TCP peer is the client).
	TrustedProxies []netip.Prefix
	// Logger receives request logs and internal errors. Optional: default
	// slog.Default().
	Logger *slog.Logger

	// PayloadCodec must be the codec of the Temporal client's data
	// converter: the API decodes memos with the default data converter
	// wrapped in it, and serves it on POST /codec/encode and /codec/decode
	// (the Temporal codec-server protocol) for the Web UI and the CLI's
	// --codec-endpoint. Optional: nil means encryption off (memos are
	// decoded with the default data converter, the codec endpoints serve
	// the payloads unchanged).
	PayloadCodec converter.PayloadCodec
	// CodecOIDC, when set, makes the codec endpoints accept OpenID Connect
	// tokens (ID tokens, or JWT access tokens) of that issuer and audience,
	// which the Web UI sends with codec.passAccessToken. Optional.
	CodecOIDC *OIDCOptions
	// CodecAllowLoopback lets any caller on a loopback address use the
	// codec endpoints without a token. Dev mode only. Optional: default false.
	CodecAllowLoopback bool
	// CodecCORSOrigins are the browser origins (the Web UI's) allowed to
	// call the codec endpoints. Optional: none.
	CodecCORSOrigins []string
}

// Server is the HTTP API. Create it with New.
type Server struct {
	echo      *echo.Echo
	client    client.Client
	store     *store.Store
	registry  *interpreter.Registry
	exprs     interpreter.ExprChecker
	exprCache ExprCache
	metrics   *metrics.Metrics
	dc        converter.DataConverter
	taskQueue string
	namespace string
	uiBaseURL string
	eager     bool
	defWait   time.Duration
	maxWait   time.Duration
	bodyLimit int64
	// historyBudget bounds the history an execution is estimated to need.
	historyBudget int
	memory        MemoryGuard
	// allowedOrigins may call mutating routes from a browser; allowedHosts
	// are their host names.
	allowedOrigins []string
	allowedHosts   []string
	// loopbackOnly is set by Serve when it listens on a loopback address:
	// requests must then name a loopback host (crosssite.go).
	loopbackOnly atomic.Bool
	defs         *definitionCache
	keys         *keyring
	limiter      *rateLimiter
	log          *slog.Logger

	paymentMethodRequired bool
	codec                 codecAccess
	// flowVersions maps the id of each pre-configured flow to the version
	// RegisterFlows registered; the flow routes answer 503 until then.
	flowVersions map[string]string
}

// New checks o, fills its defaults and builds the routes.
func New(o Options) (*Server, error) {
	if o.Client == nil {
		return nil, errors.New("api: Client is required")
	}
	if o.Store == nil {
		return nil, errors.New("api: Store is required")
	}
	if o.Registry == nil {
		return nil, errors.New("api: Registry is required")
	}
	dc := converter.GetDefaultDataConverter()
	if o.PayloadCodec != nil {
		dc = converter.NewCodecDataConverter(dc, o.PayloadCodec)
	}
	if o.TaskQueue == "" {
		o.TaskQueue = interpreter.DefaultTaskQueue
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	defWait := defaultWait
	if o.DefaultWait != nil {
		defWait = *o.DefaultWait
	}
	if o.MaxWait <= 0 {
		o.MaxWait = defaultMaxWait
	}
	if defWait < 0 || defWait > o.MaxWait {
		return nil, fmt.Errorf("api: DefaultWait %s is not between 0 and MaxWait %s", defWait, o.MaxWait)
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = defaultBodyLimit
	}
	if o.CacheSize <= 0 {
		o.CacheSize = defaultCacheSize
	}
	if o.HistoryBudget <= 0 {
		o.HistoryBudget = defaultHistoryBudget
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RateLimitMax <= 0 {
		o.RateLimitMax = defaultRateLimitMax
	}
	if o.RateLimitWindow <= 0 {
		o.RateLimitWindow = defaultRateLimitWindow
	}
	keys, err := newKeyring(o.APIKeys, o.AdminAPIKeys, o.PublicRoutes)
	if err != nil {
		return nil, err
	}
	defs, err := newDefinitionCache(o.CacheSize)
	if err != nil {
		return nil, err
	}
	s := &Server{
		echo:      echo.New(),
		client:    o.Client,
		store:     o.Store,
		registry:  o.Registry,
		exprs:     o.Exprs,
		exprCache: o.ExprCache,
		metrics:   o.Metrics,
		dc:        dc,
		taskQueue: o.TaskQueue,
		namespace: o.Namespace,
		uiBaseURL: strings.TrimRight(o.UIBaseURL, "/"),
		eager:     o.EagerStart,
		defWait:   defWait,
		maxWait:   o.MaxWait,
		bodyLimit: o.BodyLimit,
		defs:      defs,

		historyBudget:  o.HistoryBudget,
		memory:         o.Memory,
		allowedOrigins: trimOrigins(o.AllowedOrigins),
		allowedHosts:   originHosts(o.AllowedOrigins),
		keys:           keys,
		limiter:        newRateLimiter(o.RateLimitMax, o.RateLimitWindow),
		log:            o.Logger,

		paymentMethodRequired: o.PaymentMethodRequired,
		codec:                 newCodecAccess(o),
		flowVersions:          map[string]string{},
	}
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.HTTPErrorHandler = s.handleError
	s.echo.IPExtractor = ipExtractor(o.TrustedProxies)
	s.routes()
	s.warnAboutAccess(o.PublicRoutes)
	return s, nil
}

// Handler returns the API as an http.Handler (for httptest or a custom server).
func (s *Server) Handler() http.Handler { return s.echo }

// Serve serves the API on ln until ctx ends, then shuts down gracefully:
// it stops accepting connections and lets requests in flight finish (up to
// MaxWait plus a margin, since an execute request may wait that long).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		s.loopbackOnly.Store(true)
	}
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// An execute request may legitimately wait MaxWait for a result.
		WriteTimeout: s.maxWait + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests in flight keep their own contexts when ctx ends: Shutdown
		// lets them finish instead of cutting them off.
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.maxWait+5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
