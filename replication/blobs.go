package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// Defaults of a BlobFetcher.
const (
	DefaultBlobTransfers       = 4
	DefaultBlobMinBackoff      = 100 * time.Millisecond
	DefaultBlobMaxBackoff      = 10 * time.Second
	DefaultBlobScanInterval    = 5 * time.Minute
	DefaultBlobTransferTimeout = 2 * time.Minute
)

// BlobFetcher brings into a follower's blob store the blobs that replicated
// rows reference (see BlobRefs). The follower hands it every batch it
// applies; it fetches each missing blob from Source at BlobPath, and the
// blob store keeps it only if its bytes hash to the reference, so a damaged
// or cut transfer is never stored: it counts as a transfer error and is
// retried with exponential backoff. Several transfers run at once, oldest
// reference first.
//
// It also scans, when it starts and every ScanInterval, for referenced blobs
// that are missing (after a restart, or when a row arrived while the fetcher
// was not running), and forgets pending blobs that no row references any
// more (their rows were deleted).
type BlobFetcher struct {
	Blobs tandem.BlobStore
	// Source returns the base URL of the region to fetch from (the writer,
	// or a peer when this region is the writer), or false when there is
	// none.
	Source func() (string, bool)
	Secret string
	Client *http.Client
	// Referenced returns every blob the region's rows reference, with its
	// size and, as Modified, when its row was created.
	Referenced func(ctx context.Context) ([]tandem.BlobInfo, error)
	Logger     *slog.Logger
	Metrics    *BlobMetrics

	Transfers       int // at once; DefaultBlobTransfers if zero
	MinBackoff      time.Duration
	MaxBackoff      time.Duration
	ScanInterval    time.Duration
	TransferTimeout time.Duration

	mu           sync.Mutex
	pending      map[string]*pendingBlob
	pendingBytes int64
	queue        []string // hashes ready to fetch, oldest reference first
	wake         chan struct{}
	gen          uint64 // scans started; see Scan
	fetched      uint64
	errs         uint64
	lastErr      string
}

// pendingBlob is a referenced blob not yet verified here.
type pendingBlob struct {
	size     int64
	since    time.Time // commit of the first row seen referencing it
	attempts int
	gen      uint64 // the value of gen when it became pending
	waiting  bool   // for a retry after a failure, not in the queue
}

func (f *BlobFetcher) init() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == nil {
		f.pending = map[string]*pendingBlob{}
		f.wake = make(chan struct{})
	}
}

// Applied takes a batch the follower has just applied and queues the blobs
// that its new row images reference. It does not block on transfers, and it
// does not keep changes.
func (f *BlobFetcher) Applied(changes []tandem.Change) {
	f.init()
	f.mu.Lock()
	for _, c := range changes {
		refs := BlobRefs(c.After)
		if len(refs) == 0 {
			continue
		}
		before := map[string]bool{}
		for _, b := range BlobRefs(c.Before) {
			before[b.Hash] = true
		}
		for _, b := range refs {
			if !before[b.Hash] {
				f.enqueueLocked(b.Hash, b.Size, c.CommitTime)
			}
		}
	}
	f.mu.Unlock()
	f.changed()
}

// enqueueLocked makes hash pending unless it is already.
func (f *BlobFetcher) enqueueLocked(hash string, size int64, since time.Time) {
	if p, ok := f.pending[hash]; ok {
		if since.Before(p.since) {
			p.since = since
		}
		return
	}
	f.pending[hash] = &pendingBlob{size: size, since: since, gen: f.gen}
	f.pendingBytes += size
	f.queue = append(f.queue, hash)
}

// forgetLocked ends hash's pending state.
func (f *BlobFetcher) forgetLocked(hash string, p *pendingBlob) {
	delete(f.pending, hash)
	f.pendingBytes -= p.size
}

// changed wakes the workers and updates the pending count and bytes gauges
// (the oldest age is updated every second by Run).
func (f *BlobFetcher) changed() {
	f.mu.Lock()
	close(f.wake)
	f.wake = make(chan struct{})
	n, size := len(f.pending), f.pendingBytes
	f.mu.Unlock()
	f.Metrics.observePending(n, size)
}

// Status returns the pending blobs' count, bytes and age, and the transfer
// counts.
func (f *BlobFetcher) Status() tandem.BlobStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := tandem.BlobStatus{Pending: len(f.pending), PendingBytes: f.pendingBytes, Fetched: f.fetched, TransferErrors: f.errs, LastError: f.lastErr}
	var oldest time.Time
	for _, p := range f.pending {
		if oldest.IsZero() || p.since.Before(oldest) {
			oldest = p.since
		}
	}
	if !oldest.IsZero() {
		st.OldestSeconds = max(0, time.Since(oldest).Seconds())
	}
	return st
}

// Run scans for missing blobs and fetches them until ctx ends.
func (f *BlobFetcher) Run(ctx context.Context) error {
	f.init()
	var wg sync.WaitGroup
	for range orDefault(f.Transfers, DefaultBlobTransfers) {
		wg.Add(1)
		go func() { defer wg.Done(); f.work(ctx) }()
	}
	defer wg.Wait()
	scan := time.NewTicker(orDefault(f.ScanInterval, DefaultBlobScanInterval))
	defer scan.Stop()
	gauges := time.NewTicker(time.Second) // the oldest pending ages
	defer gauges.Stop()
	f.scan(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gauges.C:
			f.Metrics.observeOldest(f.Status().OldestSeconds)
		case <-scan.C:
			f.scan(ctx)
		}
	}
}

func (f *BlobFetcher) scan(ctx context.Context) {
	if err := f.Scan(ctx); err != nil && ctx.Err() == nil {
		f.logger().Warn("scan for missing blobs failed", "err", err)
	}
}

// Scan queues every referenced blob missing from the blob store, and forgets
// the pending blobs that were queued before the scan began and that no row
// references now.
func (f *BlobFetcher) Scan(ctx context.Context) error {
	if f.Referenced == nil {
		return nil
	}
	f.init()
	f.mu.Lock()
	gen := f.gen
	f.gen++
	f.mu.Unlock()

	refs, err := f.Referenced(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	if err := f.Blobs.List(ctx, func(b tandem.BlobInfo) error {
		have[b.Hash] = true
		return nil
	}); err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	referenced := make(map[string]bool, len(refs))
	f.mu.Lock()
	for _, b := range refs {
		referenced[b.Hash] = true
		if !have[b.Hash] && validHash(b.Hash) {
			f.enqueueLocked(b.Hash, b.Size, b.Modified)
		}
	}
	for hash, p := range f.pending {
		if p.gen <= gen && !referenced[hash] {
			f.forgetLocked(hash, p)
		}
	}
	f.mu.Unlock()
	f.changed()
	return nil
}

// work fetches queued blobs until ctx ends.
func (f *BlobFetcher) work(ctx context.Context) {
	for {
		hash, ok := f.next(ctx)
		if !ok {
			return
		}
		res, err := f.fetch(ctx, hash)
		if ctx.Err() != nil {
			return
		}
		f.done(ctx, hash, res, err)
	}
}

// next takes the next queued blob that is still pending, waiting for one.
func (f *BlobFetcher) next(ctx context.Context) (string, bool) {
	for {
		f.mu.Lock()
		for len(f.queue) > 0 {
			hash := f.queue[0]
			f.queue = f.queue[1:]
			if _, ok := f.pending[hash]; ok {
				f.mu.Unlock()
				return hash, true
			}
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", false
		case <-wake:
		}
	}
}

var errNoSource = errors.New("no region to fetch from")

// fetchResult is what a fetch did: whether it transferred the blob (it may
// have been here already) and its size, or why it failed.
type fetchResult struct {
	transferred bool
	size        int64
	reason      string // for the transfer errors metric; empty if not a transfer error
}

// fetch brings the blob hash into the blob store unless it is there already.
func (f *BlobFetcher) fetch(ctx context.Context, hash string) (fetchResult, error) {
	if _, err := f.Blobs.Stat(ctx, hash); err == nil {
		return fetchResult{}, nil
	} else if tandem.ErrorCode(err) != tandem.ENOTFOUND {
		return fetchResult{}, fmt.Errorf("stat local blob: %w", err)
	}
	src, ok := f.Source()
	if !ok {
		return fetchResult{}, errNoSource
	}
	failed := func(reason string, err error) (fetchResult, error) { return fetchResult{reason: reason}, err }
	ctx, cancel := context.WithTimeout(ctx, orDefault(f.TransferTimeout, DefaultBlobTransferTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(src, "/")+BlobPath+hash, nil)
	if err != nil {
		return failed(ReasonTransfer, err)
	}
	req.Header.Set("Authorization", "Bearer "+f.Secret)
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return failed(ReasonTransfer, fmt.Errorf("fetch blob from %s: %w", src, err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return failed(ReasonNotFound, fmt.Errorf("%s does not have blob %s (hint: if its row still exists there, that region lost the blob; it is fetched as soon as it has it)", src, hash))
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return failed(ReasonTransfer, fmt.Errorf("fetch blob from %s: %s: %s", src, resp.Status, strings.TrimSpace(string(msg))))
	}
	info, err := f.Blobs.Put(ctx, resp.Body, hash)
	switch {
	case err == nil:
		return fetchResult{transferred: true, size: info.Size}, nil
	case tandem.ErrorCode(err) == tandem.EINVALID:
		return failed(ReasonCorrupt, fmt.Errorf("blob from %s arrived damaged and was discarded: %w", src, err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return failed(ReasonTruncated, fmt.Errorf("blob transfer from %s was cut short: %w", src, err))
	default:
		return failed(ReasonTransfer, fmt.Errorf("fetch blob from %s: %w", src, err))
	}
}

// done records a fetch's outcome: a verified blob stops being pending, a
// failed one is queued again after a backoff that doubles with each attempt.
func (f *BlobFetcher) done(ctx context.Context, hash string, res fetchResult, err error) {
	f.mu.Lock()
	p, ok := f.pending[hash]
	switch {
	case !ok: // forgotten by a scan meanwhile
	case err == nil:
		f.forgetLocked(hash, p)
		if res.transferred {
			f.fetched++
			f.Metrics.verified(res.size, time.Since(p.since).Seconds())
		}
	default:
		p.attempts++
		p.waiting = true
		if res.reason != "" {
			f.errs++
			f.lastErr = err.Error()
			f.Metrics.failed(res.reason)
		}
		backoff := backoff(p.attempts, orDefault(f.MinBackoff, DefaultBlobMinBackoff), orDefault(f.MaxBackoff, DefaultBlobMaxBackoff))
		time.AfterFunc(backoff, func() { f.requeue(ctx, hash, p) })
		if !errors.Is(err, errNoSource) {
			f.logger().Warn("blob transfer failed; retrying", "sha256", hash, "attempt", p.attempts, "retry_in", backoff, "err", err)
		}
	}
	f.mu.Unlock()
	f.changed()
}

// requeue queues hash again after a backoff, unless p stopped being its
// pending entry meanwhile.
func (f *BlobFetcher) requeue(ctx context.Context, hash string, p *pendingBlob) {
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	if f.pending[hash] == p && p.waiting {
		p.waiting = false
		f.queue = append(f.queue, hash)
	}
	f.mu.Unlock()
	f.changed()
}

// backoff returns the wait before attempt n+1: lo doubled n-1 times, at
// most hi, less up to a fifth at random so that transfers that failed
// together do not retry together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 30 && lo<<(n-1) < hi {
		d = lo << (n - 1)
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func (f *BlobFetcher) logger() *slog.Logger { return logger(f.Logger) }

// orDefault returns v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
