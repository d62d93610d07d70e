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
	if err := g.lease.Check(snap.Epoch); err != nil {
		return err
	}
	return g.checkMaxLag()
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

// act makes snap the snapshot the region acts on, once every write admitted
// under the previous snapshot has finished, then sets the store's role to
// match. It reports whether the store's role could be set.
func (g *Region) act(ctx context.Context, snap tandem.Snapshot) bool {
	want := tandem.Role{Writer: snap.Writer == g.Config.Name, Epoch: snap.Epoch}
	g.writeMu.Lock()
	if want.Writer && !g.snapshotWriter() {
		// Confirmations from before may count entries a rewind removed.
		g.acks.Reset()
		if pos, err := g.store.Position(ctx); err == nil {
			g.head.Store(pos.LSN)
		}
	}
	g.actMu.Lock()
	g.acting = snap
	g.actMu.Unlock()
	g.writeMu.Unlock()

	// The role is set outside writeMu: SetRole needs the store's writer
	// connection, which a write waiting for writeMu may be holding. That
	// write now sees the new snapshot, is refused and lets go.
	if have, err := g.store.Role(ctx); err != nil || have != want {
		if err := g.store.SetRole(ctx, want); err != nil {
			g.Logger.Error("set store role", "region", g.Config.Name, "err", err)
			return false
		}
		g.Logger.Info("store role changed", "region", g.Config.Name, "writer", want.Writer, "epoch", want.Epoch)
	}
	return true
}

// snapshotWriter reports whether the region acts as the writer now.
func (g *Region) snapshotWriter() bool {
	snap := g.snapshot()
	return snap.Version > 0 && snap.Writer == g.Config.Name
}

// roleLoop acts on every new snapshot the view receives.
func (g *Region) roleLoop(ctx context.Context) {
	for {
		changed := g.view.Changed()
		var retry <-chan time.Time
		if snap := g.view.Snapshot(); snap.Version > 0 && (snap.Version != g.snapshot().Version || !g.roleSynced.Load()) {
			ok := g.act(ctx, snap)
			g.roleSynced.Store(ok)
			if !ok {
				retry = time.After(200 * time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
	}
}
