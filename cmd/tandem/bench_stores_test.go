package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/pgserver"
	"github.com/tandemhq/tandem/remittance"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/postgres"
	"github.com/tandemhq/tandem/store/sqlite"
)

var (
	benchRemittanceRates    = flag.String("remittance.rates", "200,500", "creates per second of BenchmarkRemittanceReplication, comma-separated")
	benchRemittanceDuration = flag.Duration("remittance.duration", 20*time.Second, "measured window of BenchmarkRemittanceReplication, per rate and pair")
	benchRemittanceWarmup   = flag.Duration("remittance.warmup", 3*time.Second, "load before each measured window, not counted")
	benchRemittancePoll     = flag.Duration("remittance.poll", 250*time.Microsecond, "pause between the visibility polls of the PostgreSQL standby (the tight-poll pair makes none)")
)

// benchRemittanceWorkers bounds the creates in flight; one due while all
// are busy is dropped and counted.
const benchRemittanceWorkers = 32

// replicatedPair is a writer and a standby under a fixed-rate create load.
type replicatedPair interface {
	// create writes a remittance on the writer.
	create(ctx context.Context) error
	// lags returns, for every write the standby has applied, the writer's
	// commit stamp and the delay until the standby had it.
	lags() []lagSample
	// waitCaughtUp waits until the standby has every committed write.
	waitCaughtUp(ctx context.Context) error
	// note says how lag is measured, for the table.
	note() string
}

// lagSample is one write's replication lag. When the standby's apply time
// is known only within an interval, lag is its upper end and lagLow its
// lower end; otherwise lagLow is zero.
type lagSample struct {
	committed time.Time
	lag       time.Duration
	lagLow    time.Duration
}

// pairResult is one pair at one rate.
type pairResult struct {
	pair, note                string
	rate, achieved            float64
	ok, failed, dropped       int64
	createP50, createP99      time.Duration
	lagP50, lagP99, lagMax    time.Duration
	lagN                      int
	lowP50, lowP99            time.Duration
	bounded                   bool // lowP50, lowP99 are set
	histP50, histP99, catchUp time.Duration
	hasHist                   bool
}

// BenchmarkRemittanceReplication measures remittance creates at fixed rates
// and their replication, one pair after another in one run: tandem's
// follower between two SQLite stores, tandem's follower between two
// PostgreSQL stores (each on its own server), and PostgreSQL's own streaming
// replication from a primary to a hot standby (bench_pgstream_test.go),
// whose lag is measured by polling the standby with a short pause and, in a
// fourth pair, with none. It prints a table after the benchmark lines; the
// numbers are in docs/benchmarks.md.
//
// It is a benchmark in cmd/tandem rather than a `tandem bench` mode because
// it starts and stops PostgreSQL servers and a standby that no deployment
// has, and because the percentile helpers of `tandem bench` live here.
//
//	go test -run '^$' -bench RemittanceReplication -benchtime 1x ./cmd/tandem
func BenchmarkRemittanceReplication(b *testing.B) {
	for _, prog := range []string{"initdb", "postgres", "pg_basebackup"} {
		if _, err := pgserver.Binary(prog); err != nil {
			b.Skipf("skipped: the PostgreSQL pairs need %s, which is on neither PATH nor /usr/lib/postgresql/*/bin", prog)
		}
	}
	var rates []float64
	for _, f := range strings.Split(*benchRemittanceRates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			b.Fatalf("-remittance.rates: %q is not a rate", f)
		}
		rates = append(rates, r)
	}
	pairs := []struct {
		name string
		open func(b *testing.B) replicatedPair
	}{
		{"tandem sqlite→sqlite", func(b *testing.B) replicatedPair { return openTandemPair(b, "sqlite") }},
		{"tandem postgres→postgres", func(b *testing.B) replicatedPair { return openTandemPair(b, "postgres") }},
		{"postgres streaming", func(b *testing.B) replicatedPair { return openStreamingPair(b, *benchRemittancePoll) }},
		{"postgres streaming, tight poll", func(b *testing.B) replicatedPair { return openStreamingPair(b, 0) }},
	}
	var results []pairResult
	for _, p := range pairs {
		b.Run(strings.NewReplacer(" ", "_", "→", "-", ",", "").Replace(p.name), func(b *testing.B) {
			pair := p.open(b)
			for _, rate := range rates {
				b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
					r := runPairLoad(b, pair, rate)
					r.pair = p.name
					results = append(results, r)
					b.ReportMetric(r.achieved, "creates/s")
					b.ReportMetric(ms(r.createP50), "create-p50-ms")
					b.ReportMetric(ms(r.createP99), "create-p99-ms")
					b.ReportMetric(ms(r.lagP50), "lag-p50-ms")
					b.ReportMetric(ms(r.lagP99), "lag-p99-ms")
					b.ReportMetric(ms(r.lagMax), "lag-max-ms")
				})
			}
		})
	}
	// The table goes to stdout: a benchmark with sub-benchmarks prints its
	// own log only with -v.
	fmt.Print(remittanceTable(results))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runPairLoad creates remittances at rate, open loop: each create is due at
// a fixed time whatever the earlier ones did, and its latency runs from
// then, so a slow writer shows in the latency rather than in a slower
// schedule.
func runPairLoad(b *testing.B, pair replicatedPair, rate float64) pairResult {
	ctx := context.Background()
	warmup, window := *benchRemittanceWarmup, *benchRemittanceDuration
	interval := time.Duration(float64(time.Second) / rate)
	hist, hasHist := pair.(interface{ histogram() []bucket })
	var hist0 []bucket // at the window's start
	var (
		mu      sync.Mutex
		latency []time.Duration
		ok      atomic.Int64
		failed  atomic.Int64
		dropped int64
		wg      sync.WaitGroup
	)
	type job struct {
		due      time.Time
		measured bool
	}
	jobs := make(chan job)
	for range benchRemittanceWorkers {
		wg.Go(func() {
			for j := range jobs {
				err := pair.create(ctx)
				d := time.Since(j.due)
				if !j.measured {
					continue
				}
				if err != nil {
					if failed.Add(1) == 1 {
						b.Logf("create: %v", err)
					}
					continue
				}
				ok.Add(1)
				mu.Lock()
				latency = append(latency, d)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	windowStart, end := start.Add(warmup), start.Add(warmup+window)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			break
		}
		time.Sleep(time.Until(due))
		if hasHist && hist0 == nil && !due.Before(windowStart) {
			hist0 = hist.histogram()
		}
		select {
		case jobs <- job{due: due, measured: !due.Before(windowStart)}:
		default:
			if !due.Before(windowStart) {
				dropped++
			}
		}
	}
	close(jobs)
	wg.Wait()
	loadEnd := time.Now()
	if err := pair.waitCaughtUp(ctx); err != nil {
		b.Fatal(err)
	}
	r := pairResult{note: pair.note(), rate: rate, ok: ok.Load(), failed: failed.Load(), dropped: dropped, catchUp: time.Since(loadEnd)}
	r.achieved = float64(r.ok) / window.Seconds()
	slices.Sort(latency)
	r.createP50, r.createP99 = percentile(latency, .50), percentile(latency, .99)
	var lags, lows []time.Duration
	for _, s := range pair.lags() {
		if !s.committed.Before(windowStart) && s.committed.Before(end) {
			lags, lows = append(lags, s.lag), append(lows, s.lagLow)
			r.bounded = r.bounded || s.lagLow != 0
		}
	}
	slices.Sort(lags)
	slices.Sort(lows)
	if r.bounded {
		r.lowP50, r.lowP99 = percentile(lows, .50), percentile(lows, .99)
	}
	r.lagN = len(lags)
	r.lagP50, r.lagP99, r.lagMax = percentile(lags, .50), percentile(lags, .99), percentile(lags, 1)
	if hasHist {
		delta, err := histogramDelta(hist0, hist.histogram())
		if err != nil {
			b.Fatal(err)
		}
		sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
		r.histP50, r.histP99, r.hasHist = sec(bucketQuantile(.5, delta)), sec(bucketQuantile(.99, delta)), true
	}
	return r
}

func remittanceTable(rs []pairResult) string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 2, 4, 2, ' ', 0)
	f := func(d time.Duration) string { return strconv.FormatFloat(ms(d), 'f', 2, 64) }
	fmt.Fprintln(tw, "pair\trate/s\tachieved/s\tok\tfailed\tdropped\tcreate p50 ms\tcreate p99 ms\tlag p50 ms\tlag p99 ms\tlag max ms\tlag samples\tlag lower bound p50/p99 ms\thistogram p50/p99 ms\tcaught up ms")
	for _, r := range rs {
		low, hist := "exact", "-"
		if r.bounded {
			low = f(r.lowP50) + " / " + f(r.lowP99)
		}
		if r.hasHist {
			hist = f(r.histP50) + " / " + f(r.histP99)
		}
		fmt.Fprintf(tw, "%s\t%g\t%.1f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.pair, r.rate, r.achieved, r.ok, r.failed, r.dropped,
			f(r.createP50), f(r.createP99), f(r.lagP50), f(r.lagP99), f(r.lagMax), r.lagN, low, hist, f(r.catchUp))
	}
	tw.Flush()
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.pair] {
			seen[r.pair] = true
			fmt.Fprintf(&sb, "%s: %s\n", r.pair, r.note)
		}
	}
	return sb.String()
}

// tandemPair is a remittance service on a writer store whose changelog a
// tandem follower streams over loopback HTTP into a standby store.
type tandemPair struct {
	svc             *remittance.Service
	writer, standby tandem.Store
	metrics         *replication.Metrics
	reg             *prometheus.Registry

	created atomic.Int64

	mu      sync.Mutex
	applied uint64 // highest LSN seen applied
	samples []lagSample
}

const benchSecret = "bench-secret"

func openTandemPair(b *testing.B, kind string) *tandemPair {
	ctx := context.Background()
	p := &tandemPair{reg: prometheus.NewRegistry()}
	p.metrics = replication.NewMetrics(p.reg)
	p.writer = openBenchStore(b, kind, "writer")
	p.standby = openBenchStore(b, kind, "standby")
	p.svc = remittance.NewService(p.writer)
	for i, s := range []tandem.Store{p.writer, p.standby} {
		if err := remittance.NewService(s).Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.SetRole(ctx, tandem.Role{Writer: i == 0, Epoch: 1}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(&replication.Server{Store: p.writer, Secret: benchSecret})
	f := &replication.Follower{
		Store: p.standby, Region: "standby", Secret: benchSecret, Metrics: p.metrics, Logger: slog.New(slog.DiscardHandler),
		Source:  func() (string, bool) { return srv.URL, true },
		Applied: p.observe,
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { f.Run(runCtx) })
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.CloseClientConnections()
		srv.Close()
	})
	return p
}

// openBenchStore opens a store with the settings `tandem up` uses: SQLite
// with synchronous=FULL, PostgreSQL on its own durable server (fsync and
// synchronous_commit on).
func openBenchStore(b *testing.B, kind, name string) tandem.Store {
	var s tandem.Store
	switch kind {
	case "sqlite":
		s = sqlite.New(filepath.Join(b.TempDir(), name+".db"))
	case "postgres":
		srv, err := pgserver.Start("", pgserver.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(srv.Stop)
		dsn, err := srv.CreateDatabase(context.Background(), "tandem")
		if err != nil {
			b.Fatal(err)
		}
		s = postgres.New(dsn)
	}
	if err := s.(interface{ Open() error }).Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// observe is the follower's Applied hook: one exact sample per entry, the
// first time it is applied.
func (p *tandemPair) observe(batch []tandem.Change) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range batch {
		if c.LSN > p.applied {
			p.applied = c.LSN
			p.samples = append(p.samples, lagSample{committed: c.CommitTime, lag: now.Sub(c.CommitTime)})
		}
	}
}

func (p *tandemPair) create(ctx context.Context) error {
	r := tandem.Remittance{
		SenderName: "Ana Souza", SenderBank: "Banco Um", SenderAccount: "0001-12345",
		ReceiverName: "Kenji Sato", ReceiverBank: "Tokyo Bank", ReceiverAccount: "987654321",
		Amount: 100 + p.created.Add(1), CreatedBy: "bench",
	}
	return p.svc.CreateRemittance(ctx, &r)
}

func (p *tandemPair) lags() []lagSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

func (p *tandemPair) waitCaughtUp(ctx context.Context) error {
	return waitFor(ctx, 60*time.Second, func() error {
		wp, err := p.writer.Position(ctx)
		if err != nil {
			return err
		}
		sp, err := p.standby.Position(ctx)
		if err != nil {
			return err
		}
		if sp.LSN != wp.LSN {
			return fmt.Errorf("standby at LSN %d, writer at %d", sp.LSN, wp.LSN)
		}
		return nil
	})
}

// waitFor calls fn every millisecond until it returns nil, and returns its
// last error after timeout.
func waitFor(ctx context.Context, timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not caught up after %v: %w", timeout, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// histogram returns the follower's apply-delay histogram, to check the
// exact samples against what an operator's dashboard would show.
func (p *tandemPair) histogram() []bucket {
	fams, err := p.reg.Gather()
	if err != nil {
		return nil
	}
	for _, f := range fams {
		if f.GetName() == metricApplyDelay && len(f.GetMetric()) == 1 {
			return histogramBuckets(f.GetMetric()[0].GetHistogram())
		}
	}
	return nil
}

func (p *tandemPair) note() string {
	return "lag is exact per entry, from the follower's Applied hook: applied on the standby minus the entry's commit stamp (the writer stamps it inside the transaction, before COMMIT)"
}
