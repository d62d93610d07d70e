package control

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// View keeps a region's or an edge's copy of the control snapshot current
// by long-polling the controller, and caches it in a file so that a restart
// while the controller is away still starts from the last snapshot seen.
type View struct {
	Client *Client
	// Cache is the file the last snapshot is kept in; empty for none.
	Cache  string
	Logger *slog.Logger

	mu      sync.Mutex
	snap    tandem.Snapshot
	changed chan struct{}
}

// NewView returns a view through client, cached in the file cache.
func NewView(client *Client, cache string) *View {
	return &View{Client: client, Cache: cache, Logger: slog.Default(), changed: make(chan struct{})}
}

// Load reads the cached snapshot, if there is one.
func (v *View) Load() error {
	if v.Cache == "" {
		return nil
	}
	b, err := os.ReadFile(v.Cache)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var snap tandem.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		v.Logger.Warn("ignoring a corrupt cached control snapshot", "file", v.Cache, "err", err)
		return nil
	}
	v.set(snap)
	return nil
}

// Snapshot returns the newest snapshot seen; its Version is 0 when none has
// been.
func (v *View) Snapshot() tandem.Snapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.snap
}

// Changed returns a channel closed at the next new snapshot.
func (v *View) Changed() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

func (v *View) set(snap tandem.Snapshot) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if snap.Version <= v.snap.Version && v.snap.Version != 0 {
		return false
	}
	v.snap = snap
	close(v.changed)
	v.changed = make(chan struct{})
	return true
}

// Run watches the controller until ctx ends.
func (v *View) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		snap, err := v.Client.Watch(ctx, v.Snapshot().Version, 25*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				v.Logger.Warn("controller unreachable; keeping the last snapshot", "err", err)
				failing = true
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		if failing {
			v.Logger.Info("controller reachable again")
			failing = false
		}
		backoff = 100 * time.Millisecond
		if snap.Version > v.Snapshot().Version {
			v.save(snap) // cached before anyone acts on it
			v.set(snap)
		}
	}
}

func (v *View) save(snap tandem.Snapshot) {
	if v.Cache == "" {
		return
	}
	b, _ := json.Marshal(snap)
	tmp := v.Cache + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		v.Logger.Warn("cache control snapshot", "err", err)
		return
	}
	if err := os.Rename(tmp, v.Cache); err != nil {
		v.Logger.Warn("cache control snapshot", "err", err)
	}
}
