// Package devserver runs a complete Temporal server (frontend, history,
// matching and worker services on SQLite), and optionally the Temporal Web UI,
// inside the calling process. Dev mode and tests use it; production binaries
// must not import it (it links go.temporal.io/server).
//
// The wiring follows the temporal CLI's `server start-dev`: SQLite persistence
// with one history shard, static membership on loopback ports, the namespace
// created directly in the database before the server starts. On top of that,
// Start makes sure at every start that the namespace has the requested search
// attributes and retention (a namespace that already exists in a database file
// is not touched by the schema setup), and applies the tuned dynamic config of
// deploy/temporal/dynamicconfig.yaml.
package devserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
	"gopkg.in/yaml.v3"

	"github.com/workflow-backend/workflow-backend/deploy"
)

// Defaults of Options.
const (
	DefaultFrontendIP = "127.0.0.1"
	DefaultNamespace  = "default"
	DefaultRetention  = 7 * 24 * time.Hour
)

const (
	clusterName = "active"
	// namespaceRefresh is the server's default system.namespaceCacheRefreshInterval:
	// how long every service may take to see a namespace change.
	namespaceRefresh = 2 * time.Second
	// setupTimeout bounds each wait of Start when ctx has no earlier deadline.
	setupTimeout = 30 * time.Second
)

// Options configures Start. The zero value is an in-memory server on a free
// loopback port, without UI, with the "default" namespace.
type Options struct {
	// FrontendIP is the IP address every server service listens on.
	// Optional; default 127.0.0.1. "localhost" means 127.0.0.1. With an
	// unspecified address (0.0.0.0 or ::) FrontendAddress and UIAddress
	// report the loopback address.
	FrontendIP string
	// FrontendPort is the frontend's gRPC port. Optional; 0 picks a free port.
	// The other services (and the frontend's HTTP API) always use free ports.
	FrontendPort int
	// UIPort is the port of the Temporal Web UI on FrontendIP. Optional;
	// 0 means no UI.
	UIPort int
	// UICodecEndpoint is the remote codec server the UI calls to decode
	// payloads, e.g. "http://localhost:3000/codec". Optional; "" means none.
	UICodecEndpoint string
	// DatabaseFile is the SQLite file that keeps the server's state across
	// restarts; its directory is created if missing and its schema when the
	// file is new. The visibility store (what ListWorkflowExecutions reads)
	// lives in a second file next to it, VisibilityFile(DatabaseFile), e.g.
	// temporal-visibility.db; a DatabaseFile created before that split
	// keeps its visibility inside. Optional; "" keeps everything in memory
	// for the life of the process.
	DatabaseFile string
	// PostgresURL, when set, keeps the server's state in Postgres instead
	// of SQLite: "postgres://user:password@host:5432/temporal" names the
	// default store's database, and the visibility store uses the same name
	// with "_visibility". Both are created if missing and their schemas set
	// up or upgraded by the server's own schema tool at every start
	// (postgres.go). DatabaseFile is then ignored. Optional.
	PostgresURL string
	// Namespace is created if missing. Optional; default "default".
	Namespace string
	// Retention is how long closed executions of Namespace are kept; set at
	// every start (the server's own default for a new namespace is one day).
	// Optional; default 7 days. The server rejects less than one hour unless
	// system.namespaceMinRetentionLocal is lowered in DynamicConfig.
	Retention time.Duration
	// SearchAttributes are custom search attributes of Namespace; the missing
	// ones are added at every start. An attribute that exists with another
	// type is an error. Optional.
	SearchAttributes map[string]enumspb.IndexedValueType
	// DynamicConfig holds server dynamic config values by key (keys are
	// case-insensitive), merged over the built-in defaults, which are the
	// values of deploy/temporal/dynamicconfig.yaml and a few settings for
	// SQLite's single connection per database and the single history shard.
	// Values are what the YAML file would hold (int, bool, string, float,
	// lists, maps; durations as strings such as "1s"). Unknown keys and
	// values of the wrong type make Start fail. Optional.
	DynamicConfig map[string]any
	// Logger receives the server's logs. Optional; default a text logger on
	// stderr.
	Logger *slog.Logger
	// LogLevel is the minimum level of the server's logs, applied on top of
	// Logger's own. Optional; default slog.LevelWarn (the server is very
	// chatty at info).
	LogLevel slog.Leveler
}

// Server is a running embedded Temporal server.
type Server struct {
	frontendAddr string
	uiAddr       string
	namespace    string // the namespace Start prepared
	logger       *slog.Logger

	server temporal.Server
	ui     *uiserver.Server

	// stopping silences the server's logs during Stop, which routinely
	// reports canceled polls and transactions as errors.
	stopping *atomic.Bool
	stopOnce sync.Once
}

// FrontendAddress returns the host:port clients dial (gRPC).
func (s *Server) FrontendAddress() string { return s.frontendAddr }

// UIAddress returns the Web UI's base URL, e.g. "http://127.0.0.1:8233", or
// "" when the UI is not running.
func (s *Server) UIAddress() string { return s.uiAddr }

// Stop stops the UI and the server. It is safe to call more than once.
//
// The server's SQLite plugin keeps its database connections open for the life
// of the process (by design, so in-memory databases survive), so the
// database files stay open after Stop and a later Start on the same files in
// the same process reuses the connections.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		if s.ui != nil {
			s.ui.Stop()
		}
		_ = s.server.Stop() // it always returns nil
	})
}

// Start boots the server and, if o.UIPort is set, the Web UI, and returns
// once the namespace is ready: it exists, has every search attribute of
// o.SearchAttributes and the retention o.Retention, and every service sees
// that. ctx bounds the start-up only; the server runs until Stop.
//
// The UI server exits the process if it cannot listen, so Start checks that
// o.UIPort is free first; a port taken between that check and the UI's bind
// is still fatal.
func Start(ctx context.Context, o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	dialIP := o.FrontendIP
	if ip := net.ParseIP(o.FrontendIP); ip.IsUnspecified() {
		dialIP = loopbackFor(ip)
	}
	ports, err := pickPorts(o)
	if err != nil {
		return nil, err
	}
	if o.UIPort != 0 {
		if err := checkPortFree(o.FrontendIP, o.UIPort); err != nil {
			return nil, fmt.Errorf("devserver: UI port %d: %w", o.UIPort, err)
		}
	}
	dc, err := dynamicConfigClient(o.DynamicConfig, o.PostgresURL != "")
	if err != nil {
		return nil, err
	}
	stopping := new(atomic.Bool)
	logger := slog.New(leveledHandler{min: stopLeveler{base: o.LogLevel, stopping: stopping}, h: o.Logger.Handler()})
	var sqlConf, visibilityConf *config.SQL
	if o.PostgresURL != "" {
		sqlConf, visibilityConf, err = postgresStores(o.PostgresURL, serverLogger{l: logger})
	} else {
		sqlConf, visibilityConf, err = prepareDatabase(o)
	}
	if err != nil {
		return nil, err
	}
	conf := serverConfig(o, dialIP, ports, sqlConf, visibilityConf)
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, serverLogger{l: logger})
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	hostPort := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(dialIP, strconv.Itoa(port)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: hostPort(ports.frontend),
			primitives.HistoryService:  hostPort(ports.history),
			primitives.MatchingService: hostPort(ports.matching),
			primitives.WorkerService:   hostPort(ports.worker),
		}),
		temporal.WithLogger(serverLogger{l: logger}),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build server: %w", err)
	}

	var ui *uiserver.Server
	if o.UIPort != 0 {
		if ui, err = newUI(o, dialIP, ports.frontend); err != nil {
			return nil, err
		}
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start server: %w", err)
	}
	s := &Server{
		frontendAddr: net.JoinHostPort(dialIP, strconv.Itoa(ports.frontend)),
		namespace:    o.Namespace,
		logger:       logger,
		server:       srv,
		stopping:     stopping,
	}
	if ui != nil {
		s.ui = ui
		s.uiAddr = "http://" + net.JoinHostPort(dialIP, strconv.Itoa(o.UIPort))
		go func() {
			if err := ui.Start(); err != nil {
				logger.Error("temporal UI server stopped", "error", err)
			}
		}()
		if err := waitHTTP(ctx, s.uiAddr+"/healthz"); err != nil {
			s.Stop()
			return nil, fmt.Errorf("devserver: UI did not come up: %w", err)
		}
	}
	if err := s.prepareNamespace(ctx, o); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.FrontendIP == "" || strings.EqualFold(o.FrontendIP, "localhost") {
		o.FrontendIP = DefaultFrontendIP
	}
	if net.ParseIP(o.FrontendIP) == nil {
		return o, fmt.Errorf("devserver: FrontendIP %q is not an IP address", o.FrontendIP)
	}
	if o.FrontendPort < 0 || o.FrontendPort > 65535 || o.UIPort < 0 || o.UIPort > 65535 {
		return o, errors.New("devserver: port out of range")
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < 0 {
		return o, errors.New("devserver: negative Retention")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelWarn
	}
	return o, nil
}

type servicePorts struct {
	frontend, frontendHTTP, history, matching, worker int
}

func pickPorts(o Options) (servicePorts, error) {
	p := servicePorts{frontend: o.FrontendPort}
	for _, port := range []*int{&p.frontend, &p.frontendHTTP, &p.history, &p.matching, &p.worker} {
		if *port != 0 {
			if err := checkPortFree(o.FrontendIP, *port); err != nil {
				return p, fmt.Errorf("devserver: frontend port %d: %w", *port, err)
			}
			continue
		}
		free, err := GetFreePort(o.FrontendIP)
		if err != nil {
			return p, err
		}
		*port = free
	}
	return p, nil
}

// embeddedDynamicConfig tunes this server's own shape: SQLite stores, whose
// plugin gives each database a single connection, and one history shard,
// which receives every task. It applies over deploy's dynamic config, which
// a Postgres-backed server (docker-compose) shares, and under
// Options.DynamicConfig.
var embeddedDynamicConfig = map[string]any{
	// Visibility tasks run on 512 workers by default, and each starts its
	// 3 s timeout before it queues for the visibility database's one
	// connection. At 16 concurrent executions on 2 cores hundreds of
	// visibility writes queued there, timed out (the server logged
	// "Operation failed with an error." error="context deadline exceeded")
	// and were retried from the start, wasting the CPU already spent on
	// them: the bench's concurrency-16 scenarios lost 10-15% of their
	// throughput. Four workers keep the connection busy (one worker leaves
	// it idle between tasks and was slower); the backlog waits in the
	// queue, where no timeout runs.
	"history.visibilityProcessorSchedulerWorkerCount": 4,
	// The transfer and visibility queues keep every task they ran in their
	// in-memory slices until the next checkpoint (default every 30 s), and
	// merging each newly read range of tasks splits a slice, which copies
	// the tasks it holds. With one shard taking ~100 executions/s that is
	// thousands of finished tasks copied per read: in the bench's REST
	// scenarios the split allocated
	// 40-360 MB per scenario (up to ~0.9 MiB per execution) and doubled
	// their alloc/exec; with a 1 s checkpoint it allocated 1-14 MB. A
	// checkpoint costs a delete of the finished tasks and a shard update.
	"history.transferProcessorUpdateAckInterval":   "1s",
	"history.visibilityProcessorUpdateAckInterval": "1s",
	// Timer resolution (docs/benchmarks.md, "Timer resolution"). The
	// history shard gives every new timer task a fire time of at least
	// now + timerProcessorMaxTimeShift (default 1 s): each read of the timer
	// queue raises the shard's minimum scheduled time to that
	// (shard.taskKeyManager), and the task key generator moves any earlier
	// timer past it. So every timer, a 100 ms `wait` node included, fired
	// ~1 s after it started (p50 998 ms for 100 ms timers). At 10 ms they
	// fire in ~102 ms.
	// Cost: the queue reads 10 ms ahead instead of 1 s, so a read loads the
	// timers of the next 10 ms rather than of the next second, and a busy
	// server reads once per timer or so instead of about once a second. The
	// idle server reads no more often: without timers its next read is
	// timerProcessorMaxPollInterval (5 min) away.
	"history.timerProcessorMaxTimeShift": "10ms",
	// With those frequent reads, the timer queue's default read limit of
	// 20/s per shard became the floor: at 16 concurrent executions of a
	// 100 ms wait the timers took p50 240 ms, p95 430 ms (~35
	// executions/s). At 1000/s (the value deploy's config gives the
	// transfer and visibility queues): p50 102 ms, p95 111 ms, ~73/s. Cost:
	// up to 1000 range reads/s of the timer task table under such a load,
	// on the default store's one SQLite connection; idle, none.
	"history.timerProcessorMaxPollRPS": 1000,
}

// sqliteOnlyDynamicConfig are the keys of embeddedDynamicConfig that
// answer SQLite's single connection per database.
var sqliteOnlyDynamicConfig = []string{"history.visibilityProcessorSchedulerWorkerCount"}

// dynamicConfigClient merges deploy's dynamic config, embeddedDynamicConfig and
// overrides, in that order. Both deploy's file and the other values (as a
// file of the same format) go through the server's own YAML loader, so that
// unknown keys and mistyped values are caught here rather than silently
// ignored.
//
// On Postgres the SQLite-only settings (sqliteOnlyDynamicConfig) are left
// out: the visibility store has a pool of connections there.
func dynamicConfigClient(overrides map[string]any, postgres bool) (dynamicconfig.StaticClient, error) {
	values := make(map[string]any, len(embeddedDynamicConfig)+len(overrides))
	for k, v := range embeddedDynamicConfig {
		if postgres && slices.Contains(sqliteOnlyDynamicConfig, k) {
			continue
		}
		values[strings.ToLower(k)] = v
	}
	// Sorted, so that two spellings of one key resolve the same way each run.
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		values[strings.ToLower(k)] = overrides[k]
	}
	file := make(map[string][]map[string]any, len(values))
	for k, v := range values {
		file[k] = []map[string]any{{"value": v}}
	}
	tuning, err := yaml.Marshal(file)
	if err != nil {
		return nil, fmt.Errorf("devserver: dynamic config: %w", err)
	}
	client := dynamicconfig.StaticClient{}
	for _, data := range [][]byte{deploy.DynamicConfigYAML(), tuning} {
		loaded := dynamicconfig.LoadYamlFile(data)
		if err := errors.Join(append(loaded.Errors, loaded.Warnings...)...); err != nil {
			return nil, fmt.Errorf("devserver: dynamic config: %w", err)
		}
		for k, cvs := range loaded.Map {
			client[k] = cvs
		}
	}
	return client, nil
}

// prepareDatabase returns the SQLite persistence configs of the default
// (executions, history, tasks, namespaces) and visibility stores, after
// creating the schema of new database files and the namespace if it is
// missing.
//
// Visibility lives in a database of its own, with its own connection. The
// SQLite plugin gives each database one connection, so with a single
// database every persistence call of the server waits behind the visibility
// writes, and those are the most expensive statements the server runs:
// executions_visibility has ~60 indexes, generated columns and two FTS5
// tables kept by triggers, and the driver re-prepares every statement. A
// CPU profile of one process running the server and a worker (2 cores,
// sequential executions of an empty workflow) put ~45% of the process's CPU
// in the two visibility writes of each execution (RecordWorkflowExecution-
// Started and -Closed), all of it on the connection that starting and
// completing the next workflow task need. Two databases let them run side
// by side; it is the split a Postgres or MySQL deployment has too
// (temporal and temporal_visibility).
func prepareDatabase(o Options) (defaultStore, visibilityStore *config.SQL, err error) {
	defaultStore = &config.SQL{PluginName: sqliteplugin.PluginName}
	visibilityStore = &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DatabaseFile == "" {
		// A unique name: several servers can run in one process (tests).
		// The plugin creates the schema of an in-memory database itself.
		name := "devserver-" + rand.Text()
		defaultStore.DatabaseName = name
		defaultStore.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		visibilityStore.DatabaseName = name + "-visibility"
		visibilityStore.ConnectAttributes = maps.Clone(defaultStore.ConnectAttributes)
	} else {
		path, err := filepath.Abs(o.DatabaseFile)
		if err != nil {
			return nil, nil, fmt.Errorf("devserver: database file: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, nil, fmt.Errorf("devserver: database directory: %w", err)
		}
		fileAttributes := func() map[string]string {
			return map[string]string{
				"mode": "rwc",
				// Without these a file-backed server costs ~66 ms per activity
				// (measured on the team's machine); WAL with synchronous=normal is as fast as memory.
				"journal_mode": "wal",
				"synchronous":  "normal",
				"busy_timeout": "5000",
			}
		}
		defaultStore.DatabaseName = path
		defaultStore.ConnectAttributes = fileAttributes()
		visPath := VisibilityFile(path)
		visibilityStore.DatabaseName = visPath
		visibilityStore.ConnectAttributes = fileAttributes()

		newDefault, err := isNewFile(path)
		if err != nil {
			return nil, nil, err
		}
		newVisibility, err := isNewFile(visPath)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case newDefault:
			// A fresh start. A visibility file left from an earlier
			// database would list executions that do not exist.
			for _, f := range []string{visPath, visPath + "-wal", visPath + "-shm"} {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, nil, fmt.Errorf("devserver: remove stale visibility database: %w", err)
				}
			}
			if err := sqliteschema.SetupSchema(defaultStore); err != nil {
				return nil, nil, fmt.Errorf("devserver: create schema in %s: %w", path, err)
			}
			// SetupSchema has no visibility-only variant: the visibility
			// file also gets the (unused, empty) tables of the default store.
			if err := sqliteschema.SetupSchema(visibilityStore); err != nil {
				return nil, nil, fmt.Errorf("devserver: create schema in %s: %w", visPath, err)
			}
		case newVisibility:
			// A database file from before visibility had its own file: its
			// visibility records are inside it. Keep using it for both, so
			// the executions it holds stay listed.
			visibilityStore = defaultStore
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return nil, nil, fmt.Errorf("devserver: namespace %s: %w", o.Namespace, err)
	}
	// Only used if the namespace is new; prepareNamespace handles the rest.
	ns.Detail.Config.Retention = durationpb.New(o.Retention)
	if err := sqliteschema.CreateNamespaces(defaultStore, ns); err != nil {
		return nil, nil, fmt.Errorf("devserver: create namespace %s: %w", o.Namespace, err)
	}
	return defaultStore, visibilityStore, nil
}

// VisibilityFile is the SQLite file next to databaseFile that holds the
// visibility store (see Options.DatabaseFile): "temporal.db" ->
// "temporal-visibility.db".
func VisibilityFile(databaseFile string) string {
	ext := filepath.Ext(databaseFile)
	return strings.TrimSuffix(databaseFile, ext) + "-visibility" + ext
}

func isNewFile(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("devserver: database file: %w", err)
	}
	return false, nil
}

func serverConfig(o Options, dialIP string, ports servicePorts, sqlConf, visibilityConf *config.SQL) *config.Config {
	frontendAddr := net.JoinHostPort(dialIP, strconv.Itoa(ports.frontend))
	service := func(grpcPort, httpPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, HTTPPort: httpPort, BindOnIP: o.FrontendIP}}
	}
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = dialIP
	backend := "sqlite"
	conf.Persistence.NumHistoryShards = 1
	if o.PostgresURL != "" {
		backend = "postgres"
		conf.Persistence.NumHistoryShards = postgresShards
	}
	conf.Persistence.DefaultStore = backend + "-default"
	conf.Persistence.VisibilityStore = backend + "-visibility"
	conf.Persistence.DataStores = map[string]config.DataStore{
		conf.Persistence.DefaultStore:    {SQL: sqlConf},
		conf.Persistence.VisibilityStore: {SQL: visibilityConf},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				HTTPAddress:            net.JoinHostPort(dialIP, strconv.Itoa(ports.frontendHTTP)),
				ClusterID:              uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): service(ports.frontend, ports.frontendHTTP),
		string(primitives.HistoryService):  service(ports.history, 0),
		string(primitives.MatchingService): service(ports.matching, 0),
		string(primitives.WorkerService):   service(ports.worker, 0),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontendAddr
	return &conf
}

func newUI(o Options, dialIP string, frontendPort int) (ui *uiserver.Server, err error) {
	// NewServer panics on a configuration it cannot use.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: UI server: %v", r)
		}
	}()
	return uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                o.FrontendIP,
		Port:                o.UIPort,
		TemporalGRPCAddress: net.JoinHostPort(dialIP, strconv.Itoa(frontendPort)),
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		Codec:               uiconfig.Codec{Endpoint: o.UICodecEndpoint},
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true,
	})), nil
}

// prepareNamespace adds missing search attributes and sets the retention,
// then waits until the server's namespace caches hold the change.
func (s *Server) prepareNamespace(ctx context.Context, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	c, err := sdkclient.DialContext(ctx, sdkclient.Options{
		HostPort:  s.frontendAddr,
		Namespace: o.Namespace,
		Logger:    sdklog.NewStructuredLogger(s.logger),
	})
	if err != nil {
		return fmt.Errorf("devserver: dial %s: %w", s.frontendAddr, err)
	}
	defer c.Close()
	ops, wf := c.OperatorService(), c.WorkflowService()
	if o.PostgresURL != "" {
		// SQLite databases get the namespace before the server starts
		// (prepareDatabase); a Postgres one through the frontend.
		if err := registerNamespace(ctx, wf, o); err != nil {
			return err
		}
	}

	var missing map[string]enumspb.IndexedValueType
	err = retryUnavailable(ctx, func() error {
		resp, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: o.Namespace})
		if err != nil {
			return err
		}
		missing = map[string]enumspb.IndexedValueType{}
		for name, want := range o.SearchAttributes {
			if have, ok := resp.GetCustomAttributes()[name]; ok {
				if have != want {
					return fmt.Errorf("search attribute %s exists with type %v, want %v", name, have, want)
				}
				continue
			}
			if _, ok := resp.GetSystemAttributes()[name]; ok {
				return fmt.Errorf("search attribute %s is a system attribute", name)
			}
			missing[name] = want
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("devserver: list search attributes: %w", err)
	}
	if len(missing) > 0 {
		err = retryUnavailable(ctx, func() error {
			_, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
				Namespace:        o.Namespace,
				SearchAttributes: missing,
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("devserver: add search attributes: %w", err)
		}
	}

	var retention time.Duration
	err = retryUnavailable(ctx, func() error {
		resp, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: o.Namespace})
		retention = resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
		return err
	})
	if err != nil {
		return fmt.Errorf("devserver: describe namespace: %w", err)
	}
	retentionChanged := retention != o.Retention
	if retentionChanged {
		err = retryUnavailable(ctx, func() error {
			_, err := wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
				Namespace: o.Namespace,
				Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(o.Retention)},
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("devserver: set retention of %s to %v: %w", o.Namespace, o.Retention, err)
		}
	}
	if len(missing) == 0 && !retentionChanged {
		return nil
	}

	// Each service caches namespaces and refreshes every namespaceRefresh.
	// Wait until the frontend's cache (weak consistency) shows the change,
	// then one more interval for the other services.
	for {
		resp, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       o.Namespace,
			WeakConsistency: true,
		})
		if err == nil && namespaceReady(resp, o) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: namespace %s not refreshed: %w", o.Namespace, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("devserver: namespace %s: %w", o.Namespace, ctx.Err())
	case <-time.After(namespaceRefresh):
	}
	return nil
}

func namespaceReady(resp *workflowservice.DescribeNamespaceResponse, o Options) bool {
	if resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() != o.Retention {
		return false
	}
	aliases := map[string]bool{}
	for _, alias := range resp.GetConfig().GetCustomSearchAttributeAliases() {
		aliases[alias] = true
	}
	for name := range o.SearchAttributes {
		if !aliases[name] {
			return false
		}
	}
	return true
}

// retryUnavailable runs f until it succeeds, fails with an error other than
// Unavailable or NamespaceNotFound (both happen while a fresh server warms
// up), or ctx ends.
// registerNamespace registers o.Namespace with o.Retention unless it
// exists.
func registerNamespace(ctx context.Context, wf workflowservice.WorkflowServiceClient, o Options) error {
	for {
		_, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: o.Namespace})
		var notFound *serviceerror.NamespaceNotFound
		var unavailable *serviceerror.Unavailable
		switch {
		case err == nil:
			return nil
		case errors.As(err, &notFound):
			_, err = wf.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
				Namespace:                        o.Namespace,
				WorkflowExecutionRetentionPeriod: durationpb.New(o.Retention),
			})
			var exists *serviceerror.NamespaceAlreadyExists
			if err != nil && !errors.As(err, &exists) && !errors.As(err, &unavailable) {
				return fmt.Errorf("devserver: register namespace %s: %w", o.Namespace, err)
			}
		case !errors.As(err, &unavailable):
			return fmt.Errorf("devserver: describe namespace %s: %w", o.Namespace, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: namespace %s: %w", o.Namespace, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func retryUnavailable(ctx context.Context, f func() error) error {
	for {
		err := f()
		var unavailable *serviceerror.Unavailable
		var nsNotFound *serviceerror.NamespaceNotFound
		if err == nil || !(errors.As(err, &unavailable) || errors.As(err, &nsNotFound)) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitHTTP polls url until it answers 200 or ctx ends (at most setupTimeout).
func waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
