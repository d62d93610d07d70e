package control

import (
	"context"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// Dashboard sampling: a sample of the edge's request metrics is taken on a
// dashboard call at most every dashboardEvery, and the newest
// dashboardSamples are kept, so the series cover about two minutes.
const (
	dashboardEvery   = time.Second
	dashboardSamples = 61
)

// Dashboard is what the console's dashboard draws: per-region request rate,
// 5xx share and p99 latency at the edge, each region's health and lag, the
// alarms, and the newest state changes and runbooks.
type Dashboard struct {
	At       time.Time         `json:"at"`
	State    tandem.AppState   `json:"state"`
	Writer   string            `json:"writer"`
	Epoch    uint64            `json:"epoch"`
	Regions  []DashboardRegion `json:"regions"`
	Alarms   []Alarm           `json:"alarms"`
	Events   []Event           `json:"events"`
	Runbooks []Runbook         `json:"runbooks"` // without their steps
}

// DashboardRegion is one region's row: Series is oldest first, Latest its
// last point (zero before two samples exist).
type DashboardRegion struct {
	Name   string         `json:"name"`
	Series []RatePoint    `json:"series"`
	Latest RatePoint      `json:"latest"`
	Health []HealthResult `json:"health"`
	Lag    *tandem.Lag    `json:"lag,omitempty"`
}

// RatePoint is the edge's traffic to one region between two samples.
type RatePoint struct {
	At          time.Time `json:"at"`
	RequestRate float64   `json:"requestRate"` // requests per second
	ErrorRate   float64   `json:"errorRate"`   // share of requests answered 5xx, 0..1
	P99Ms       float64   `json:"p99Ms"`       // 0 when there were no requests
}

// edgeSample is the edge's cumulative request metrics of one region.
type edgeSample struct {
	total, errors float64
	bounds        []float64 // histogram upper bounds, ascending, +Inf excluded
	counts        []float64 // cumulative counts per bound
	count         float64   // observations, all buckets
}

type sample struct {
	at      time.Time
	regions map[string]edgeSample
}

// dashboardSampler keeps the newest samples of a gatherer.
type dashboardSampler struct {
	mu      sync.Mutex
	samples []sample
}

// sample takes a sample if the newest is older than dashboardEvery and
// returns a copy of those kept.
func (d *dashboardSampler) sample(g prometheus.Gatherer, now time.Time) []sample {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g != nil && (len(d.samples) == 0 || now.Sub(d.samples[len(d.samples)-1].at) >= dashboardEvery) {
		if families, err := g.Gather(); err == nil {
			d.samples = append(d.samples, sample{at: now, regions: edgeSamples(families)})
			if len(d.samples) > dashboardSamples {
				d.samples = append(d.samples[:0], d.samples[len(d.samples)-dashboardSamples:]...)
			}
		}
	}
	return append([]sample(nil), d.samples...)
}

// edgeSamples reads the edge's request counter and duration histogram by
// answering region, summed over methods and codes.
func edgeSamples(families []*dto.MetricFamily) map[string]edgeSample {
	out := map[string]edgeSample{}
	for _, f := range families {
		switch f.GetName() {
		case "tandem_edge_requests_total":
			for _, m := range f.GetMetric() {
				region, code := label(m, "region"), label(m, "code")
				s := out[region]
				v := m.GetCounter().GetValue()
				s.total += v
				if strings.HasPrefix(code, "5") {
					s.errors += v
				}
				out[region] = s
			}
		case "tandem_edge_request_duration_seconds":
			for _, m := range f.GetMetric() {
				region := label(m, "region")
				s := out[region]
				h := m.GetHistogram()
				s.count += float64(h.GetSampleCount())
				var i int
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						continue
					}
					if i == len(s.bounds) {
						s.bounds = append(s.bounds, b.GetUpperBound())
						s.counts = append(s.counts, 0)
					}
					s.counts[i] += float64(b.GetCumulativeCount())
					i++
				}
				out[region] = s
			}
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// ratePoint is the traffic between samples a and b (b the later), taken
// dt apart.
func ratePoint(a, b edgeSample, at time.Time, dt time.Duration) RatePoint {
	p := RatePoint{At: at}
	n := b.total - a.total
	if dt <= 0 || n <= 0 {
		return p
	}
	p.RequestRate = n / dt.Seconds()
	p.ErrorRate = max(0, b.errors-a.errors) / n
	if len(a.counts) != len(b.counts) {
		a = edgeSample{} // the histogram appeared between the samples
	}
	counts := make([]float64, len(b.counts))
	for i := range counts {
		counts[i] = b.counts[i]
		if i < len(a.counts) {
			counts[i] -= a.counts[i]
		}
	}
	p.P99Ms = quantile(0.99, b.bounds, counts, b.count-a.count) * 1000
	return p
}

// quantile estimates the q-quantile of observations in histogram buckets
// (cumulative counts per ascending upper bound, total including those above
// the last bound) by linear interpolation within the bucket, as Prometheus'
// histogram_quantile does; above the last bound it answers the last bound.
func quantile(q float64, bounds, cumulative []float64, total float64) float64 {
	if total <= 0 || len(bounds) == 0 {
		return 0
	}
	rank := q * total
	i := sort.Search(len(cumulative), func(i int) bool { return cumulative[i] >= rank })
	if i == len(cumulative) {
		return bounds[len(bounds)-1]
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = bounds[i-1], cumulative[i-1]
	}
	in := cumulative[i] - below
	if in <= 0 {
		return bounds[i]
	}
	return lower + (bounds[i]-lower)*(rank-below)/in
}

// series turns successive samples into each region's rate points.
func series(samples []sample) map[string][]RatePoint {
	out := map[string][]RatePoint{}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		for region, s := range b.regions {
			out[region] = append(out[region], ratePoint(a.regions[region], s, b.at, b.at.Sub(a.at)))
		}
	}
	return out
}

// Dashboard samples the edge's metrics (see Gatherer) and returns the
// dashboard.
func (c *Controller) Dashboard(ctx context.Context) (Dashboard, error) {
	now := time.Now()
	points := series(c.dashboard.sample(c.Gatherer, now))
	snap := c.Snapshot()
	d := Dashboard{At: now.UTC(), State: snap.State, Writer: snap.Writer, Epoch: snap.Epoch, Alarms: c.Alarms()}
	health := map[string]RegionHealth{}
	for _, h := range c.Health() {
		health[h.Region] = h
	}
	for _, reg := range snap.Regions {
		dr := DashboardRegion{Name: reg.Name, Series: points[reg.Name], Health: health[reg.Name].Recent, Lag: health[reg.Name].Lag}
		if dr.Series == nil {
			dr.Series = []RatePoint{}
		}
		if dr.Health == nil {
			dr.Health = []HealthResult{}
		}
		if n := len(dr.Series); n > 0 {
			dr.Latest = dr.Series[n-1]
		}
		d.Regions = append(d.Regions, dr)
	}
	var err error
	if d.Events, err = c.Events(ctx, 30); err != nil {
		return d, err
	}
	rbs, err := c.Runbooks(ctx, 20)
	if err != nil {
		return d, err
	}
	d.Runbooks = []Runbook{}
	for _, rb := range rbs {
		rb.Steps = nil
		d.Runbooks = append(d.Runbooks, rb)
	}
	if d.Alarms == nil {
		d.Alarms = []Alarm{}
	}
	if d.Events == nil {
		d.Events = []Event{}
	}
	return d, nil
}

func (h *Handler) handleDashboard(w http.ResponseWriter, r *http.Request) {
	d, err := h.Controller.Dashboard(r.Context())
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, d)
}
