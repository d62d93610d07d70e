package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEdgeRequestsFromMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_edge_requests_total", Help: "h"}, []string{"region", "method", "code"})
	reg.MustRegister(requests)
	requests.WithLabelValues("us-east-1", "GET", "200").Add(90)
	requests.WithLabelValues("us-east-1", "POST", "503").Add(7)
	requests.WithLabelValues("none", "POST", "502").Add(3)
	requests.WithLabelValues("us-east-1", "GET", "404").Add(5)
	total, errors := edgeRequests(reg)()
	if total != 105 || errors != 10 {
		t.Fatalf("edge requests = %v total, %v errors; want 105 and 10", total, errors)
	}
}
