package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tandemhq/tandem/control"
)

// Defaults of `tandem bench`.
const (
	DefaultBenchRate     = 1000
	DefaultBenchDuration = 30 * time.Second
	DefaultBenchWarmup   = 3 * time.Second
	DefaultBenchWorkers  = 64
	DefaultBenchPortBase = 19080

	// benchPhotos is how many photos the benchmark's comments are spread over.
	benchPhotos = 100
)

// Metric names the benchmark reads from the standby (and, for the head LSN,
// the writer).
const (
	metricApplyDelay = "tandem_replication_apply_delay_seconds"
	metricApplied    = "tandem_replication_applied_entries_total"
	metricBatches    = "tandem_replication_apply_batches_total"
	metricLagEntries = "tandem_replication_lag_entries"
	metricHeadLSN    = "tandem_store_head_lsn"
)

// benchOptions are the flags of `tandem bench`.
type benchOptions struct {
	rate     float64
	duration time.Duration
	warmup   time.Duration
	workers  int
	portBase int
	dir      string
	keep     bool
	target   string
	standby  string
	writer   string
	asJSON   bool
	token    string
}

// runBench is `tandem bench`: a steady, open-loop write load through the
// edge, with write latency measured by the client and replication lag read
// from the standby's apply-delay histogram.
func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchOptions
	fs.Float64Var(&o.rate, "rate", DefaultBenchRate, "writes per second, scheduled at fixed intervals whatever the responses")
	fs.DurationVar(&o.duration, "duration", DefaultBenchDuration, "length of the measured window")
	fs.DurationVar(&o.warmup, "warmup", DefaultBenchWarmup, "load before the measured window, not counted")
	fs.IntVar(&o.workers, "workers", DefaultBenchWorkers, "concurrent requests at most; a write due while all are busy is dropped")
	fs.IntVar(&o.portBase, "port-base", DefaultBenchPortBase, "edge port of the deployment bench starts (regions on N+1, N+2)")
	fs.StringVar(&o.dir, "dir", "", "data `directory` of the deployment bench starts (default: a new temporary directory, removed afterwards)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary data directory")
	fs.StringVar(&o.target, "target", "", "edge `URL` of a running deployment to bench instead of starting one")
	fs.StringVar(&o.standby, "standby", "", "standby region's base `URL`, whose /metrics give the replication lag (with --target)")
	fs.StringVar(&o.writer, "writer", "", "writer region's base `URL` (optional with --target): bench then waits for the standby to reach the writer's head LSN")
	fs.BoolVar(&o.asJSON, "json", false, "print the results as JSON")
	fs.StringVar(&o.token, "token", os.Getenv("TANDEM_TOKEN"), "access token for the writes with --target (env TANDEM_TOKEN); bench signs in as the admin of the deployment it starts")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tandem bench [--rate N] [--duration D] [--target URL --standby URL]\n\nStarts a deployment (tandem up) in a temporary directory, writes comments\nthrough the edge at a steady rate and reports write latency and replication\nlag. With --target it benches a deployment that is already running.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	client := newBenchClient(o.workers)
	if o.target == "" {
		d, err := startBenchDeployment(ctx, client, o)
		if err != nil {
			return err
		}
		defer d.close()
		o.target, o.standby, o.writer, o.token = d.edge, d.standby, d.writer, d.token
	}
	res, err := runBenchLoad(ctx, client, o)
	if err != nil {
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printBenchResult(os.Stdout, res)
	return nil
}

func (o *benchOptions) validate() error {
	switch {
	case o.rate <= 0 || math.IsInf(o.rate, 0) || math.IsNaN(o.rate):
		return fmt.Errorf("--rate must be a positive number of writes per second")
	case o.duration <= 0:
		return fmt.Errorf("--duration must be positive")
	case o.warmup < 0:
		return fmt.Errorf("--warmup must not be negative")
	case o.workers < 1:
		return fmt.Errorf("--workers must be at least 1")
	case o.target == "" && (o.portBase < 1 || o.portBase > 65533):
		return fmt.Errorf("--port-base must be between 1 and 65533")
	case o.target != "" && o.standby == "":
		return fmt.Errorf("--target needs --standby, the standby region's URL, to read replication lag")
	case o.target == "" && (o.standby != "" || o.writer != ""):
		return fmt.Errorf("--standby and --writer go with --target")
	}
	for _, u := range []*string{&o.target, &o.standby, &o.writer} {
		*u = strings.TrimRight(*u, "/")
	}
	return nil
}

func newBenchClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2*workers + 16,
			MaxIdleConnsPerHost: workers + 8,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// benchDeployment is a `tandem up` that bench started as a child process.
type benchDeployment struct {
	cmd                   *exec.Cmd
	done                  chan struct{}
	dir                   string
	removeDir             bool
	edge, writer, standby string
	token                 string // the admin's access token
	logPath               string
	stopOnce              sync.Once
}

// startBenchDeployment runs `tandem up` in a fresh or given directory and
// waits until a write through the edge succeeds.
func startBenchDeployment(ctx context.Context, client *http.Client, o benchOptions) (*benchDeployment, error) {
	for p := o.portBase; p <= o.portBase+2; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return nil, fmt.Errorf("port %d is in use; pick another --port-base: %w", p, err)
		}
		ln.Close()
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	d := &benchDeployment{dir: o.dir, done: make(chan struct{})}
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "tandem-bench-"); err != nil {
			return nil, err
		}
		d.removeDir = !o.keep
	} else if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, err
	}
	d.logPath = filepath.Join(d.dir, "bench-up.log")
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		d.cleanup()
		return nil, err
	}
	url := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }
	d.edge, d.writer, d.standby = url(o.portBase), url(o.portBase+1), url(o.portBase+2)

	d.cmd = exec.Command(exe, "up", "--dir", d.dir, "--port-base", strconv.Itoa(o.portBase), "--restart-delay", "0")
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	// The deployment gets SIGTERM if bench dies, even by SIGKILL.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	err = startWithDeathSignal(d.cmd)
	logFile.Close()
	if err != nil {
		d.cleanup()
		return nil, fmt.Errorf("start tandem up: %w", err)
	}
	go func() {
		d.cmd.Wait()
		close(d.done)
	}()
	fmt.Fprintf(os.Stderr, "bench: started tandem up (pid %d) in %s; its output is in %s\n", d.cmd.Process.Pid, d.dir, d.logPath)
	if err := d.waitReady(ctx, client, 60*time.Second); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// waitReady retries a write through the edge and a scrape of the standby
// until both succeed, the deployment exits or timeout passes.
func (d *benchDeployment) waitReady(ctx context.Context, client *http.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	probe := benchComment("ready-"+randomHex(8), 0)
	var last error
	for {
		if d.token == "" {
			d.token, last = d.signIn(ctx, client)
		}
		if d.token != "" {
			last = postComment(ctx, client, d.edge, d.token, probe)
		}
		if d.token != "" && last == nil {
			_, last = scrapeReplication(ctx, client, d.standby)
			if last == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment not ready within %v: %w (see %s)", timeout, last, d.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.done:
			return fmt.Errorf("tandem up exited while starting: %v (see %s)", d.cmd.ProcessState, d.logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// signIn signs in as the admin `up` created, once it has written the
// credentials.
func (d *benchDeployment) signIn(ctx context.Context, client *http.Client) (string, error) {
	path := filepath.Join(d.dir, adminCredentialsFile)
	creds, err := readAdminCredentials(path)
	if err != nil {
		return "", err
	}
	secret, err := readSecret(filepath.Join(d.dir, "secret"))
	if err != nil {
		return "", err
	}
	tokens, err := signIn(ctx, &control.Client{URL: d.edge, Secret: secret, HTTP: client}, creds, path)
	return tokens.AccessToken, err
}

// close stops the deployment with SIGTERM, kills it after 10 s, and removes
// a temporary data directory.
func (d *benchDeployment) close() {
	d.stopOnce.Do(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "bench: tandem up did not stop within 10s; killing it\n")
			d.cmd.Process.Kill()
			<-d.done
		}
		d.cleanup()
	})
}

func (d *benchDeployment) cleanup() {
	if d.removeDir {
		os.RemoveAll(d.dir)
	} else {
		fmt.Fprintf(os.Stderr, "bench: data kept in %s\n", d.dir)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// benchCommentBody is the reference comment shape.
type benchCommentBody struct {
	CommentID string `json:"commentId"`
	PhotoID   string `json:"photoId"`
	User      string `json:"user"`
	Message   string `json:"message"`
}

func benchComment(id string, seq uint64) benchCommentBody {
	return benchCommentBody{
		CommentID: id,
		PhotoID:   fmt.Sprintf("bench-photo-%d", seq%benchPhotos),
		User:      "bench",
		Message:   "benchmark comment " + strconv.FormatUint(seq, 10),
	}
}

// errStatus is a response that is not 2xx.
type errStatus struct {
	code int
	body string
}

func (e *errStatus) Error() string { return fmt.Sprintf("%d %s", e.code, e.body) }

// postComment posts c through the edge and reads the response to the end,
// so that the connection is reused.
func postComment(ctx context.Context, client *http.Client, edge, token string, c benchCommentBody) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, edge+"/api/comments/"+c.PhotoID, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return &errStatus{code: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	return nil
}

// benchJob is one scheduled write.
type benchJob struct {
	seq      uint64
	due      time.Time
	measured bool
}

// benchSample is one completed write of the measured window.
type benchSample struct {
	latency time.Duration // from the scheduled send time to the end of the response
	service time.Duration // from the actual send time to the end of the response
	err     error
}

// benchCounters are updated by the workers and read by the progress line.
type benchCounters struct {
	sent, ok, failed, dropped atomic.Int64
}

// benchLoad is an open-loop write load: write i is due at begin +
// i*interval whatever the responses, and a write due while every worker is
// busy is dropped, never queued, so slow responses do not slow the schedule.
type benchLoad struct {
	client   *http.Client
	target   string
	token    string
	runID    string // makes comment ids unique across runs
	workers  int
	interval time.Duration

	begin, windowStart, windowEnd time.Time

	jobs           chan benchJob
	inflight       atomic.Int64
	warm, measured benchCounters
	samples        [][]benchSample // per worker, measured window only
	wg             sync.WaitGroup
}

func newBenchLoad(client *http.Client, o benchOptions) (*benchLoad, error) {
	interval := time.Duration(float64(time.Second) / o.rate)
	if interval <= 0 {
		return nil, fmt.Errorf("--rate %g is too high to schedule", o.rate)
	}
	l := &benchLoad{
		client: client, target: o.target, token: o.token, runID: randomHex(6), workers: o.workers, interval: interval,
		jobs:    make(chan benchJob, o.workers),
		samples: make([][]benchSample, o.workers),
	}
	l.begin = time.Now()
	l.windowStart = l.begin.Add(o.warmup)
	l.windowEnd = l.windowStart.Add(o.duration)
	return l, nil
}

// run starts the workers, schedules writes until the window ends and waits
// for the last response.
func (l *benchLoad) run(ctx context.Context) {
	for w := range l.workers {
		l.wg.Add(1)
		go l.work(ctx, w)
	}
	l.schedule(ctx)
	close(l.jobs)
	l.wg.Wait()
}

func (l *benchLoad) work(ctx context.Context, w int) {
	defer l.wg.Done()
	for j := range l.jobs {
		start := time.Now()
		err := postComment(ctx, l.client, l.target, l.token, benchComment(fmt.Sprintf("bench-%s-%d", l.runID, j.seq), j.seq))
		end := time.Now()
		l.inflight.Add(-1)
		c := &l.warm
		if j.measured {
			c = &l.measured
			l.samples[w] = append(l.samples[w], benchSample{latency: end.Sub(j.due), service: end.Sub(start), err: err})
		}
		if err != nil {
			c.failed.Add(1)
		} else {
			c.ok.Add(1)
		}
	}
}

func (l *benchLoad) schedule(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for seq := uint64(0); ; seq++ {
		due := l.begin.Add(time.Duration(seq) * l.interval)
		if !due.Before(l.windowEnd) {
			return
		}
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		j := benchJob{seq: seq, due: due, measured: !due.Before(l.windowStart)}
		c := &l.warm
		if j.measured {
			c = &l.measured
		}
		c.sent.Add(1)
		if l.inflight.Load() >= int64(l.workers) {
			c.dropped.Add(1)
			continue
		}
		l.inflight.Add(1)
		l.jobs <- j
	}
}

// measuredSamples returns the samples of every worker.
func (l *benchLoad) measuredSamples() []benchSample {
	var all []benchSample
	for _, s := range l.samples {
		all = append(all, s...)
	}
	return all
}

// runBenchLoad runs the warm-up and the measured window against o.target,
// scraping the standby as the window starts and once it has caught up after
// the load, and returns the results.
func runBenchLoad(ctx context.Context, client *http.Client, o benchOptions) (*benchResult, error) {
	l, err := newBenchLoad(client, o)
	if err != nil {
		return nil, err
	}
	progressDone := make(chan struct{})
	go benchProgress(progressDone, l.begin, l.windowStart, &l.warm, &l.measured)
	type scrape struct {
		s   replicationSample
		err error
	}
	beforeCh := make(chan scrape, 1)
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(l.windowStart)):
		}
		s, err := scrapeReplication(ctx, client, o.standby)
		beforeCh <- scrape{s, err}
	}()

	l.run(ctx)
	loadEnd := time.Now()
	close(progressDone)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	before := <-beforeCh
	if before.err != nil {
		return nil, fmt.Errorf("scrape standby before the window: %w", before.err)
	}
	fmt.Fprintf(os.Stderr, "bench: load done; waiting for %s to catch up\n", o.standby)
	after, err := waitCaughtUp(ctx, client, o.standby, o.writer, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return summarize(o, l.measuredSamples(), &l.measured, before.s, after, loadEnd)
}

// benchProgress prints a line a second on stderr until done is closed.
func benchProgress(done <-chan struct{}, begin, windowStart time.Time, warm, measured *benchCounters) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastOK int64
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			elapsed := now.Sub(begin).Truncate(time.Second)
			if now.Before(windowStart) {
				fmt.Fprintf(os.Stderr, "bench: %4s  warm-up    ok %d  failed %d  dropped %d\n", elapsed, warm.ok.Load(), warm.failed.Load(), warm.dropped.Load())
				continue
			}
			ok := measured.ok.Load()
			in := now.Sub(windowStart).Seconds()
			fmt.Fprintf(os.Stderr, "bench: %4s  measuring  ok %d  rate %.0f/s (last second %d)  failed %d  dropped %d\n",
				elapsed, ok, float64(ok)/in, ok-lastOK, measured.failed.Load(), measured.dropped.Load())
			lastOK = ok
		}
	}
}

// waitCaughtUp polls the standby until its lag is 0 entries and, when the
// writer is known, it has the writer's head LSN. It returns the last scrape.
func waitCaughtUp(ctx context.Context, client *http.Client, standby, writer string, timeout time.Duration) (replicationSample, error) {
	deadline := time.Now().Add(timeout)
	var want float64 = -1
	if writer != "" {
		w, err := scrapeReplication(ctx, client, writer)
		if err != nil {
			return replicationSample{}, fmt.Errorf("scrape writer: %w", err)
		}
		want = w.headLSN
	}
	for {
		s, err := scrapeReplication(ctx, client, standby)
		if err == nil && s.lagEntries == 0 && s.headLSN >= want {
			return s, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("lag %g entries, head LSN %g of %g", s.lagEntries, s.headLSN, want)
			}
			return s, fmt.Errorf("standby did not catch up within %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
