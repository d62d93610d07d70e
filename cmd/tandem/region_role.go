package main

import (
	"context"
	"time"

	"github.com/tandemhq/tandem"
)

// snapshot returns the control snapshot the region acts on.
func (g *Region) snapshot() tandem.Snapshot {
	g.actMu.Lock()
	defer g.actMu.Unlock()
	return g.acting
}

// writerEpoch returns the epoch this region is writer of, or false.
func (g *Region) writerEpoch() (uint64, bool) {
	snap := g.snapshot()
	return snap.Epoch, snap.Version > 0 && snap.Writer == g.Config.Name
}

// source returns the writer to follow, or false when this region is the
// writer or knows of none.
func (g *Region) source() (string, bool) {
	snap := g.snapshot()
	if snap.Version == 0 || snap.Writer == g.Config.Name {
		return "", false
	}
	w, ok := snap.WriterInfo()
	return w.URL, ok
}

// checkWrite is the region's write gate: the region has a snapshot, is its
// writer, the state allows writes, and the lease for the epoch is held.
func (g *Region) checkWrite(ctx context.Context) error {
	snap := g.snapshot()
	if snap.Version == 0 {
		return tandem.Errorf(tandem.EUNAVAILABLE, "region %s has not heard from the controller yet", g.Config.Name)
	}
	if err := snap.CheckWrite(g.Config.Name); err != nil {
		return err
	}
	return g.lease.Check(snap.Epoch)
}

// guardWrite is the store's write guard: checkWrite, holding writeMu shared
// until the transaction ends.
func (g *Region) guardWrite(ctx context.Context) (func(), error) {
	g.writeMu.RLock()
	if err := g.checkWrite(ctx); err != nil {
		g.writeMu.RUnlock()
		return nil, err
	}
	return g.writeMu.RUnlock, nil
}

// act makes snap the snapshot the region acts on and sets the store's role
// to match, once every write admitted under the previous snapshot is done.
func (g *Region) act(ctx context.Context, snap tandem.Snapshot) bool {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	want := tandem.Role{Writer: snap.Writer == g.Config.Name, Epoch: snap.Epoch}
	if have, err := g.store.Role(ctx); err != nil || have != want {
		if err := g.store.SetRole(ctx, want); err != nil {
			g.Logger.Error("set store role", "region", g.Config.Name, "err", err)
			return false
		}
		g.Logger.Info("store role changed", "region", g.Config.Name, "writer", want.Writer, "epoch", want.Epoch)
	}
	g.actMu.Lock()
	g.acting = snap
	g.actMu.Unlock()
	return true
}

// roleLoop acts on every new snapshot the view receives.
func (g *Region) roleLoop(ctx context.Context) {
	for {
		changed := g.view.Changed()
		var retry <-chan time.Time
		if snap := g.view.Snapshot(); snap.Version > 0 && snap.Version != g.snapshot().Version && !g.act(ctx, snap) {
			retry = time.After(200 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
	}
}
