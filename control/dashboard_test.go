package control

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.5}
	for _, tc := range []struct {
		name       string
		cumulative []float64
		total      float64
		want       float64
	}{
		{"no observations", []float64{0, 0, 0}, 0, 0},
		{"all in the first bucket", []float64{100, 100, 100}, 100, 0.099},
		{"interpolated in the second", []float64{50, 100, 100}, 100, 0.1 + 0.1*49/50},
		{"in the last bucket", []float64{0, 0, 10}, 10, 0.2 + 0.3*9.9/10},
		{"above the last bound", []float64{90, 90, 90}, 100, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantile(0.99, bounds, tc.cumulative, tc.total); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("quantile = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRatePoint(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.5}
	at := time.Unix(100, 0)
	for _, tc := range []struct {
		name string
		a, b edgeSample
		dt   time.Duration
		want RatePoint
	}{
		{"no traffic", edgeSample{total: 5}, edgeSample{total: 5}, 2 * time.Second, RatePoint{At: at}},
		{"no time", edgeSample{}, edgeSample{total: 5}, 0, RatePoint{At: at}},
		{
			"rate, errors and p99 from the deltas",
			edgeSample{total: 100, errors: 10, bounds: bounds, counts: []float64{100, 100, 100}, count: 100},
			edgeSample{total: 300, errors: 60, bounds: bounds, counts: []float64{100, 300, 300}, count: 300},
			2 * time.Second,
			RatePoint{At: at, RequestRate: 100, ErrorRate: 0.25, P99Ms: (0.1 + 0.1*198/200) * 1000},
		},
		{
			"histogram first seen in the later sample",
			edgeSample{},
			edgeSample{total: 4, bounds: bounds, counts: []float64{0, 0, 4}, count: 4},
			time.Second,
			RatePoint{At: at, RequestRate: 4, P99Ms: (0.2 + 0.3*3.96/4) * 1000},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ratePoint(tc.a, tc.b, at, tc.dt)
			if !got.At.Equal(tc.want.At) || math.Abs(got.RequestRate-tc.want.RequestRate) > 1e-9 ||
				math.Abs(got.ErrorRate-tc.want.ErrorRate) > 1e-9 || math.Abs(got.P99Ms-tc.want.P99Ms) > 1e-6 {
				t.Errorf("ratePoint = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDashboardSampler reads real edge-style metrics: rates come from the
// deltas between samples, and at most dashboardSamples are kept.
func TestDashboardSampler(t *testing.T) {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_edge_requests_total"}, []string{"region", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_edge_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"region", "method"})
	reg.MustRegister(requests, duration)
	var d dashboardSampler
	now := time.Unix(1000, 0)
	d.sample(reg, now)
	for range 8 {
		requests.WithLabelValues("east", "GET", "200").Inc()
		duration.WithLabelValues("east", "GET").Observe(0.004)
	}
	for range 2 {
		requests.WithLabelValues("east", "POST", "503").Inc()
		duration.WithLabelValues("east", "POST").Observe(0.004)
	}
	d.sample(reg, now.Add(time.Second/2)) // too soon: not taken
	s := d.sample(reg, now.Add(2*time.Second))
	if len(s) != 2 {
		t.Fatalf("%d samples, want 2", len(s))
	}
	p := series(s)["east"]
	if len(p) != 1 || p[0].RequestRate != 5 || p[0].ErrorRate != 0.2 || p[0].P99Ms <= 0 || p[0].P99Ms > 5 {
		t.Fatalf("series = %+v, want 5 requests/s, 20%% errors, p99 in (0, 5 ms]", p)
	}
	for i := range 2 * dashboardSamples {
		s = d.sample(reg, now.Add(time.Duration(3+i)*time.Second))
	}
	if len(s) != dashboardSamples {
		t.Fatalf("%d samples kept, want %d", len(s), dashboardSamples)
	}
}
