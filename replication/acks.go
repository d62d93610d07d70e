package replication

import (
	"context"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// AckPath is where a follower tells the writer what it has durably applied.
const AckPath = "/internal/v1/ack"

// Acks is the writer's knowledge of how far its follower has durably
// applied the changelog: the basis of synchronous replication and of the
// max_lag bound.
type Acks struct {
	mu      sync.Mutex
	applied uint64
	at      time.Time
	changed chan struct{}
}

// NewAcks returns an empty record.
func NewAcks() *Acks { return &Acks{changed: make(chan struct{})} }

// Record notes that the follower has applied everything up to lsn.
func (a *Acks) Record(lsn uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if lsn <= a.applied {
		return
	}
	a.applied, a.at = lsn, time.Now()
	close(a.changed)
	a.changed = make(chan struct{})
}

// Reset forgets what the follower acknowledged, as when this region becomes
// the writer: acknowledgements from before may count entries a rewind has
// since removed.
func (a *Acks) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied, a.at = 0, time.Time{}
}

// Applied returns the highest LSN acknowledged and when.
func (a *Acks) Applied() (uint64, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied, a.at
}

// Wait returns nil once the follower has acknowledged lsn, or EUNAVAILABLE
// when timeout passes first.
func (a *Acks) Wait(ctx context.Context, lsn uint64, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		a.mu.Lock()
		applied, ch := a.applied, a.changed
		a.mu.Unlock()
		if applied >= lsn {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return tandem.Errorf(tandem.EUNAVAILABLE, "the follower did not confirm the write within %v (it has applied up to LSN %d, the write is at %d); the write is committed in this region but was not acknowledged", timeout, applied, lsn)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
