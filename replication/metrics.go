package replication

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
)

// Metrics are a follower's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	appliedLSN   prometheus.Gauge
	headLSN      prometheus.Gauge
	lagEntries   prometheus.Gauge
	lagSeconds   prometheus.Gauge
	connected    prometheus.Gauge
	appliedTotal prometheus.Counter
	batches      prometheus.Counter
	reconnects   prometheus.Counter
	applyDelay   prometheus.Histogram
	rejoins      prometheus.Counter
	quarantined  prometheus.Counter
}

// NewMetrics registers a follower's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	g, c := gauge("replication"), counter("replication")
	m := &Metrics{
		appliedLSN:   g("applied_lsn", "LSN of the last changelog entry applied from the writer."),
		headLSN:      g("head_lsn", "Head LSN of the writer, as last heard."),
		lagEntries:   g("lag_entries", "Changelog entries the writer has that this region has not applied."),
		lagSeconds:   g("lag_seconds", "Commit time of the writer's head minus that of the last applied entry."),
		connected:    g("connected", "1 while the stream from the writer is connected."),
		appliedTotal: c("applied_entries_total", "Changelog entries applied from the writer."),
		batches:      c("apply_batches_total", "Apply transactions committed."),
		reconnects:   c("stream_reconnects_total", "Times the stream from the writer was lost."),
		rejoins:      c("rejoins_total", "Times this region rejoined a writer by rewinding divergent entries."),
		quarantined:  c("quarantined_entries_total", "Divergent entries this region sent to the quarantine when rejoining."),
		applyDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tandem", Subsystem: "replication", Name: "apply_delay_seconds",
			Help:    "Time from an entry's commit on the writer to its apply here.",
			Buckets: []float64{.0001, .00025, .0005, .00075, .001, .0015, .002, .003, .005, .0075, .01, .015, .02, .03, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	reg.MustRegister(m.appliedLSN, m.headLSN, m.lagEntries, m.lagSeconds, m.connected, m.appliedTotal, m.batches, m.reconnects, m.applyDelay, m.rejoins, m.quarantined)
	return m
}

func (m *Metrics) observeStatus(s tandem.FollowStatus) {
	if m == nil {
		return
	}
	m.appliedLSN.Set(float64(s.Applied.LSN))
	m.headLSN.Set(float64(s.Head.LSN))
	m.lagEntries.Set(float64(s.Lag.Entries))
	m.lagSeconds.Set(s.Lag.Seconds)
	if s.Connected {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

func (m *Metrics) applied(batch []tandem.Change, now time.Time) {
	if m == nil {
		return
	}
	m.appliedTotal.Add(float64(len(batch)))
	m.batches.Inc()
	for _, c := range batch {
		m.applyDelay.Observe(now.Sub(c.CommitTime).Seconds())
	}
}

func (m *Metrics) reconnect() {
	if m == nil {
		return
	}
	m.reconnects.Inc()
}

func (m *Metrics) rejoined(n int) {
	if m == nil {
		return
	}
	m.rejoins.Inc()
	m.quarantined.Add(float64(n))
}

// gauge and counter return constructors of tandem's metrics in a subsystem.
func gauge(subsystem string) func(name, help string) prometheus.Gauge {
	return func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: subsystem, Name: name, Help: help})
	}
}

func counter(subsystem string) func(name, help string) prometheus.Counter {
	return func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tandem", Subsystem: subsystem, Name: name, Help: help})
	}
}
