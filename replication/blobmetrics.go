package replication

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The reasons a blob transfer fails, as the transfer errors metric labels
// them.
const (
	ReasonCorrupt   = "corrupt"   // the bytes did not hash to the reference
	ReasonTruncated = "truncated" // the transfer ended early
	ReasonNotFound  = "not_found" // the writer does not have the blob
	ReasonTransfer  = "transfer"  // the request failed otherwise
)

// BlobMetrics are a blob fetcher's Prometheus metrics. A nil *BlobMetrics
// records nothing.
type BlobMetrics struct {
	pending      prometheus.Gauge
	pendingBytes prometheus.Gauge
	oldest       prometheus.Gauge
	latency      prometheus.Histogram
	errors       *prometheus.CounterVec
	fetched      prometheus.Counter
	fetchedBytes prometheus.Counter
}

// NewBlobMetrics registers a blob fetcher's metrics on reg.
func NewBlobMetrics(reg prometheus.Registerer) *BlobMetrics {
	g, c := gauge("blob"), counter("blob")
	m := &BlobMetrics{
		pending:      g("pending_objects", "Blobs referenced by replicated rows that are not yet fetched and verified here."),
		pendingBytes: g("pending_bytes", "Bytes of the pending blobs."),
		oldest:       g("oldest_pending_seconds", "Age of the oldest pending blob, from the commit of the row that references it."),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tandem", Subsystem: "blob", Name: "replication_seconds",
			Help:    "Time from the commit, on the writer, of a row referencing a blob to the blob fetched and verified here.",
			Buckets: []float64{.005, .01, .02, .03, .05, .075, .1, .15, .2, .3, .5, .75, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tandem", Subsystem: "blob", Name: "transfer_errors_total",
			Help: "Failed blob transfers from the writer, by reason (corrupt, truncated, not_found, transfer).",
		}, []string{"reason"}),
		fetched:      c("fetched_total", "Blobs fetched from the writer and verified."),
		fetchedBytes: c("fetched_bytes_total", "Bytes of the blobs fetched from the writer and verified."),
	}
	for _, r := range []string{ReasonCorrupt, ReasonTruncated, ReasonNotFound, ReasonTransfer} {
		m.errors.WithLabelValues(r)
	}
	reg.MustRegister(m.pending, m.pendingBytes, m.oldest, m.latency, m.errors, m.fetched, m.fetchedBytes)
	return m
}

func (m *BlobMetrics) observePending(n int, size int64) {
	if m == nil {
		return
	}
	m.pending.Set(float64(n))
	m.pendingBytes.Set(float64(size))
	if n == 0 {
		m.oldest.Set(0)
	}
}

func (m *BlobMetrics) observeOldest(seconds float64) {
	if m == nil {
		return
	}
	m.oldest.Set(seconds)
}

func (m *BlobMetrics) verified(size int64, seconds float64) {
	if m == nil {
		return
	}
	m.fetched.Inc()
	m.fetchedBytes.Add(float64(size))
	m.latency.Observe(seconds)
}

func (m *BlobMetrics) failed(reason string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(reason).Inc()
}
