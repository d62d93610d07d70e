package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/replication"
)

// afterCommit is the store's commit hook. It remembers the head, and in
// sync mode acknowledges the write only once the follower has applied it.
// When the follower does not confirm within sync_timeout the write is
// refused (on_sync_timeout: block) or acknowledged with replication
// degraded to async until the follower catches up (on_sync_timeout: async).
func (g *Region) afterCommit(ctx context.Context, head uint64) error {
	g.head.Store(head)
	rc := g.Config.Replication
	if rc.Mode != "sync" || replication.IsInternalWrite(ctx) {
		return nil
	}
	if g.degraded.Load() {
		if acked, _ := g.acks.Applied(); acked+1 < head {
			return nil
		}
		g.degraded.Store(false)
		g.Logger.Info("follower caught up: synchronous replication restored", "region", g.Config.Name, "lsn", head)
	}
	err := g.acks.Wait(ctx, head, rc.SyncTimeout)
	if err == nil || tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		return err
	}
	if rc.OnSyncTimeout == "async" {
		g.degraded.Store(true)
		g.Logger.Warn("ALARM: follower did not confirm a write in time; replication degraded to async", "region", g.Config.Name, "lsn", head, "sync_timeout", rc.SyncTimeout)
		return nil
	}
	g.Logger.Warn("ALARM: follower did not confirm a write in time; the write was not acknowledged", "region", g.Config.Name, "lsn", head, "sync_timeout", rc.SyncTimeout)
	return err
}

// checkMaxLag refuses writes while the follower has not confirmed
// replication.max_lag entries or more, so at most max_lag entries (plus the
// entries of writes in flight) are ever unconfirmed.
func (g *Region) checkMaxLag() error {
	max := g.Config.Replication.MaxLag
	if max == 0 {
		return nil
	}
	acked, _ := g.acks.Applied()
	if head := g.head.Load(); head >= acked+max {
		return tandem.Errorf(tandem.EUNAVAILABLE, "writes are refused: the follower has confirmed LSN %d, %d entries behind the head, max_lag is %d", acked, head-acked, max)
	}
	return nil
}

func (g *Region) durability() tandem.Durability {
	acked, _ := g.acks.Applied()
	return tandem.Durability{Mode: g.Config.Replication.Mode, FollowerAcked: acked, Degraded: g.degraded.Load(), MaxLag: g.Config.Replication.MaxLag}
}

func (g *Region) registerDurabilityGauges(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "replication", Name: "sync_degraded", Help: "1 while a sync writer has fallen back to async."},
			func() float64 {
				if g.degraded.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "replication", Name: "follower_acked_lsn", Help: "Highest LSN the follower has confirmed applying."},
			func() float64 { acked, _ := g.acks.Applied(); return float64(acked) }),
	)
}
