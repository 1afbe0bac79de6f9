// Package app wires the parts of a process together: configuration, the
// Temporal client, the database, the workers and the API. The api, worker
// and dev commands are thin mains around it; none of this links the
// Temporal server.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/api"
	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/mail"
	"github.com/workflow-backend/workflow-backend/internal/mail/sendgrid"
	"github.com/workflow-backend/workflow-backend/internal/memguard"
	"github.com/workflow-backend/workflow-backend/internal/metrics"
	"github.com/workflow-backend/workflow-backend/internal/outbound"
	"github.com/workflow-backend/workflow-backend/internal/payments"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
	"github.com/workflow-backend/workflow-backend/worker"
)

// SearchAttributes are the custom search attributes every execution sets.
var SearchAttributes = map[string]enums.IndexedValueType{
	interpreter.SearchAttrDefinitionID:      enums.INDEXED_VALUE_TYPE_KEYWORD,
	interpreter.SearchAttrDefinitionVersion: enums.INDEXED_VALUE_TYPE_KEYWORD,
	interpreter.SearchAttrCaller:            enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// Core holds what the api, worker and dev processes build the same way.
type Core struct {
	Config      config.Config
	Logger      *slog.Logger
	Exprs       *expr.Env
	Registry    *interpreter.Registry
	Interpreter *interpreter.Interpreter
	Activities  *activities.Activities
	// Codec encrypts payloads (nil with PAYLOAD_ENCRYPTION=off); the API
	// serves it on /codec and decodes memos with it.
	Codec *codec.Codec
	// Metrics is the process's Prometheus registry: the Temporal client
	// reports to it (DialTemporalMetered) and the API serves it on /metrics,
	// a worker on METRICS_ADDR.
	Metrics *metrics.Metrics
	// DevMode lets loopback callers use the codec endpoints without a token
	// and allows dev mode's own Web UI origins. Set by dev mode only.
	DevMode bool
	// Memory is the process's memory guard (MAX_MEMORY, MEMORY_THRESHOLD):
	// the API refuses new executions and the workers take no new tasks
	// while it reports pressure. It only watches once GuardMemory runs.
	Memory *memguard.Guard
}

// NewCore builds the expression environment, the node type registry, the
// interpreter and the activities from cfg.
func NewCore(cfg config.Config, logger *slog.Logger) (*Core, error) {
	limits := expr.DefaultLimits()
	limits.CostLimit = cfg.ExprCostLimit
	limits.MaxValueBytes = uint64(cfg.ExprMaxValueBytes)
	limits.CacheSize = cfg.CacheMaxSize
	limits.CacheTTL = cfg.CacheTTL
	env, err := expr.New(limits)
	if err != nil {
		return nil, fmt.Errorf("expression environment: %w", err)
	}
	pc, err := process.PayloadCodec(cfg, logger)
	if err != nil {
		return nil, err
	}
	meters, err := metrics.New(logger)
	if err != nil {
		return nil, err
	}
	registry := NodeRegistry()
	memory := memguard.New(memguard.Options{Limit: uint64(cfg.MaxMemory), Threshold: cfg.MemoryThreshold, Logger: logger})
	if err := meters.WatchMemory(memory.Stats); err != nil {
		return nil, err
	}
	return &Core{
		Memory:      memory,
		Metrics:     meters,
		Codec:       pc,
		Config:      cfg,
		Logger:      logger,
		Exprs:       env,
		Registry:    registry,
		Interpreter: interpreter.New(registry),
		Activities:  &activities.Activities{Expr: env, MaxOutputBytes: cfg.NodeOutputMax},
	}, nil
}

// Names of the connections and services definitions may use.
const (
	// DatabaseApp is the database_query connection to the application
	// database (DATABASE_URL), which the shipped definitions use.
	DatabaseApp = "app"
)

// IONames lists what I/O nodes may name; the API validates definitions
// against it and the workers serve exactly it.
func IONames() activities.IOOptions {
	return activities.IOOptions{
		Databases: []string{DatabaseApp},
		Services:  map[string][]string{payments.ServiceStripe: payments.Operations()},
	}
}

// NodeRegistry is the node type registry of the API and the workers: every
// node type, the I/O ones with IONames.
func NodeRegistry() *interpreter.Registry {
	return interpreter.NewRegistry(activities.NodeTypes(IONames())...)
}

// NewIO builds the dependencies of the I/O node types from the
// configuration: the outbound HTTP client with its host policy, the
// application database, the payment connector, the email outbox and sender,
// the file storage root. Only processes that serve the I/O task queue call
// it, since it needs the secrets.
func (c *Core) NewIO(st *store.Store) (*activities.IO, error) {
	cfg := c.Config
	httpClient, err := outbound.NewClient(outbound.Options{Allow: cfg.OutboundAllow, Timeout: cfg.OutboundTimeout})
	if err != nil {
		return nil, fmt.Errorf("OUTBOUND_ALLOW: %w", err)
	}
	httpNodes, err := activities.NewHTTPNodes(c.Activities, httpClient, cfg.NotifyWebhooks)
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_WEBHOOKS: %w", err)
	}

	var payment activities.Connector
	switch cfg.PaymentsProvider {
	case config.PaymentsStripe:
		if cfg.StripeSecretKey == "" {
			return nil, errors.New("STRIPE_SECRET_KEY is not set: set it (sk_test_… for Stripe's test mode), or set PAYMENTS_PROVIDER=fake for a fake connector that approves charges without moving money")
		}
		if payment, err = payments.NewStripe(payments.StripeConfig{SecretKey: cfg.StripeSecretKey, APIBase: cfg.StripeAPIBase}); err != nil {
			return nil, fmt.Errorf("stripe: %w", err)
		}
	default:
		c.Logger.Warn(payments.FakeNotice)
		payment = payments.NewFake()
	}

	var sender mail.Sender
	if cfg.SendGridAPIKey != "" {
		if sender, err = sendgrid.New(cfg.SendGridAPIKey, cfg.SendGridAPIBase); err != nil {
			return nil, fmt.Errorf("SENDGRID_API_KEY: %w", err)
		}
	} else {
		c.Logger.Warn("SENDGRID_API_KEY is not set: emails are kept in the dev outbox (table email_outbox of the app database), not sent")
		sender = mail.NewDevSender(c.Logger)
	}
	from, err := mail.ParseAddress(cfg.EmailFrom)
	if err != nil {
		return nil, fmt.Errorf("EMAIL_FROM: %w", err)
	}

	if err := os.MkdirAll(cfg.StorageRoot, 0o750); err != nil {
		return nil, fmt.Errorf("STORAGE_ROOT: %w", err)
	}
	return &activities.IO{
		HTTP:     httpNodes,
		Database: &activities.DatabaseNodes{Activities: c.Activities, Conns: map[string]*sqlx.DB{DatabaseApp: st.DB()}},
		Services: &activities.ServiceNodes{Activities: c.Activities, Connectors: map[string]activities.Connector{payments.ServiceStripe: payment}},
		Email:    &activities.EmailNodes{Activities: c.Activities, Outbox: mail.NewOutbox(st.DB(), sender), From: from},
		Files:    &activities.FileNodes{Activities: c.Activities, Root: cfg.StorageRoot},
	}, nil
}

// CheckSearchAttributes fails with the command to run when the namespace
// lacks a search attribute the API sets (production; dev mode adds them).
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes: %w", err)
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(SearchAttributes)) {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var cmds []string
	for _, name := range missing {
		cmds = append(cmds, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type Keyword", namespace, name))
	}
	return fmt.Errorf("namespace %q lacks search attributes %s; create them with:\n  %s",
		namespace, strings.Join(missing, ", "), strings.Join(cmds, "\n  "))
}

// NewWorkers builds the workers of this process with cfg's tuning; ioNodes, when
// not nil, adds the I/O task queue's worker.
func (c *Core) NewWorkers(tc client.Client, ioNodes *activities.IO) (*worker.Workers, error) {
	sdkworker.SetStickyWorkflowCacheSize(c.Config.StickyCacheSize)
	return worker.New(tc, worker.Options{
		TaskQueue:                    c.Config.TaskQueue,
		MaxConcurrentActivities:      c.Config.MaxConcurrentActivities,
		MaxConcurrentLocalActivities: c.Config.MaxConcurrentLocalActivities,
		MaxConcurrentWorkflowTasks:   c.Config.MaxConcurrentWorkflowTasks,
		Memory:                       c.Memory,
	}, c.Interpreter, c.Activities, ioNodes, c.Logger)
}

// NewAPI builds the HTTP API. eager says a worker in this process serves
// the workflow task queue.
func (c *Core) NewAPI(tc client.Client, st *store.Store, eager bool) (*api.Server, error) {
	var payloadCodec converter.PayloadCodec
	if c.Codec != nil {
		// Not a nil *codec.Codec in a non-nil interface.
		payloadCodec = c.Codec
	}
	// EXECUTE_WAIT_DEFAULT is passed as it is: 0 means answer 202 at once.
	defaultWait := c.Config.WaitDefault
	var oidc *api.OIDCOptions
	if c.Config.CodecOIDCIssuer != "" {
		oidc = &api.OIDCOptions{Issuer: c.Config.CodecOIDCIssuer, Audience: c.Config.CodecOIDCAudience}
	}
	return api.New(api.Options{
		Client:       tc,
		PayloadCodec: payloadCodec,
		// The codec endpoints take the admin keys (AdminAPIKeys below),
		// not the client keys.
		CodecOIDC:          oidc,
		CodecAllowLoopback: c.DevMode,
		CodecCORSOrigins:   codecOrigins(c.Config, c.DevMode),
		Store:              st,
		Registry:           c.Registry,
		Exprs:              c.Exprs,
		ExprCache:          c.Exprs,
		Evaluator:          c.Exprs,
		ResultCacheEntries: c.Config.ResultCacheEntries,
		ResultCacheBytes:   int64(c.Config.ResultCacheBytes),
		Tester:             &testmode.Engine{Registry: c.Registry, Exprs: c.Exprs, MaxOutputBytes: c.Config.NodeOutputMax},
		Metrics:            c.Metrics,
		TaskQueue:          c.Config.TaskQueue,
		Namespace:          c.Config.TemporalNamespace,
		UIBaseURL:          c.Config.TemporalUIURL,
		EagerStart:         eager,
		DefaultWait:        &defaultWait,
		MaxWait:            c.Config.WaitMax,
		BodyLimit:          c.Config.MaxBodyBytes,
		HistoryBudget:      c.Config.HistoryBudget,
		RunBudget:          c.Config.RunBudget(),
		AllowedOrigins:     c.Config.AllowedOrigins,
		Memory:             c.Memory,
		Logger:             c.Logger,

		APIKeys:         apiKeys(c.Config.APIKeys),
		AdminAPIKeys:    apiKeys(c.Config.AdminAPIKeys),
		PublicRoutes:    c.Config.PublicRouteList(),
		RateLimitMax:    c.Config.RateLimitMax,
		RateLimitWindow: c.Config.RateLimitWindow,
		TrustedProxies:  c.Config.TrustedProxyPrefixes(),
		// A real payment provider needs the client's payment method token;
		// the fake one takes a test token.
		PaymentMethodRequired: c.Config.PaymentsProvider == config.PaymentsStripe,
	})
}

func apiKeys(keys config.APIKeys) []api.APIKey {
	out := make([]api.APIKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, api.APIKey{Name: k.Name, Secret: k.Secret})
	}
	return out
}

// ServeAPI registers the shipped definitions and runs the API (and, when
// cfg.APIWorker, a co-located worker, which also serves the I/O task queue
// when ioNodes is not nil: dev mode) on ln until ctx ends.
func (c *Core) ServeAPI(ctx context.Context, tc client.Client, st *store.Store, ln net.Listener, ioNodes *activities.IO) error {
	var workers *worker.Workers
	if c.Config.APIWorker {
		var err error
		if workers, err = c.NewWorkers(tc, ioNodes); err != nil {
			return err
		}
		if err := workers.Start(); err != nil {
			return fmt.Errorf("starting the co-located worker: %w", err)
		}
		defer workers.Stop()
	}
	srv, err := c.NewAPI(tc, st, workers != nil)
	if err != nil {
		return err
	}
	if err := srv.RegisterShippedDefinitions(ctx); err != nil {
		return err
	}
	c.Logger.Info("API listening", "url", "http://"+ln.Addr().String(), "colocatedWorker", workers != nil)
	return srv.Serve(ctx, ln)
}

// opened is what the api and worker commands both open: configuration,
// logger, core, Temporal client and app database, with the memory guard
// watching.
type opened struct {
	cfg        config.Config
	core       *Core
	client     client.Client
	store      *store.Store
	stopMemory func()
}

// open builds a process from the environment and guards its memory until
// close, which releases it all.
func open(ctx context.Context, environ map[string]string, stderr io.Writer) (*opened, error) {
	cfg, err := config.Load(environ)
	if err != nil {
		return nil, err
	}
	if err := process.RequirePayloadKeys(cfg); err != nil {
		return nil, err
	}
	logger := process.NewLogger(cfg, stderr)
	core, err := NewCore(cfg, logger)
	if err != nil {
		return nil, err
	}
	tc, err := process.DialTemporalMetered(ctx, cfg, environ, logger, core.Codec, core.Metrics.Temporal())
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	if access, err := st.ServerFileAccess(ctx); err != nil {
		logger.Warn("could not read the database role's privileges", "error", err)
	} else if access {
		logger.Warn("DATABASE_URL's role can read and write the database server's files (a superuser, or a member of pg_read_server_files, pg_write_server_files or pg_execute_server_program); database_query statements are checked, but a role without these rights is the stronger defence (README: Statement policy)")
	}
	return &opened{cfg: cfg, core: core, client: tc, store: st, stopMemory: core.GuardMemory(ctx)}, nil
}

func (p *opened) close() {
	p.stopMemory()
	_ = p.store.Close()
	p.client.Close()
}

// GuardMemory makes MAX_MEMORY the Go runtime's soft memory limit (unless
// GOMEMLIMIT is set) and watches the memory until ctx ends or stop is
// called. The commands call it; tests that build a Core in a shared test
// process do not, so their guard never reports pressure.
func (c *Core) GuardMemory(ctx context.Context) (stop func()) {
	softLimit := c.Memory.ApplyLimit()
	st := c.Memory.Stats()
	c.Logger.Info("memory guard", "maxMemoryBytes", st.MaxBytes, "thresholdBytes", st.ThresholdBytes,
		"softLimitFrom", softLimit)
	return inBackground(ctx, c.Memory.Watch)
}

// RunAPI is the api command: the HTTP API against a Temporal cluster.
func RunAPI(ctx context.Context, environ map[string]string, stderr io.Writer) error {
	p, err := open(ctx, environ, stderr)
	if err != nil {
		return err
	}
	defer p.close()
	if err := CheckSearchAttributes(ctx, p.client, p.cfg.TemporalNamespace); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(p.cfg.Host, strconv.Itoa(p.cfg.Port)))
	if err != nil {
		return err
	}
	return p.core.ServeAPI(ctx, p.client, p.store, ln, nil)
}

// RunWorker is the worker command: it serves the workflow and I/O task
// queues until ctx ends, then drains. With METRICS_ADDR it also serves GET
// /metrics there, so that every replica can be scraped.
func RunWorker(ctx context.Context, environ map[string]string, stderr io.Writer) error {
	p, err := open(ctx, environ, stderr)
	if err != nil {
		return err
	}
	defer p.close()
	if p.cfg.MetricsAddr != "" {
		stop, err := p.core.serveMetrics(ctx, p.cfg.MetricsAddr)
		if err != nil {
			return err
		}
		defer stop()
	}
	ioNodes, err := p.core.NewIO(p.store)
	if err != nil {
		return err
	}
	workers, err := p.core.NewWorkers(p.client, ioNodes)
	if err != nil {
		return err
	}
	return workers.Run(ctx)
}

// serveMetrics serves Core.Metrics on GET http://addr/metrics until ctx
// ends or stop is called; stop waits for the server to close.
func (c *Core) serveMetrics(ctx context.Context, addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	c.Logger.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return inBackground(ctx, func(ctx context.Context) {
		if err := c.Metrics.Serve(ctx, ln); err != nil {
			c.Logger.Error("metrics server", "error", err)
		}
	}), nil
}

// inBackground runs fn in a goroutine until ctx ends or the returned stop is
// called; stop waits for fn to return.
func inBackground(ctx context.Context, fn func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() { cancel(); <-done }
}
