package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/workflow-backend/workflow-backend/internal/memguard"
)

// WatchMemory exports the memory guard's state, read from stats at each
// scrape.
func (m *Metrics) WatchMemory(stats func() memguard.Stats) error {
	if err := m.registry.Register(memoryCollector{stats: stats}); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// memorySeries are the series of the memory guard's state, in the order
// memoryValues gives their values.
var memorySeries = []struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}{
	{memoryDesc("in_use_bytes", "Memory the process holds, as the memory guard last read it."), prometheus.GaugeValue},
	{memoryDesc("max_bytes", "The memory budget, MAX_MEMORY."), prometheus.GaugeValue},
	{memoryDesc("threshold_bytes", "Memory above which the process is under pressure (MEMORY_THRESHOLD x MAX_MEMORY)."), prometheus.GaugeValue},
	{memoryDesc("pressure", "1 while memory is above the threshold: new executions are refused, no new worker tasks."), prometheus.GaugeValue},
	{memoryDesc("pressure_episodes_total", "Times memory crossed the threshold."), prometheus.CounterValue},
	{memoryDesc("refused_requests_total", "Requests refused with 503 because of memory pressure."), prometheus.CounterValue},
	{memoryDesc("withheld_slots_total", "Worker task slots that waited because of memory pressure."), prometheus.CounterValue},
}

func memoryDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("workflow_backend_memory_"+name, help, nil, nil)
}

// memoryValues are the values of memorySeries.
func memoryValues(s memguard.Stats) []float64 {
	pressure := 0.0
	if s.UnderPressure {
		pressure = 1
	}
	return []float64{float64(s.InUseBytes), float64(s.MaxBytes), float64(s.ThresholdBytes), pressure,
		float64(s.Episodes), float64(s.Refused), float64(s.Withheld)}
}

// memoryCollector reads the guard's state once per scrape, so that the
// series of one scrape agree with each other.
type memoryCollector struct {
	stats func() memguard.Stats
}

func (c memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range memorySeries {
		ch <- s.desc
	}
}

func (c memoryCollector) Collect(ch chan<- prometheus.Metric) {
	for i, v := range memoryValues(c.stats()) {
		ch <- prometheus.MustNewConstMetric(memorySeries[i].desc, memorySeries[i].kind, v)
	}
}
