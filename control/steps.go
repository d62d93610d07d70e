package control

import (
	"context"
	"fmt"
	"time"

	"github.com/tandemhq/tandem"
)

// stepsFor returns the steps of a kind of runbook. Every step is idempotent:
// a runbook resumed after a controller restart runs its interrupted step
// again.
func stepsFor(kind string) ([]step, bool) {
	switchover := []step{
		{"check", checkFollowing},
		{"fence", fence},
		{"wait-fenced", waitFenced},
		{"drain", drain},
		{"promote", promote},
		{"route", route},
		{"activate", setStateStep(tandem.StateActive)},
		{"probe", probe},
	}
	switch kind {
	case KindSwitchover:
		return switchover, true
	case KindFailback:
		return append([]step{{"wait-rejoined", waitRejoined}}, switchover...), true
	case KindFailover:
		return []step{
			{"check", checkTarget},
			{"revoke", revoke},
			{"wait-lease", waitLease},
			{"promote", promote},
			{"route", route},
			{"failover-state", setStateStep(tandem.StateFailover)},
			{"probe", probe},
			{"rpo", recordRPO},
		}, true
	}
	return nil, false
}

// poll calls fn every 20 ms until it reports done or fails, or timeout
// passes; then it returns fn's last detail as the error.
func poll(ctx context.Context, timeout time.Duration, fn func() (done bool, detail string, err error)) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		done, detail, err := fn()
		if err != nil {
			return "", err
		}
		if done {
			return detail, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("timed out after %v: %s", timeout, detail)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkFollowing makes sure the target follows the writer, so that it can
// catch up with it.
func checkFollowing(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.Data.Promoted {
		return "already promoted", nil
	}
	if r.rb.Force {
		return "forced", nil
	}
	// A region that has just stopped being the writer takes a moment to
	// connect to the new one, so wait for it rather than fail at once.
	return poll(ctx, r.timeout(), func() (bool, string, error) {
		st, err := c.regionStatusByName(ctx, r.rb.Target)
		if err != nil {
			return false, fmt.Sprintf("target %s: %v", r.rb.Target, err), nil
		}
		if !st.Replication.Connected {
			return false, fmt.Sprintf("target %s is not connected to the writer (%s); fix it or use --force", r.rb.Target, st.Replication.LastError), nil
		}
		return true, fmt.Sprintf("%s follows the writer, %d entries behind", r.rb.Target, st.Replication.Lag.Entries), nil
	})
}

// checkTarget makes sure a failover target can serve: its store answers.
func checkTarget(ctx context.Context, c *Controller, r *run) (string, error) {
	st, err := c.regionStatusByName(ctx, r.rb.Target)
	if err != nil {
		if r.rb.Force {
			return fmt.Sprintf("target unreachable (%v), forced", err), nil
		}
		return "", fmt.Errorf("target %s: %w; use --force to promote it anyway", r.rb.Target, err)
	}
	if st.Health.Checks["store"] != "ok" && !r.rb.Force {
		return "", fmt.Errorf("target %s is unhealthy: %s; use --force to promote it anyway", r.rb.Target, st.Health.Checks["store"])
	}
	head := st.Replication.Head
	if reported := c.writerHeadReported(); reported.LSN > head.LSN {
		head = reported
	}
	r.mu.Lock()
	r.rb.Data.LastHead = head
	r.mu.Unlock()
	return fmt.Sprintf("%s healthy, applied %d; writer head last heard %d", r.rb.Target, st.Position.LSN, head.LSN), nil
}

func fence(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.Data.FenceVersion != 0 {
		return "fenced already", nil
	}
	snap, err := c.SetState(ctx, c.Snapshot().AppID, tandem.StateFenced)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.rb.Data.FenceVersion = snap.Version
	r.mu.Unlock()
	return fmt.Sprintf("state fenced at version %d", snap.Version), nil
}

// waitFenced waits until the writer acts on the fenced snapshot: from then
// on it admits no write, and every write it admitted has committed.
func waitFenced(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.Data.Promoted {
		return "already promoted", nil
	}
	return poll(ctx, r.timeout(), func() (bool, string, error) {
		st, err := c.regionStatusByName(ctx, r.rb.From)
		if err != nil {
			return false, fmt.Sprintf("writer %s: %v (if it is down, use failover)", r.rb.From, err), nil
		}
		return st.SnapshotVersion >= r.rb.Data.FenceVersion, fmt.Sprintf("writer %s acts on version %d", r.rb.From, st.SnapshotVersion), nil
	})
}

// drain waits until the target has applied the writer's whole changelog.
func drain(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.Data.Promoted {
		return "already promoted", nil
	}
	return poll(ctx, r.timeout(), func() (bool, string, error) {
		w, err := c.regionStatusByName(ctx, r.rb.From)
		if err != nil {
			return false, fmt.Sprintf("writer: %v", err), nil
		}
		t, err := c.regionStatusByName(ctx, r.rb.Target)
		if err != nil {
			return false, fmt.Sprintf("target: %v", err), nil
		}
		return t.Position.LSN == w.Position.LSN, fmt.Sprintf("target at LSN %d, writer head %d", t.Position.LSN, w.Position.LSN), nil
	})
}

// revoke starts a new epoch with no writer: the old writer's lease can no
// longer be renewed.
func revoke(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.Data.Epoch != 0 {
		return fmt.Sprintf("epoch %d started already", r.rb.Data.Epoch), nil
	}
	epoch, expires, err := c.revokeWriter(ctx)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.rb.Data.Epoch, r.rb.Data.RevokedAt, r.rb.Data.LeaseExpires = epoch, c.Now().UTC(), expires
	r.mu.Unlock()
	return fmt.Sprintf("epoch %d started with no writer; old lease expires %s", epoch, expires.Format(time.RFC3339Nano)), nil
}

// waitLease waits until no lease of the old epoch can still be held.
func waitLease(ctx context.Context, c *Controller, r *run) (string, error) {
	until := r.rb.Data.RevokedAt.Add(c.LeaseTTL)
	if e := r.rb.Data.LeaseExpires; !e.IsZero() && e.Before(until) {
		until = e
	}
	d := time.Until(until)
	if d > 0 {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(d):
		}
	}
	return fmt.Sprintf("waited %v for the old lease to expire", max(d, 0).Round(time.Millisecond)), nil
}

// promote makes the target the writer, in a new epoch unless revoke began
// one, and waits until it acts on it.
func promote(ctx context.Context, c *Controller, r *run) (string, error) {
	snap, err := c.promoteWriter(ctx, r.rb.Target, r.rb.Data.Epoch)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.rb.Data.Promoted, r.rb.Data.Epoch = true, snap.Epoch
	r.mu.Unlock()
	var applied tandem.Position
	detail, err := poll(ctx, r.timeout(), func() (bool, string, error) {
		st, err := c.regionStatusByName(ctx, r.rb.Target)
		if err != nil {
			return false, err.Error(), nil
		}
		applied = st.Position
		if h := st.Replication.Head; h.LSN > r.rb.Data.LastHead.LSN {
			r.mu.Lock()
			r.rb.Data.LastHead = h
			r.mu.Unlock()
		}
		// The new writer also holds its lease before the runbook goes on, so
		// that writes work as soon as the state allows them again.
		ready := st.Writer && st.SnapshotVersion >= snap.Version && st.Lease.Held && st.Lease.Epoch == snap.Epoch
		return ready, fmt.Sprintf("%s writer in epoch %d at LSN %d, lease held %v", r.rb.Target, snap.Epoch, st.Position.LSN, st.Lease.Held), nil
	})
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if r.rb.Kind == KindFailover {
		r.rb.RPO = &RPO{LastHeadLSN: r.rb.Data.LastHead.LSN, AppliedLSN: applied.LSN}
		if l := tandem.LagBetween(applied, r.rb.Data.LastHead); l.Entries > 0 {
			r.rb.RPO.Entries, r.rb.RPO.Seconds = l.Entries, l.Seconds
		}
	}
	r.mu.Unlock()
	return detail, nil
}

func route(ctx context.Context, c *Controller, r *run) (string, error) {
	if _, err := c.SetRouting(ctx, r.rb.Target, true); err != nil {
		return "", err
	}
	return fmt.Sprintf("traffic goes to %s", r.rb.Target), nil
}

func setStateStep(state tandem.AppState) func(context.Context, *Controller, *run) (string, error) {
	return func(ctx context.Context, c *Controller, r *run) (string, error) {
		if _, err := c.SetState(ctx, c.Snapshot().AppID, state); err != nil {
			return "", err
		}
		return "state " + string(state), nil
	}
}

// probe writes until a write is acknowledged, and records the RTO.
func probe(ctx context.Context, c *Controller, r *run) (string, error) {
	var attempts int
	_, err := poll(ctx, r.timeout(), func() (bool, string, error) {
		attempts++
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := c.probe(pctx, r.rb.ID); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	from, since := r.rb.Started, "the runbook started"
	if !r.rb.DetectedAt.IsZero() {
		from, since = r.rb.DetectedAt, "the fault was detected"
	}
	r.rb.FirstWriteAt = c.Now().UTC()
	r.rb.RTOMs = r.rb.FirstWriteAt.Sub(from).Milliseconds()
	rto := r.rb.RTOMs
	r.mu.Unlock()
	return fmt.Sprintf("write acknowledged after %d attempt(s); %d ms since %s", attempts, rto, since), nil
}

func recordRPO(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.RPO == nil {
		return "no estimate", nil
	}
	return fmt.Sprintf("RPO estimate: %d entries (%.3f s) not received before promotion; settled exactly when the old writer rejoins (see the quarantine)", r.rb.RPO.Entries, r.rb.RPO.Seconds), nil
}

// waitRejoined waits until the failback target follows the writer and has
// caught up, which it does after rejoining on its own.
func waitRejoined(ctx context.Context, c *Controller, r *run) (string, error) {
	if r.rb.Data.Promoted {
		return "already promoted", nil
	}
	writer, _ := c.Snapshot().WriterInfo()
	return poll(ctx, 6*r.timeout(), func() (bool, string, error) {
		st, err := c.regionStatusByName(ctx, r.rb.Target)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", r.rb.Target, err), nil
		}
		rep := st.Replication
		ok := !st.Writer && rep.Connected && rep.Source == writer.URL && rep.Lag.Entries == 0
		if ok && rep.LastRejoin != nil {
			c.settleRPO(ctx, r.rb.Target, rep.LastRejoin.Quarantined)
		}
		return ok, fmt.Sprintf("%s connected=%v source=%s lag=%d rejoins=%d", r.rb.Target, rep.Connected, rep.Source, rep.Lag.Entries, rep.Rejoins), nil
	})
}

// settleRPO records on the newest failover away from region how many of
// its entries its rejoin quarantined: the exact RPO of that failover.
func (c *Controller) settleRPO(ctx context.Context, region string, quarantined int) {
	rbs, err := c.Runbooks(ctx, 20)
	if err != nil {
		return
	}
	for _, rb := range rbs {
		if rb.Kind != KindFailover || rb.From != region || rb.RPO == nil {
			continue
		}
		if rb.RPO.Settled == nil {
			n := uint64(quarantined)
			rb.RPO.Settled = &n
			c.saveRun(ctx, &run{rb: rb})
		}
		return
	}
}
