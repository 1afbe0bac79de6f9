// Package config reads the processes' configuration from the environment.
// Every variable, with its default, is listed in the README.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Config is the configuration of the api, worker and dev processes. Each
// process reads the fields it uses.
type Config struct {
	// HTTP API.
	Host         string        `env:"HOST" envDefault:"0.0.0.0"`
	Port         int           `env:"PORT" envDefault:"3000"`
	MaxBodyBytes int64         `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	WaitDefault  time.Duration `env:"EXECUTE_WAIT_DEFAULT" envDefault:"10s"`
	WaitMax      time.Duration `env:"EXECUTE_WAIT_MAX" envDefault:"60s"`
	// APIWorker runs a worker for the workflow task queue inside the API
	// process, so synchronous executions start eagerly.
	APIWorker bool `env:"API_WORKER" envDefault:"true"`

	// API access (README "Access"). With no key in either list every route
	// is open to the anonymous caller and a warning is logged at start.
	APIKeys      APIKeys `env:"API_KEYS"`
	AdminAPIKeys APIKeys `env:"ADMIN_API_KEYS"`
	// PublicRoutes are route paths (as in the README's route table, e.g.
	// /api/products/:id) that callers without a key may use; "none" opens
	// none. Admin-only routes stay admin-only.
	PublicRoutes []string `env:"PUBLIC_ROUTES" envSeparator:"," envDefault:"/health,/metrics,/api/users/register,/api/orders/process,/api/products,/api/products/:id"`
	// AllowedOrigins are the browser origins whose pages may call the API's
	// mutating routes (cross-site requests from any other are refused).
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	// Rate limit per client IP: RateLimitMax requests per RateLimitWindow.
	RateLimitMax    int           `env:"RATE_LIMIT_MAX" envDefault:"1000"`
	RateLimitWindow time.Duration `env:"RATE_LIMIT_WINDOW" envDefault:"1s"`
	// TrustedProxies are the CIDRs of reverse proxies whose X-Forwarded-For
	// is believed when finding the client IP; none by default.
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`

	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`

	// Memory guard (internal/memguard): MAX_MEMORY is the process's memory
	// budget, also set as the Go runtime's soft limit unless GOMEMLIMIT is
	// set; above MEMORY_THRESHOLD of it new executions are refused and the
	// workers take no new tasks until memory falls.
	MaxMemory       ByteSize `env:"MAX_MEMORY" envDefault:"1GiB"`
	MemoryThreshold float64  `env:"MEMORY_THRESHOLD" envDefault:"0.8"`

	// Application database: a postgres:// URL, or an SQLite file. Empty
	// means DATA_DIR/app.db.
	DatabaseURL string `env:"DATABASE_URL"`
	DataDir     string `env:"DATA_DIR" envDefault:"./.data"`

	// Temporal. The client also honours the CLI's other TEMPORAL_*
	// variables (TLS, API key) through the SDK's envconfig.
	TemporalAddress   string        `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string        `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TaskQueue         string        `env:"TASK_QUEUE" envDefault:"workflow-backend"`
	TemporalUIURL     string        `env:"TEMPORAL_UI_URL"`
	TemporalUIPort    int           `env:"TEMPORAL_UI_PORT" envDefault:"8233"`
	Retention         time.Duration `env:"TEMPORAL_RETENTION" envDefault:"168h"`
	// TemporalDBURL, when set, keeps the embedded Temporal server's state
	// (dev mode and dev -temporal-only) in Postgres instead of
	// DATA_DIR/temporal.db: postgres://user:password@host:5432/temporal
	// (and temporal_visibility next to it), created and migrated at start.
	TemporalDBURL string `env:"TEMPORAL_DB_URL"`

	// Worker tuning (0: the SDK's default).
	MaxConcurrentActivities      int `env:"WORKER_MAX_CONCURRENT_ACTIVITIES"`
	MaxConcurrentLocalActivities int `env:"WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES"`
	MaxConcurrentWorkflowTasks   int `env:"WORKER_MAX_CONCURRENT_WORKFLOW_TASKS"`
	// StickyCacheSize is how many executions a worker keeps in memory
	// between their workflow tasks. Unset (0), Load sizes it from
	// MAX_MEMORY (stickyCacheFromMemory).
	StickyCacheSize int `env:"WORKER_STICKY_CACHE_SIZE"`
	// MetricsAddr is where the worker command serves GET /metrics
	// (host:port, e.g. :9090); empty serves none. The api and dev commands
	// serve /metrics on the API's port instead.
	MetricsAddr string `env:"METRICS_ADDR"`

	// Expressions and node outputs. EXPR_COST_LIMIT bounds the steps of one
	// evaluation (and of one call); EXPR_MAX_VALUE_BYTES every value an
	// evaluation makes, as JSON.
	ExprCostLimit     uint64   `env:"EXPR_COST_LIMIT" envDefault:"1000000"`
	ExprMaxValueBytes ByteSize `env:"EXPR_MAX_VALUE_BYTES" envDefault:"2MiB"`
	CacheMaxSize      int      `env:"CACHE_MAX_SIZE" envDefault:"1000"`
	// The API's result cache of definitions that opt in ("cache"): at most
	// this many results and bytes of output, per API process.
	ResultCacheEntries int           `env:"RESULT_CACHE_MAX_ENTRIES" envDefault:"10000"`
	ResultCacheBytes   ByteSize      `env:"RESULT_CACHE_MAX_BYTES" envDefault:"64MiB"`
	CacheTTL           time.Duration `env:"CACHE_TTL" envDefault:"1h"`
	NodeOutputMax      int           `env:"NODE_OUTPUT_MAX_BYTES" envDefault:"262144"`
	// HistoryBudget is the most history, in bytes, an execution may be
	// estimated to need at its start (its input, and the requests of the
	// nodes that run as regular activities); more is refused with 413. The
	// default, 32 MiB, leaves room under Temporal's 50 MB limit for what the
	// estimate cannot know: the nodes' outputs.
	HistoryBudget int `env:"HISTORY_BUDGET_BYTES" envDefault:"33554432"`
	// RunHistoryEvents and RunHistoryBytes: a run of an execution continues
	// as new at the first node boundary where its history has this many
	// events or bytes (besides Temporal's own suggestion). 0: the
	// interpreter's defaults (8,000 events, 8 MiB). The API writes them
	// into each execution it starts, so they apply to new executions only.
	RunHistoryEvents int `env:"RUN_HISTORY_EVENTS" envDefault:"0"`
	RunHistoryBytes  int `env:"RUN_HISTORY_BYTES" envDefault:"0"`

	// I/O node types. Secrets (keys, webhook URLs) are read by the workers
	// that serve the I/O task queue; the API needs none of them.
	//
	// api_call and notification: the outbound host policy allows private,
	// loopback and link-local destinations only when listed here.
	OutboundAllow   []string          `env:"OUTBOUND_ALLOW" envSeparator:","`
	OutboundTimeout time.Duration     `env:"OUTBOUND_TIMEOUT" envDefault:"60s"`
	NotifyWebhooks  map[string]string `env:"NOTIFY_WEBHOOKS" envSeparator:"," envKeyValSeparator:"="`
	// external_service "stripe": the real Stripe API (PAYMENTS_PROVIDER
	// stripe, the default) or a fake that moves no money (fake; dev mode's
	// default when no key is set).
	PaymentsProvider string `env:"PAYMENTS_PROVIDER"`
	StripeSecretKey  string `env:"STRIPE_SECRET_KEY"`
	StripeAPIBase    string `env:"STRIPE_API_BASE" envDefault:"https://api.stripe.com"`
	// email: SendGrid when a key is set, else the dev outbox.
	SendGridAPIKey  string `env:"SENDGRID_API_KEY"`
	SendGridAPIBase string `env:"SENDGRID_API_BASE" envDefault:"https://api.sendgrid.com"`
	EmailFrom       string `env:"EMAIL_FROM" envDefault:"noreply@example.com"`
	// file_processing: the only directory its paths may name. Empty means
	// DATA_DIR/files.
	StorageRoot string `env:"STORAGE_ROOT"`

	// Payload encryption (internal/codec). PAYLOAD_KEYS is a secret, read
	// as a plain string and parsed by codec.ParseKeys, whose errors never
	// quote it: comma-separated id=base64(32 bytes), the first encrypts.
	// Empty: the production commands refuse to start (with encryption on);
	// dev mode and tests use DATA_DIR/payload-keys, generated if missing.
	PayloadKeys       string `env:"PAYLOAD_KEYS"`
	PayloadEncryption string `env:"PAYLOAD_ENCRYPTION" envDefault:"on"`
	// The API's codec endpoints (/codec/encode, /codec/decode): the Web
	// UI origins allowed by CORS (empty: the origin of TEMPORAL_UI_URL), and
	// the OpenID Connect issuer and audience whose tokens they accept.
	CodecCORSOrigins  []string `env:"CODEC_CORS_ORIGINS" envSeparator:","`
	CodecOIDCIssuer   string   `env:"CODEC_OIDC_ISSUER"`
	CodecOIDCAudience string   `env:"CODEC_OIDC_AUDIENCE"`
}

// Values of PAYLOAD_ENCRYPTION.
const (
	EncryptionOn  = "on"
	EncryptionOff = "off"
)

// Encrypted says payloads are encrypted (PAYLOAD_ENCRYPTION=on).
func (c Config) Encrypted() bool { return c.PayloadEncryption == EncryptionOn }

// Payment providers of PAYMENTS_PROVIDER.
const (
	PaymentsStripe = "stripe"
	PaymentsFake   = "fake"
)

// Load parses the configuration from the given environment (os.Environ
// turned into a map in main; a literal map in tests) and checks it.
func Load(environ map[string]string) (Config, error) {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return c, fmt.Errorf("configuration: %w", namedParseErrors(err))
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "app.db")
	}
	if c.StorageRoot == "" {
		c.StorageRoot = filepath.Join(c.DataDir, "files")
	}
	if c.StickyCacheSize == 0 {
		c.StickyCacheSize = stickyCacheFromMemory(c.MaxMemory)
	}
	if c.PaymentsProvider == "" {
		// Production takes real payments unless told otherwise: a worker
		// without a key refuses to start rather than approve every order
		// with the fake connector. Dev mode defaults to the fake one.
		c.PaymentsProvider = PaymentsStripe
	}
	return c, c.check()
}

// Sizing of the sticky cache from MAX_MEMORY: an eighth of the budget, at
// stickyEntryBytes per cached execution, between the bounds. A cached
// execution of a small graph waiting for a signal costs the worker ~17 KiB
// of live heap and 50 to 65 KiB of RSS (docs/benchmarks.md, "Memory per
// waiting execution"); a graph with more nodes and larger outputs holds
// more. Executions beyond
// the cache cost the worker nothing while they wait: their next task
// replays their history instead (a few ms for a short history).
const (
	stickyEntryBytes = 64 << 10
	stickyCacheMin   = 100
	stickyCacheMax   = 10000 // the SDK's default
)

// stickyCacheFromMemory is the default sticky cache size for a memory
// budget: 2048 for the default 1 GiB.
func stickyCacheFromMemory(maxMemory ByteSize) int {
	return min(max(int(uint64(maxMemory)/8/stickyEntryBytes), stickyCacheMin), stickyCacheMax)
}

func (c Config) check() error {
	var errs []error
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT %d is not a TCP port", c.Port))
	}
	if c.TemporalUIPort <= 0 || c.TemporalUIPort > 65535 {
		errs = append(errs, fmt.Errorf("TEMPORAL_UI_PORT %d is not a TCP port", c.TemporalUIPort))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("MAX_BODY_BYTES must be positive"))
	}
	if c.WaitDefault < 0 || c.WaitMax <= 0 || c.WaitDefault > c.WaitMax {
		errs = append(errs, errors.New("EXECUTE_WAIT_DEFAULT must be between 0 (answer 202 at once) and EXECUTE_WAIT_MAX, which must be positive"))
	}
	if c.TaskQueue == "" {
		errs = append(errs, errors.New("TASK_QUEUE must not be empty"))
	}
	if c.Retention < 24*time.Hour {
		errs = append(errs, errors.New("TEMPORAL_RETENTION must be at least 24h (the server's minimum)"))
	}
	if c.CacheMaxSize <= 0 || c.CacheTTL <= 0 || c.NodeOutputMax <= 0 || c.ResultCacheEntries <= 0 || c.ResultCacheBytes <= 0 {
		errs = append(errs, errors.New("CACHE_MAX_SIZE, CACHE_TTL, NODE_OUTPUT_MAX_BYTES, RESULT_CACHE_MAX_ENTRIES and RESULT_CACHE_MAX_BYTES must be positive"))
	}
	if c.StickyCacheSize < 0 {
		errs = append(errs, errors.New("WORKER_STICKY_CACHE_SIZE must be positive (unset: sized from MAX_MEMORY)"))
	}
	if c.MaxMemory < 16<<20 {
		errs = append(errs, errors.New("MAX_MEMORY must be at least 16MiB (a number of bytes, or with a unit: 512MiB, 2GiB)"))
	}
	if !(c.MemoryThreshold > 0 && c.MemoryThreshold <= 1) {
		errs = append(errs, fmt.Errorf("MEMORY_THRESHOLD %v must be a fraction above 0 and at most 1 (e.g. 0.8)", c.MemoryThreshold))
	}
	if c.ExprCostLimit < 1000 {
		errs = append(errs, errors.New("EXPR_COST_LIMIT must be at least 1000"))
	}
	if c.ExprMaxValueBytes < 1<<10 {
		errs = append(errs, errors.New("EXPR_MAX_VALUE_BYTES must be at least 1KiB"))
	}
	if c.HistoryBudget <= 0 {
		errs = append(errs, errors.New("HISTORY_BUDGET_BYTES must be positive"))
	}
	if c.RunHistoryEvents < 0 || c.RunHistoryBytes < 0 {
		errs = append(errs, errors.New("RUN_HISTORY_EVENTS and RUN_HISTORY_BYTES must not be negative (0: the defaults)"))
	}
	if c.PaymentsProvider != PaymentsStripe && c.PaymentsProvider != PaymentsFake {
		errs = append(errs, fmt.Errorf("PAYMENTS_PROVIDER %q must be stripe or fake", c.PaymentsProvider))
	}
	if c.OutboundTimeout <= 0 {
		errs = append(errs, errors.New("OUTBOUND_TIMEOUT must be positive"))
	}
	if _, err := c.SlogLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.PayloadEncryption != EncryptionOn && c.PayloadEncryption != EncryptionOff {
		errs = append(errs, fmt.Errorf("PAYLOAD_ENCRYPTION %q must be on or off", c.PayloadEncryption))
	}
	if strings.TrimSpace(c.PayloadKeys) != "" {
		if _, err := codec.ParseKeys(c.PayloadKeys); err != nil {
			errs = append(errs, err)
		}
	}
	if (c.CodecOIDCIssuer == "") != (c.CodecOIDCAudience == "") {
		errs = append(errs, errors.New("CODEC_OIDC_ISSUER and CODEC_OIDC_AUDIENCE must be set together"))
	}
	for _, list := range []struct {
		name    string
		origins []string
	}{{"CODEC_CORS_ORIGINS", c.CodecCORSOrigins}, {"ALLOWED_ORIGINS", c.AllowedOrigins}} {
		for _, origin := range list.origins {
			if u, err := url.Parse(origin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				errs = append(errs, fmt.Errorf("%s: %q is not an origin (scheme://host[:port])", list.name, origin))
			}
		}
	}
	if err := checkAPIKeys(c.APIKeys, c.AdminAPIKeys); err != nil {
		errs = append(errs, err)
	}
	if err := checkPublicRoutes(c.PublicRoutes); err != nil {
		errs = append(errs, err)
	}
	if c.RateLimitMax <= 0 || c.RateLimitWindow <= 0 {
		errs = append(errs, errors.New("RATE_LIMIT_MAX and RATE_LIMIT_WINDOW must be positive"))
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Defaults is the configuration of an empty environment: every field at
// its default. Packages that take options (the API) fill the ones a caller
// left zero from it, so that each default is written once, in Config's
// tags.
var Defaults = sync.OnceValue(func() Config {
	// An empty map, not nil: nil would read the process's environment.
	c, err := Load(map[string]string{})
	if err != nil {
		panic("config: the defaults fail their own checks: " + err.Error())
	}
	return c
})

// SlogLevel parses LOG_LEVEL (debug, info, warn, error).
func (c Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(c.LogLevel))); err != nil {
		return l, fmt.Errorf("LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// namedParseErrors rewrites the env library's parse errors, which name the Go
// field ("Port"), to name the variable the user set ("PORT").
func namedParseErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeFor[Config]()
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				name := f.Tag.Get("env")
				if name == "NOTIFY_WEBHOOKS" {
					// The parse error quotes the value, and webhook URLs are secrets.
					errs = append(errs, fmt.Errorf("%s: not a comma-separated list of name=url", name))
					continue
				}
				errs = append(errs, fmt.Errorf("%s: %w", name, pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// Variables lists the environment variables Config reads, in field order.
func Variables() []string {
	t := reflect.TypeFor[Config]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("env"); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// Environ turns os.Environ() into the map Load takes.
func Environ(kv []string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, e := range kv {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return m
}

// RunBudget is the RunBudget the API writes into the executions it starts;
// nil when both settings are 0 (the interpreter's defaults).
func (c Config) RunBudget() *interpreter.RunBudget {
	if c.RunHistoryEvents == 0 && c.RunHistoryBytes == 0 {
		return nil
	}
	return &interpreter.RunBudget{Events: c.RunHistoryEvents, Bytes: c.RunHistoryBytes}
}
