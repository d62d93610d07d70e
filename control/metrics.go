package control

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics reports
// nothing.
type Metrics struct {
	healthUp       *prometheus.GaugeVec
	healthChecks   *prometheus.CounterVec
	healthLatency  *prometheus.HistogramVec
	alarmFiring    *prometheus.GaugeVec
	alarmChanges   *prometheus.CounterVec
	stepSeconds    *prometheus.HistogramVec
	rtoSeconds     *prometheus.HistogramVec
	rpoEntries     *prometheus.GaugeVec
	failoverRPO    *prometheus.GaugeVec
	autoFailovers  *prometheus.CounterVec
	autoFailPaused prometheus.Gauge
}

// NewMetrics registers the controller's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		healthUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "health", Name: "ok",
			Help: "1 if the region's last deep health check passed, 0 otherwise."}, []string{"region"}),
		healthChecks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tandem", Subsystem: "health", Name: "checks_total",
			Help: "Deep health checks of each region by result: ok, unhealthy or unreachable."}, []string{"region", "result"}),
		healthLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "tandem", Subsystem: "health", Name: "check_seconds",
			Help: "Time a region took to answer its deep health check.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2}}, []string{"region"}),
		alarmFiring: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "alarm", Name: "firing",
			Help: "1 while the alarm is in the ALARM state for the region, 0 when OK."}, []string{"alarm", "region"}),
		alarmChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tandem", Subsystem: "alarm", Name: "transitions_total",
			Help: "Alarm transitions by alarm, region and new state."}, []string{"alarm", "region", "state"}),
		stepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "tandem", Subsystem: "runbook", Name: "step_seconds",
			Help: "Duration of each runbook step.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5, 10, 30}}, []string{"kind", "step", "region"}),
		rtoSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "tandem", Subsystem: "runbook", Name: "rto_seconds",
			Help:    "Recovery time of each runbook: from detection (automatic failover) or start to the first write acknowledged through the edge.",
			Buckets: []float64{.25, .5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 20, 30}}, []string{"kind", "region"}),
		rpoEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "replication", Name: "rpo_estimate_entries",
			Help: "Entries of the last writer head heard that the standby lacks: what a failover to it would lose now."}, []string{"region"}),
		failoverRPO: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "runbook", Name: "failover_rpo_entries",
			Help: "RPO estimate of the last failover to the region, in entries."}, []string{"region"}),
		autoFailovers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tandem", Subsystem: "autofailover", Name: "decisions_total",
			Help: "Automatic failover decisions on a writer-unhealthy alarm: started or refused (a human must decide)."}, []string{"outcome"}),
		autoFailPaused: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "autofailover", Name: "paused",
			Help: "1 while automatic failover is paused by an operator."}),
	}
	for _, outcome := range []string{"started", "refused"} {
		m.autoFailovers.WithLabelValues(outcome)
	}
	reg.MustRegister(m.healthUp, m.healthChecks, m.healthLatency, m.alarmFiring, m.alarmChanges, m.stepSeconds,
		m.rtoSeconds, m.rpoEntries, m.failoverRPO, m.autoFailovers, m.autoFailPaused)
	return m
}

func (m *Metrics) healthCheck(region string, res HealthResult) {
	if m == nil {
		return
	}
	result := "ok"
	switch {
	case !res.Reachable:
		result = "unreachable"
	case !res.OK:
		result = "unhealthy"
	}
	m.healthUp.WithLabelValues(region).Set(boolGauge(res.OK))
	m.healthChecks.WithLabelValues(region, result).Inc()
	m.healthLatency.WithLabelValues(region).Observe(res.LatencyMs / 1000)
}

func (m *Metrics) alarm(ev AlarmEvent) {
	if m == nil {
		return
	}
	m.alarmFiringSet(ev.Alarm, ev.Region, ev.State == AlarmFiring)
	m.alarmChanges.WithLabelValues(ev.Alarm, ev.Region, ev.State).Inc()
}

func (m *Metrics) alarmFiringSet(alarm, region string, firing bool) {
	if m == nil {
		return
	}
	m.alarmFiring.WithLabelValues(alarm, region).Set(boolGauge(firing))
}

// step observes a finished step of a runbook whose target is region.
func (m *Metrics) step(kind, region string, s Step) {
	if m == nil {
		return
	}
	m.stepSeconds.WithLabelValues(kind, s.Name, region).Observe(s.Ended.Sub(s.Started).Seconds())
}

func (m *Metrics) runbookDone(rb Runbook) {
	if m == nil {
		return
	}
	if rb.RTOMs > 0 {
		m.rtoSeconds.WithLabelValues(rb.Kind, rb.Target).Observe(float64(rb.RTOMs) / 1000)
	}
	if rb.Kind == KindFailover && rb.RPO != nil {
		m.failoverRPO.WithLabelValues(rb.Target).Set(float64(rb.RPO.Entries))
	}
}

func (m *Metrics) rpoEstimate(region string, entries uint64) {
	if m == nil {
		return
	}
	m.rpoEntries.WithLabelValues(region).Set(float64(entries))
}

func (m *Metrics) autoFailover(outcome string) {
	if m == nil {
		return
	}
	m.autoFailovers.WithLabelValues(outcome).Inc()
}

// boolGauge is 1 for true.
func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *Metrics) autoFailoverPaused(paused bool) {
	if m == nil {
		return
	}
	m.autoFailPaused.Set(boolGauge(paused))
}
