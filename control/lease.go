package control

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// LeaseKeeper holds a region's writer lease while the region is the writer:
// it renews every TTL/3 and reports the lease valid only until TTL minus
// Safety after the renewal was sent. The clock starts when the request
// leaves, not when the answer arrives, so a slow answer shortens the lease
// instead of stretching it, and the region stops writing before the
// controller could give the lease to another region.
type LeaseKeeper struct {
	Client *Client
	Region string
	// Epoch returns the epoch the region is writer of, or false when it is
	// not the writer.
	Epoch func() (uint64, bool)
	// Head returns the region's changelog head, reported with each renewal
	// so the controller can estimate what a failover would lose.
	Head   func(context.Context) (tandem.Position, error)
	TTL    time.Duration
	Safety time.Duration
	Logger *slog.Logger

	mu         sync.Mutex
	epoch      uint64
	validUntil time.Time
	lastSent   time.Time
	lastErr    string
}

// Run renews the lease until ctx ends.
func (k *LeaseKeeper) Run(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if epoch, ok := k.Epoch(); ok && k.due(epoch) {
			k.renew(ctx, epoch)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (k *LeaseKeeper) ttl() time.Duration {
	if k.TTL <= 0 {
		return tandem.DefaultLeaseTTL
	}
	return k.TTL
}

func (k *LeaseKeeper) due(epoch uint64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return epoch != k.epoch || time.Since(k.lastSent) >= k.ttl()/3
}

func (k *LeaseKeeper) renew(ctx context.Context, epoch uint64) {
	sent := time.Now()
	k.mu.Lock()
	k.lastSent = sent
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, k.ttl()/3)
	defer cancel()
	var head tandem.Position
	if k.Head != nil {
		head, _ = k.Head(ctx)
	}
	lease, err := k.Client.RenewLease(ctx, LeaseRequest{Region: k.Region, Epoch: epoch, Head: head})
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if k.lastErr == "" && k.Logger != nil {
			k.Logger.Warn("writer lease not renewed", "epoch", epoch, "err", err)
		}
		k.lastErr = err.Error()
		if tandem.ErrorCode(err) == tandem.EFORBIDDEN {
			k.validUntil = time.Time{} // deposed: stop at once
		}
		return
	}
	if k.lastErr != "" && k.Logger != nil {
		k.Logger.Info("writer lease renewed again", "epoch", epoch)
	}
	ttl := time.Duration(lease.TTL) * time.Millisecond
	if ttl <= 0 || ttl > k.ttl() {
		ttl = k.ttl()
	}
	k.epoch, k.lastErr = epoch, ""
	k.validUntil = sent.Add(ttl - k.Safety)
}

// Check returns nil while the lease for epoch is held, and EUNAVAILABLE
// otherwise.
func (k *LeaseKeeper) Check(epoch uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.epoch != epoch || time.Now().After(k.validUntil) {
		return tandem.Errorf(tandem.EUNAVAILABLE, "this region does not hold the writer lease for epoch %d; writes are refused until it does", epoch)
	}
	return nil
}

// Status reports the lease.
func (k *LeaseKeeper) Status() tandem.LeaseStatus {
	_, writer := k.Epoch()
	k.mu.Lock()
	defer k.mu.Unlock()
	left := time.Until(k.validUntil)
	if left <= 0 || !writer {
		return tandem.LeaseStatus{LastError: k.lastErr}
	}
	return tandem.LeaseStatus{Held: true, Epoch: k.epoch, ExpiresMs: left.Milliseconds(), LastError: k.lastErr}
}
