package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// Health-check defaults.
const (
	DefaultHealthInterval = 500 * time.Millisecond
	DefaultHealthTimeout  = time.Second
	DefaultHealthHistory  = 20
	// DefaultHealthGrace is how long after the controller starts a writer
	// it has not yet seen healthy may fail checks without counting: the
	// regions of a deployment starting together may come up after it.
	DefaultHealthGrace = 10 * time.Second
)

// HealthPath is a region's deep health check: 200 when every check passes,
// 503 otherwise, the checks in the body either way.
const HealthPath = "/api/health"

// HealthResult is one health check of one region.
type HealthResult struct {
	At        time.Time `json:"at"`
	LatencyMs float64   `json:"latencyMs"`
	// Reachable is false when the region did not answer in time or gave
	// no health report.
	Reachable bool              `json:"reachable"`
	OK        bool              `json:"ok"`
	Checks    map[string]string `json:"checks,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// RegionHealth is a region's recent health checks, oldest first.
type RegionHealth struct {
	Region string         `json:"region"`
	Recent []HealthResult `json:"recent"`
	// Lag is the standby's replication lag at its last status, if known.
	Lag *tandem.Lag `json:"lag,omitempty"`
}

// writerFailure says whether a health check counts against the writer for
// the writer-unhealthy alarm, and why. Only what stops the writer from
// acknowledging writes counts: it did not answer, its store is unreadable,
// or it does not hold the writer lease. A failing disk or control check is
// shown but does not fail the writer over.
func writerFailure(res HealthResult) (bool, string) {
	switch {
	case !res.Reachable:
		return true, "unreachable: " + res.Error
	case res.Checks["store"] != "ok":
		return true, "store: " + res.Checks["store"]
	case res.Checks["lease"] != "" && res.Checks["lease"] != "ok":
		return true, "lease: " + res.Checks["lease"]
	}
	return false, "healthy"
}

// standbyFailure says whether a health check makes a region unfit to be
// promoted by an automatic failover, and why. Its replication check is
// left out: a standby whose writer is dead is never connected to it.
func standbyFailure(checks map[string]string) (bool, string) {
	for _, name := range []string{"store", "control", "disk"} {
		if checks[name] != "ok" {
			return true, fmt.Sprintf("%s: %s", name, checks[name])
		}
	}
	return false, "healthy"
}

// healthLog keeps the recent health checks of every region.
type healthLog struct {
	mu      sync.Mutex
	results map[string][]HealthResult
	lag     map[string]tandem.Lag
	seen    map[string]bool // writers seen healthy
}

// inGrace reports whether a failed check of a writer should not count: it
// has never been seen healthy and the grace has not run out.
func (h *healthLog) inGrace(region string, bad bool, at, graceEnds time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !bad {
		if h.seen == nil {
			h.seen = map[string]bool{}
		}
		h.seen[region] = true
	}
	return bad && !h.seen[region] && at.Before(graceEnds)
}

func (h *healthLog) add(region string, res HealthResult, keep int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.results == nil {
		h.results = map[string][]HealthResult{}
	}
	rs := append(h.results[region], res)
	if len(rs) > keep {
		rs = rs[len(rs)-keep:]
	}
	h.results[region] = rs
}

func (h *healthLog) setLag(region string, lag tandem.Lag) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lag == nil {
		h.lag = map[string]tandem.Lag{}
	}
	h.lag[region] = lag
}

// Health returns every region's recent health checks, in the snapshot's
// order of regions.
func (c *Controller) Health() []RegionHealth {
	snap := c.Snapshot()
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	out := make([]RegionHealth, 0, len(snap.Regions))
	for _, r := range snap.Regions {
		rh := RegionHealth{Region: r.Name, Recent: append([]HealthResult{}, c.health.results[r.Name]...)}
		if lag, ok := c.health.lag[r.Name]; ok && r.Name != snap.Writer {
			rh.Lag = &lag
		}
		out = append(out, rh)
	}
	return out
}

// checkHealth checks region every HealthInterval until ctx ends. Each
// region has its own loop, so a region that hangs does not slow the checks
// of the other.
func (c *Controller) checkHealth(ctx context.Context, region tandem.RegionInfo) {
	tick := time.NewTicker(c.HealthInterval)
	defer tick.Stop()
	for {
		res := c.probeHealth(ctx, region)
		if ctx.Err() != nil {
			return
		}
		c.health.add(region.Name, res, c.HealthHistory)
		c.Metrics.healthCheck(region.Name, res)
		snap := c.Snapshot()
		if region.Name == snap.Writer {
			c.observeWriter(ctx, snap, region.Name, res)
		} else {
			c.observeStandby(ctx, snap, region, res)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeHealth asks region for its deep health, within HealthTimeout.
func (c *Controller) probeHealth(ctx context.Context, region tandem.RegionInfo) HealthResult {
	ctx, cancel := context.WithTimeout(ctx, c.HealthTimeout)
	defer cancel()
	start := time.Now()
	res := HealthResult{At: c.Now().UTC()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(region.URL, "/")+HealthPath, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		res.LatencyMs = msSince(start)
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	var h tandem.Health
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&h)
	res.LatencyMs = msSince(start)
	if err != nil || h.Checks == nil {
		res.Error = fmt.Sprintf("%s: no health report", resp.Status)
		return res
	}
	res.Reachable, res.OK, res.Checks = true, h.OK, h.Checks
	return res
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// observeWriter feeds a check of the writer to the writer-unhealthy alarm
// and, when the alarm fires, decides on an automatic failover.
func (c *Controller) observeWriter(ctx context.Context, snap tandem.Snapshot, region string, res HealthResult) {
	bad, reason := writerFailure(res)
	if c.health.inGrace(region, bad, res.At, c.started.Add(c.HealthGrace)) {
		return
	}
	ev, changed := c.observeAlarm(AlarmWriterUnhealthy, region, bad, reason, res.At)
	if !changed {
		return
	}
	if ev.State == AlarmFiring {
		detected := c.alarms.firstBad(AlarmWriterUnhealthy, region)
		ev.Action = c.autoFailover(ctx, snap, region, detected, reason)
	} else {
		ev.Action = "logged"
	}
	c.raise(ev)
}

// observeStandby clears the writer-unhealthy alarm of a region that is no
// longer the writer, and checks a standby's replication and blob lag.
func (c *Controller) observeStandby(ctx context.Context, snap tandem.Snapshot, region tandem.RegionInfo, res HealthResult) {
	c.observe(AlarmWriterUnhealthy, region.Name, false, "no longer the writer", res.At)
	if !res.Reachable || snap.Writer == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, c.HealthTimeout)
	defer cancel()
	st, err := c.RegionStatus(sctx, region, false)
	if err != nil || !st.Replication.Following {
		return
	}
	c.health.setLag(region.Name, st.Replication.Lag)
	c.Metrics.rpoEstimate(region.Name, c.lagBehindWriter(st))
	now := c.Now().UTC()
	lag := st.Replication.Lag.Seconds
	c.observe(AlarmReplicationLag, region.Name, lag > c.LagAlarmSeconds, fmt.Sprintf("replication lag %.1fs (limit %.1fs)", lag, c.LagAlarmSeconds), now)
	oldest := st.Blobs.OldestSeconds
	c.observe(AlarmBlobPending, region.Name, oldest > c.BlobPendingAlarm.Seconds(), fmt.Sprintf("oldest pending blob %.0fs (limit %v)", oldest, c.BlobPendingAlarm), now)
}

// observe feeds an alarm whose only action is to be logged and posted.
func (c *Controller) observe(name, region string, bad bool, reason string, now time.Time) {
	if ev, changed := c.observeAlarm(name, region, bad, reason, now); changed {
		ev.Action = "logged"
		c.raise(ev)
	}
}

// observeAlarm feeds an alarm and keeps its gauge, so that every alarm
// observed has one, OK or not.
func (c *Controller) observeAlarm(name, region string, bad bool, reason string, now time.Time) (AlarmEvent, bool) {
	ev, changed := c.alarms.observe(name, region, bad, reason, now)
	if !changed {
		c.Metrics.alarmFiringSet(name, region, c.alarms.firing(name, region))
	}
	return ev, changed
}

// lagBehindWriter is how many entries a region lacks of the newest writer
// head anyone heard (its stream or the writer's lease renewals): what a
// failover to it would lose now.
func (c *Controller) lagBehindWriter(st *tandem.RegionStatus) uint64 {
	head := st.Replication.Head
	if reported := c.writerHeadReported(); reported.LSN > head.LSN {
		head = reported
	}
	if head.LSN <= st.Position.LSN {
		return 0
	}
	return head.LSN - st.Position.LSN
}
