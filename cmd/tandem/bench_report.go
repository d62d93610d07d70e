package main

// This file holds the measuring side of `tandem bench`: reading the standby's
// metrics, quantiles of histogram buckets and of samples, and the report.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// bucket is one cumulative histogram bucket: count observations ≤ upper.
type bucket struct {
	upper float64
	count float64
}

// replicationSample is what one scrape of a region's /metrics says about
// replication.
type replicationSample struct {
	at         time.Time
	delay      []bucket // cumulative, ascending, ending with +Inf
	delaySum   float64
	applied    float64
	batches    float64
	lagEntries float64
	headLSN    float64
}

// scrapeReplication reads base/metrics.
func scrapeReplication(ctx context.Context, client *http.Client, base string) (replicationSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return replicationSample{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return replicationSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return replicationSample{}, fmt.Errorf("GET %s/metrics: %s", base, resp.Status)
	}
	s, err := parseReplicationMetrics(resp.Body)
	if err != nil {
		return s, fmt.Errorf("parse %s/metrics: %w", base, err)
	}
	s.at = time.Now()
	return s, nil
}

// parseReplicationMetrics reads the replication metrics out of the
// Prometheus text format. Series of the same metric are summed; a region
// exports one.
func parseReplicationMetrics(r io.Reader) (replicationSample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return replicationSample{}, err
	}
	var s replicationSample
	hist, ok := fams[metricApplyDelay]
	if !ok {
		return s, fmt.Errorf("no %s: is this a region's /metrics?", metricApplyDelay)
	}
	for _, m := range hist.GetMetric() {
		bs := histogramBuckets(m.GetHistogram())
		if s.delay == nil {
			s.delay = bs
		} else if s.delay, err = addBuckets(s.delay, bs); err != nil {
			return s, err
		}
		s.delaySum += m.GetHistogram().GetSampleSum()
	}
	sum := func(name string) float64 {
		var v float64
		for _, m := range fams[name].GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
		return v
	}
	s.applied, s.batches, s.lagEntries, s.headLSN = sum(metricApplied), sum(metricBatches), sum(metricLagEntries), sum(metricHeadLSN)
	return s, nil
}

// histogramBuckets returns h's cumulative buckets in ascending order,
// ending with +Inf.
func histogramBuckets(h *dto.Histogram) []bucket {
	var bs []bucket
	for _, b := range h.GetBucket() {
		c := b.GetCumulativeCountFloat()
		if c == 0 {
			c = float64(b.GetCumulativeCount())
		}
		bs = append(bs, bucket{upper: b.GetUpperBound(), count: c})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].upper < bs[j].upper })
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].upper, 1) {
		total := h.GetSampleCountFloat()
		if total == 0 {
			total = float64(h.GetSampleCount())
		}
		bs = append(bs, bucket{upper: math.Inf(1), count: total})
	}
	return bs
}

func sameBounds(a, b []bucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].upper != b[i].upper {
			return false
		}
	}
	return true
}

func addBuckets(a, b []bucket) ([]bucket, error) {
	if !sameBounds(a, b) {
		return nil, errors.New("series of the apply-delay histogram have different buckets")
	}
	out := slices.Clone(a)
	for i := range out {
		out[i].count += b[i].count
	}
	return out, nil
}

// histogramDelta returns the observations made between two scrapes of the
// same cumulative histogram.
func histogramDelta(before, after []bucket) ([]bucket, error) {
	if !sameBounds(before, after) {
		return nil, errors.New("the histogram's buckets changed between scrapes")
	}
	out := make([]bucket, len(after))
	for i := range after {
		d := after[i].count - before[i].count
		if d < 0 {
			return nil, errors.New("the histogram went down between scrapes: did the standby restart?")
		}
		out[i] = bucket{upper: after[i].upper, count: d}
	}
	return out, nil
}

// bucketQuantile estimates the q-quantile of cumulative buckets (ascending,
// last +Inf) the way Prometheus's histogram_quantile does: linear
// interpolation within the bucket the rank falls in, from 0 for the first
// bucket; a rank in the +Inf bucket gives the largest finite bound. It
// returns NaN for an empty histogram.
func bucketQuantile(q float64, bs []bucket) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	case len(bs) < 2 || !math.IsInf(bs[len(bs)-1].upper, 1):
		return math.NaN()
	}
	// Cumulative counts should never go down; make them monotonic as
	// Prometheus does, in case of float noise.
	bs = slices.Clone(bs)
	for i := 1; i < len(bs); i++ {
		bs[i].count = max(bs[i].count, bs[i-1].count)
	}
	total := bs[len(bs)-1].count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	b := sort.Search(len(bs)-1, func(i int) bool { return bs[i].count >= rank })
	if b == len(bs)-1 {
		return bs[len(bs)-2].upper
	}
	if b == 0 && bs[0].upper <= 0 {
		return bs[0].upper
	}
	start, end, count := 0.0, bs[b].upper, bs[b].count
	if b > 0 {
		start = bs[b-1].upper
		count -= bs[b-1].count
		rank -= bs[b-1].count
	}
	return start + (end-start)*(rank/count)
}

// maxBucketBound returns the upper bound of the highest bucket that holds
// an observation (+Inf when that is the overflow bucket), or NaN when none
// does.
func maxBucketBound(bs []bucket) float64 {
	for i := len(bs) - 1; i >= 0; i-- {
		below := 0.0
		if i > 0 {
			below = bs[i-1].count
		}
		if bs[i].count > below {
			return bs[i].upper
		}
	}
	return math.NaN()
}

// percentile returns the p-th percentile (0 < p ≤ 1) of sorted by the
// nearest-rank method: the smallest sample with at least p of the samples at
// or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// benchResult is what `tandem bench` reports. Times are in milliseconds.
type benchResult struct {
	Target          string  `json:"target"`
	Standby         string  `json:"standby"`
	CPUs            int     `json:"cpus"`
	GoVersion       string  `json:"goVersion"`
	Workers         int     `json:"workers"`
	WarmupSeconds   float64 `json:"warmupSeconds"`
	DurationSeconds float64 `json:"durationSeconds"`
	TargetRate      float64 `json:"targetRate"`
	AchievedRate    float64 `json:"achievedRate"` // successful writes per second of the window
	Requests        struct {
		Scheduled int64          `json:"scheduled"`
		OK        int64          `json:"ok"`
		Failed    int64          `json:"failed"`
		Dropped   int64          `json:"dropped"` // due while every worker was busy; never sent
		Errors    map[string]int `json:"errors,omitempty"`
	} `json:"requests"`
	// WriteLatencyMs is measured from each write's scheduled send time to
	// the end of its response, over successful writes; exact percentiles.
	WriteLatencyMs latencySummary `json:"writeLatencyMs"`
	// ServiceTimeMs is the same from the actual send time.
	ServiceTimeMs latencySummary `json:"serviceTimeMs"`
	Replication   struct {
		// LagMs is the standby's apply delay (writer commit stamp → applied
		// on the standby), estimated from histogram buckets like
		// histogram_quantile. MaxLEMs is the bound of the highest non-empty
		// bucket (null: the overflow bucket).
		LagMs struct {
			P50   float64  `json:"p50"`
			P90   float64  `json:"p90"`
			P99   float64  `json:"p99"`
			MaxLE *float64 `json:"maxLE"`
			Mean  float64  `json:"mean"`
		} `json:"lagMs"`
		AppliedEntries       float64 `json:"appliedEntries"`
		ApplyBatches         float64 `json:"applyBatches"`
		ApplyEntriesPerSec   float64 `json:"applyEntriesPerSecond"`
		EntriesPerBatch      float64 `json:"entriesPerBatch"`
		CatchUpMs            float64 `json:"catchUpMs"` // from the end of the load until lag was 0
		WindowSeconds        float64 `json:"windowSeconds"`
		LargestFiniteBoundMs float64 `json:"largestFiniteBoundMs"`
	} `json:"replication"`
}

type latencySummary struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func summarizeLatencies(ds []time.Duration) latencySummary {
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return latencySummary{P50: ms(percentile(ds, .50)), P90: ms(percentile(ds, .90)), P99: ms(percentile(ds, .99)), Max: ms(percentile(ds, 1))}
}

func summarize(o benchOptions, samples []benchSample, c *benchCounters, before, after replicationSample, loadEnd time.Time) (*benchResult, error) {
	r := &benchResult{
		Target: o.target, Standby: o.standby, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Workers: o.workers, WarmupSeconds: o.warmup.Seconds(), DurationSeconds: o.duration.Seconds(), TargetRate: o.rate,
	}
	r.Requests.Scheduled, r.Requests.OK, r.Requests.Failed, r.Requests.Dropped = c.sent.Load(), c.ok.Load(), c.failed.Load(), c.dropped.Load()
	r.AchievedRate = float64(r.Requests.OK) / o.duration.Seconds()
	var lat, svc []time.Duration
	for _, s := range samples {
		if s.err != nil {
			if r.Requests.Errors == nil {
				r.Requests.Errors = map[string]int{}
			}
			r.Requests.Errors[errorKind(s.err)]++
			continue
		}
		lat, svc = append(lat, s.latency), append(svc, s.service)
	}
	r.WriteLatencyMs, r.ServiceTimeMs = summarizeLatencies(lat), summarizeLatencies(svc)

	delta, err := histogramDelta(before.delay, after.delay)
	if err != nil {
		return nil, err
	}
	rep := &r.Replication
	ms := func(s float64) float64 { return s * 1000 }
	rep.LagMs.P50, rep.LagMs.P90, rep.LagMs.P99 = ms(bucketQuantile(.5, delta)), ms(bucketQuantile(.9, delta)), ms(bucketQuantile(.99, delta))
	if m := maxBucketBound(delta); !math.IsNaN(m) && !math.IsInf(m, 1) {
		v := ms(m)
		rep.LagMs.MaxLE = &v
	}
	if len(delta) >= 2 {
		rep.LargestFiniteBoundMs = ms(delta[len(delta)-2].upper)
	}
	if n := delta[len(delta)-1].count; n > 0 {
		rep.LagMs.Mean = ms((after.delaySum - before.delaySum) / n)
	}
	rep.AppliedEntries = after.applied - before.applied
	rep.ApplyBatches = after.batches - before.batches
	rep.WindowSeconds = after.at.Sub(before.at).Seconds()
	if rep.WindowSeconds > 0 {
		rep.ApplyEntriesPerSec = rep.AppliedEntries / rep.WindowSeconds
	}
	if rep.ApplyBatches > 0 {
		rep.EntriesPerBatch = rep.AppliedEntries / rep.ApplyBatches
	}
	rep.CatchUpMs = float64(after.at.Sub(loadEnd)) / float64(time.Millisecond)
	return r, nil
}

// errorKind groups a failed write for the report: its status code, or the
// kind of transport error.
func errorKind(err error) string {
	var st *errStatus
	switch {
	case errors.As(err, &st):
		return "HTTP " + strconv.Itoa(st.code)
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "timeout"
	default:
		return "transport error"
	}
}

// MarshalJSON writes quantiles of an empty histogram (NaN, which JSON
// cannot carry) as -1.
func (r *benchResult) MarshalJSON() ([]byte, error) {
	type plain benchResult
	c := *r
	for _, f := range []*float64{&c.Replication.LagMs.P50, &c.Replication.LagMs.P90, &c.Replication.LagMs.P99} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = -1
		}
	}
	return json.Marshal((*plain)(&c))
}

func printBenchResult(w io.Writer, r *benchResult) {
	rep := r.Replication
	fmtMs := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	}
	maxLE := "-"
	switch {
	case rep.LagMs.MaxLE != nil:
		maxLE = "≤ " + fmtMs(*rep.LagMs.MaxLE)
	case rep.AppliedEntries > 0:
		maxLE = "> " + fmtMs(rep.LargestFiniteBoundMs)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("target", r.Target+" (standby "+r.Standby+")")
	row("window", fmt.Sprintf("%gs after %gs warm-up, %d workers, %d CPUs, %s", r.DurationSeconds, r.WarmupSeconds, r.Workers, r.CPUs, r.GoVersion))
	row("target rate", fmt.Sprintf("%g writes/s", r.TargetRate))
	row("achieved rate", fmt.Sprintf("%.1f writes/s", r.AchievedRate))
	row("requests", fmt.Sprintf("%d ok, %d failed, %d dropped (of %d scheduled)", r.Requests.OK, r.Requests.Failed, r.Requests.Dropped, r.Requests.Scheduled))
	if len(r.Requests.Errors) > 0 {
		var kinds []string
		for k, n := range r.Requests.Errors {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(kinds)
		row("failures", strings.Join(kinds, ", "))
	}
	l := r.WriteLatencyMs
	row("write latency¹", fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.Max)))
	s := r.ServiceTimeMs
	row("service time²", fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", fmtMs(s.P50), fmtMs(s.P90), fmtMs(s.P99), fmtMs(s.Max)))
	row("replication lag³", fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  mean %s", fmtMs(rep.LagMs.P50), fmtMs(rep.LagMs.P90), fmtMs(rep.LagMs.P99), maxLE, fmtMs(rep.LagMs.Mean)))
	row("apply throughput", fmt.Sprintf("%.1f entries/s (%.0f entries in %.1fs)", rep.ApplyEntriesPerSec, rep.AppliedEntries, rep.WindowSeconds))
	row("apply batches", fmt.Sprintf("%.0f, %.2f entries per batch", rep.ApplyBatches, rep.EntriesPerBatch))
	row("caught up", fmt.Sprintf("%.0f ms after the load ended", rep.CatchUpMs))
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "¹ exact percentiles of successful writes, from each write's scheduled send time to the end of its response")
	fmt.Fprintln(w, "² the same from the actual send time (differs from ¹ when the load generator falls behind its schedule)")
	fmt.Fprintln(w, "³ writer commit stamp → applied on the standby, per entry; interpolated within the standby's histogram buckets")
	fmt.Fprintln(w, "  like Prometheus histogram_quantile; max is the bound of the highest non-empty bucket")
}
