// Package metrics is a process's Prometheus registry: the Temporal SDK
// client's metrics (through the SDK's OpenTelemetry contrib and the
// OpenTelemetry Prometheus exporter), the HTTP API's request metrics, and
// the Go runtime and process collectors. The api process serves it on GET
// /metrics; a worker serves it on METRICS_ADDR.
//
// Each process builds its own registry (no library globals): two processes
// in one test binary do not mix their numbers.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/workflow-backend/workflow-backend/internal/httpserve"
)

// Metrics is one process's registry. Create it with New; it is safe for
// concurrent use.
type Metrics struct {
	registry *prometheus.Registry
	temporal client.MetricsHandler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New builds the registry. logger receives errors of the SDK's meter
// (which the contrib would otherwise panic on).
func New(logger *slog.Logger) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		// One target per process: the scrape's job/instance labels say
		// which, so the target_info series adds nothing.
		otelprom.WithoutTargetInfo(),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	m := &Metrics{
		registry: reg,
		temporal: temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
			Meter: provider.Meter("temporal-sdk-go"),
			// The SDK documents its counters as ever-increasing: exported
			// as Prometheus counters (…_total), not gauges.
			UseMonotonicCounters: true,
			OnError: func(err error) {
				logger.Warn("temporal SDK metric", "error", err)
			},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered by the API, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request of the API, by method, route pattern and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route", "status"}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// Temporal is the handler to set as client.Options.MetricsHandler: the SDK
// reports its client, worker, workflow and activity metrics through it
// (temporal_request_total, temporal_workflow_completed_total, …).
func (m *Metrics) Temporal() client.MetricsHandler { return m.temporal }

// ObserveRequest records one answered HTTP request. route is the route
// pattern (/api/executions/:executionId), never the raw path, so the
// number of series stays bounded.
func (m *Metrics) ObserveRequest(method, route string, status int, elapsed time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, code).Inc()
	m.latency.WithLabelValues(method, route, code).Observe(elapsed.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Serve serves Handler on GET /metrics of ln until ctx ends (a worker's
// METRICS_ADDR).
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return httpserve.Serve(ctx, srv, ln, 5*time.Second)
}
