package edge

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics counts the requests the edge proxies. A nil *Metrics counts nothing.
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	failovers *prometheus.CounterVec
}

// NewMetrics creates the edge metrics and registers them on reg; a nil reg
// registers them nowhere. It panics if reg already holds them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_edge_requests_total",
			Help: "Requests proxied by the edge, by the region that answered (none if no region did), method and status code.",
		}, []string{"region", "method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tandem_edge_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, by answering region and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"region", "method"}),
		failovers: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_edge_origin_failovers_total",
			Help: "GET and HEAD requests retried on another region after a region failed to answer or answered 5xx.",
		}, []string{"from", "to"}),
	}
}

func (m *Metrics) observeRequest(region, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(region, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(region, method).Observe(d.Seconds())
}

func (m *Metrics) observeFailover(from, to string) {
	if m == nil {
		return
	}
	m.failovers.WithLabelValues(from, to).Inc()
}

// methodLabel keeps label cardinality bounded whatever methods clients send.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
