package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

var inf = math.Inf(1)

func TestBucketQuantile(t *testing.T) {
	// 10 observations: 4 ≤ 1, 4 in (1,2], 2 in (2,4].
	tenObs := []bucket{{1, 4}, {2, 8}, {4, 10}, {inf, 10}}
	for _, tt := range []struct {
		name string
		q    float64
		bs   []bucket
		want float64
	}{
		// rank 5 falls in (1,2] as the 1st of its 4: 1 + 1*(1/4).
		{"median", .5, tenObs, 1.25},
		// rank 2 in the first bucket, interpolated from 0: 1*(2/4).
		{"first bucket from zero", .2, tenObs, 0.5},
		// rank 9.9 in (2,4] as 1.9 of its 2: 2 + 2*(1.9/2).
		{"p99", .99, tenObs, 3.9},
		{"rank on a bound", .4, tenObs, 1},
		{"q=1 is the top of the highest non-empty bucket", 1, tenObs, 4},
		{"q=0", 0, tenObs, 0},
		// 1 of 4 observations beyond the last finite bound: the answer is
		// capped at that bound, as Prometheus does.
		{"rank in the +Inf bucket", .9, []bucket{{1, 3}, {inf, 4}}, 1},
		{"empty bucket skipped", .5, []bucket{{.001, 0}, {.002, 0}, {.005, 10}, {inf, 10}}, .0035},
		{"single bucket plus +Inf", .5, []bucket{{.01, 100}, {inf, 100}}, .005},
		{"empty histogram", .5, []bucket{{1, 0}, {inf, 0}}, math.NaN()},
		{"no +Inf bucket", .5, []bucket{{1, 4}, {2, 8}}, math.NaN()},
		{"q<0", -.1, tenObs, math.Inf(-1)},
		{"q>1", 1.1, tenObs, inf},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := bucketQuantile(tt.q, tt.bs)
			if !sameFloat(got, tt.want) {
				t.Fatalf("bucketQuantile(%g) = %g, want %g", tt.q, got, tt.want)
			}
		})
	}
}

func TestMaxBucketBound(t *testing.T) {
	for _, tt := range []struct {
		name string
		bs   []bucket
		want float64
	}{
		{"highest non-empty", []bucket{{1, 4}, {2, 8}, {4, 8}, {inf, 8}}, 2},
		{"overflow", []bucket{{1, 4}, {2, 8}, {inf, 9}}, inf},
		{"first", []bucket{{1, 4}, {2, 4}, {inf, 4}}, 1},
		{"empty", []bucket{{1, 0}, {inf, 0}}, math.NaN()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxBucketBound(tt.bs); !sameFloat(got, tt.want) {
				t.Fatalf("maxBucketBound = %g, want %g", got, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"p50 of 1..100", hundred, .50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, .90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, .99, 99 * time.Millisecond},
		{"max of 1..100", hundred, 1, 100 * time.Millisecond},
		// Nearest rank: ceil(0.5*5) = 3rd sample.
		{"p50 of five", ms(1, 2, 3, 4, 100), .50, 3 * time.Millisecond},
		// ceil(0.99*5) = 5th sample: with few samples p99 is the max.
		{"p99 of five", ms(1, 2, 3, 4, 100), .99, 100 * time.Millisecond},
		{"one sample", ms(7), .5, 7 * time.Millisecond},
		{"none", nil, .5, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Fatalf("percentile(%g) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestHistogramDelta(t *testing.T) {
	for _, tt := range []struct {
		name          string
		before, after []bucket
		want          []bucket
		err           string
	}{
		{
			name:   "observations in between",
			before: []bucket{{.001, 10}, {.002, 15}, {inf, 16}},
			after:  []bucket{{.001, 110}, {.002, 215}, {inf, 220}},
			want:   []bucket{{.001, 100}, {.002, 200}, {inf, 204}},
		},
		{
			name:   "nothing new",
			before: []bucket{{.001, 10}, {inf, 16}},
			after:  []bucket{{.001, 10}, {inf, 16}},
			want:   []bucket{{.001, 0}, {inf, 0}},
		},
		{
			name:   "counter reset",
			before: []bucket{{.001, 10}, {inf, 16}},
			after:  []bucket{{.001, 2}, {inf, 3}},
			err:    "restart",
		},
		{
			name:   "different bounds",
			before: []bucket{{.001, 10}, {inf, 16}},
			after:  []bucket{{.002, 10}, {inf, 16}},
			err:    "buckets changed",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := histogramDelta(tt.before, tt.after)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("delta = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("delta = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestParseReplicationMetrics(t *testing.T) {
	const text = `# HELP tandem_replication_apply_delay_seconds Time from an entry's commit on the writer to its apply here.
# TYPE tandem_replication_apply_delay_seconds histogram
tandem_replication_apply_delay_seconds_bucket{region="ap-northeast-1",le="0.001"} 3
tandem_replication_apply_delay_seconds_bucket{region="ap-northeast-1",le="0.002"} 7
tandem_replication_apply_delay_seconds_bucket{region="ap-northeast-1",le="+Inf"} 8
tandem_replication_apply_delay_seconds_sum{region="ap-northeast-1"} 0.02
tandem_replication_apply_delay_seconds_count{region="ap-northeast-1"} 8
# TYPE tandem_replication_applied_entries_total counter
tandem_replication_applied_entries_total{region="ap-northeast-1"} 8
# TYPE tandem_replication_apply_batches_total counter
tandem_replication_apply_batches_total{region="ap-northeast-1"} 5
# TYPE tandem_replication_lag_entries gauge
tandem_replication_lag_entries{region="ap-northeast-1"} 2
# TYPE tandem_store_head_lsn gauge
tandem_store_head_lsn{region="ap-northeast-1"} 42
`
	s, err := parseReplicationMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []bucket{{.001, 3}, {.002, 7}, {inf, 8}}
	if len(s.delay) != len(want) {
		t.Fatalf("buckets = %v, want %v", s.delay, want)
	}
	for i := range want {
		if s.delay[i] != want[i] {
			t.Fatalf("buckets = %v, want %v", s.delay, want)
		}
	}
	if s.delaySum != .02 || s.applied != 8 || s.batches != 5 || s.lagEntries != 2 || s.headLSN != 42 {
		t.Fatalf("sample = %+v", s)
	}
	if _, err := parseReplicationMetrics(strings.NewReader("# TYPE x counter\nx 1\n")); err == nil {
		t.Fatal("want an error for metrics without the apply-delay histogram")
	}
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) < 1e-9
}
