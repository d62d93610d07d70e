package replication

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// DefaultApplyBatch bounds how many entries one apply transaction takes.
const DefaultApplyBatch = 2000

// Follower pulls the writer's changelog into a store. Run it once per
// region; it follows whichever writer Source names and is idle while Source
// names none (the region is the writer itself).
type Follower struct {
	Store tandem.Store
	// Region is this region's name, recorded with entries it quarantines.
	Region string
	// Source returns the base URL of the region to follow, or false when
	// there is none to follow.
	Source  func() (string, bool)
	Secret  string
	Client  *http.Client
	Logger  *slog.Logger
	Metrics *Metrics

	HeartbeatInterval time.Duration // the writer's; a stream silent for 4 of them is dead
	ApplyBatch        int

	// Applied, if set, is called with every batch once it is committed
	// (entries already applied before may be among them). It runs on the
	// apply path, so it must be quick, and it must not keep the slice.
	Applied func([]tandem.Change)

	mu     sync.Mutex
	status tandem.FollowStatus
}

// Status returns the follower's current status.
func (f *Follower) Status() tandem.FollowStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *Follower) update(fn func(*tandem.FollowStatus)) {
	f.mu.Lock()
	fn(&f.status)
	f.status.Lag = tandem.LagBetween(f.status.Applied, f.status.Head)
	s := f.status
	f.mu.Unlock()
	f.Metrics.observeStatus(s)
}

func (f *Follower) client() *http.Client {
	if f.Client == nil {
		return http.DefaultClient
	}
	return f.Client
}

func (f *Follower) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.Default()
	}
	return f.Logger
}

// Run follows until ctx ends, reconnecting with backoff after any failure.
func (f *Follower) Run(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		src, ok := f.Source()
		if !ok {
			f.update(func(s *tandem.FollowStatus) { s.Following, s.Connected, s.Source = false, false, "" })
			if !sleep(ctx, 100*time.Millisecond) {
				break
			}
			continue
		}
		err := f.follow(ctx, src)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errSourceChanged) {
			backoff = 50 * time.Millisecond
			continue
		}
		f.update(func(s *tandem.FollowStatus) {
			s.Connected = false
			s.Reconnects++
			s.LastError = err.Error()
		})
		f.Metrics.reconnect()
		f.logger().Warn("replication stream lost; reconnecting", "source", src, "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			break
		}
		backoff = min(backoff*2, 2*time.Second)
	}
	return ctx.Err()
}

var errSourceChanged = errors.New("the writer changed")

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// follow streams from src until the stream fails or the source changes.
func (f *Follower) follow(ctx context.Context, src string) error {
	pos, err := f.catchUpPoint(ctx, src)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s?from=%d&epoch=%d", strings.TrimRight(src, "/"), StreamPath, pos.LSN, pos.Epoch), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.Secret)
	resp, err := f.client().Do(req)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized {
			hint = " (hint: every region must have the same cluster secret)"
		}
		return fmt.Errorf("stream from %s: %s: %s%s", src, resp.Status, strings.TrimSpace(string(msg)), hint)
	}
	applied, err := f.Store.Position(ctx)
	if err != nil {
		return err
	}
	f.update(func(s *tandem.FollowStatus) {
		s.Following, s.Connected, s.Source, s.Applied, s.LastError = true, true, src, applied, ""
	})
	f.logger().Info("following writer", "source", src, "from", pos.LSN)

	// A watchdog cancels the stream when it falls silent.
	interval := f.HeartbeatInterval
	if interval <= 0 {
		interval = tandem.DefaultHeartbeatInterval
	}
	dog := &watchdog{last: time.Now()}
	go dog.watch(ctx, interval, 4*interval, cancel)
	acks := make(chan uint64, 1)
	go f.acknowledge(ctx, src, acks)
	acks <- applied.LSN
	err = f.apply(ctx, bufio.NewReaderSize(resp.Body, 256<<10), src, pos, dog, acks)
	if ctx.Err() != nil && !errors.Is(err, errSourceChanged) {
		return fmt.Errorf("stream from %s silent for %v", src, 4*interval)
	}
	return err
}

// apply reads frames and applies entries, batching those that have already
// arrived into one transaction.
func (f *Follower) apply(ctx context.Context, r *bufio.Reader, src string, applied tandem.Position, dog *watchdog, acks chan uint64) error {
	max := f.ApplyBatch
	if max <= 0 {
		max = DefaultApplyBatch
	}
	var batch []tandem.Change
	for {
		fr, err := ReadFrame(r)
		if err != nil {
			return fmt.Errorf("read stream: %w", err)
		}
		dog.heard()
		switch fr.Type {
		case FrameEntries:
			cs, err := DecodeEntries(fr)
			if err != nil {
				return err
			}
			batch = append(batch, cs...)
		case FrameHeartbeat:
			var hb Heartbeat
			if err := json.Unmarshal(fr.Payload, &hb); err != nil {
				return fmt.Errorf("%w: heartbeat: %v", ErrCorruptFrame, err)
			}
			f.update(func(s *tandem.FollowStatus) { s.Head, s.LastHeard = hb.Head, time.Now() })
			if cur, ok := f.Source(); !ok || cur != src {
				return errSourceChanged
			}
		case FrameError:
			var se StreamError
			json.Unmarshal(fr.Payload, &se)
			return fmt.Errorf("writer refused the stream: %s (hint: %s)", se.Message, se.Hint)
		}
		if len(batch) == 0 || (r.Buffered() > 0 && len(batch) < max) {
			continue
		}
		dog.busy(true)
		err = f.Store.ApplyChanges(ctx, batch)
		dog.busy(false)
		if err != nil {
			return fmt.Errorf("apply entries %d-%d: %w", batch[0].LSN, batch[len(batch)-1].LSN, err)
		}
		last := batch[len(batch)-1]
		applied = tandem.Position{LSN: last.LSN, Time: last.CommitTime, Epoch: last.Epoch}
		f.Metrics.applied(batch, time.Now())
		select { // keep only the newest LSN to acknowledge
		case <-acks:
		default:
		}
		acks <- last.LSN
		if f.Applied != nil {
			f.Applied(batch)
		}
		f.update(func(s *tandem.FollowStatus) {
			s.Applied = applied
			if s.Head.LSN < applied.LSN {
				s.Head = applied
			}
		})
		batch = batch[:0]
	}
}

// watchdog ends a stream that has been silent too long. Time spent applying
// does not count: a large batch on a slow disk is not a dead writer.
type watchdog struct {
	mu       sync.Mutex
	last     time.Time
	applying bool
}

func (d *watchdog) heard() {
	d.mu.Lock()
	d.last = time.Now()
	d.mu.Unlock()
}

func (d *watchdog) busy(b bool) {
	d.mu.Lock()
	d.applying = b
	d.last = time.Now()
	d.mu.Unlock()
}

func (d *watchdog) watch(ctx context.Context, every, limit time.Duration, cancel func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		silent := !d.applying && time.Since(d.last) > limit
		d.mu.Unlock()
		if silent {
			cancel()
			return
		}
	}
}

// acknowledge tells the writer, in order, each newest LSN this region has
// durably applied; the writer waits for these in synchronous mode.
func (f *Follower) acknowledge(ctx context.Context, src string, acks <-chan uint64) {
	for {
		select {
		case <-ctx.Done():
			return
		case lsn := <-acks:
			if err := f.call(ctx, http.MethodPost, src, AckPath, AckRequest{LSN: lsn}, nil); err != nil && ctx.Err() == nil {
				f.logger().Debug("acknowledge applied LSN", "lsn", lsn, "err", err)
			}
		}
	}
}
