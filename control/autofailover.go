package control

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tandemhq/tandem"
)

// AutoFailoverStatus is whether the controller may fail over by itself.
type AutoFailoverStatus struct {
	// Enabled is the configuration (auto_failover); Paused is the
	// operator's switch (tandem autofailover pause|resume), kept in the
	// controller's database.
	Enabled       bool      `json:"enabled"`
	Paused        bool      `json:"paused"`
	PausedAt      time.Time `json:"pausedAt,omitzero"`
	MaxLagEntries uint64    `json:"maxLagEntries"`
	CooldownMs    int64     `json:"cooldownMs"`
	// CooldownUntil is set while the cooldown after the last automatic
	// failover runs.
	CooldownUntil time.Time `json:"cooldownUntil,omitzero"`
	// Last is the newest automatic failover's runbook id.
	Last string `json:"last,omitempty"`
}

// AutoFailoverRequest pauses or resumes automatic failover.
type AutoFailoverRequest struct {
	Paused *bool `json:"paused"`
}

const settingAutoFailoverPaused = "autofailover_paused_at"

// AutoFailover returns whether the controller may fail over by itself.
func (c *Controller) AutoFailover(ctx context.Context) (AutoFailoverStatus, error) {
	st := AutoFailoverStatus{Enabled: c.AutoFailoverEnabled, MaxLagEntries: c.MaxAutoFailoverLag, CooldownMs: c.AutoFailoverCooldown.Milliseconds()}
	var at int64
	switch err := c.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingAutoFailoverPaused).Scan(&at); {
	case err == nil:
		st.Paused, st.PausedAt = true, time.UnixMicro(at).UTC()
	case !errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("read auto-failover setting: %w", err)
	}
	last, err := c.lastAutomatic(ctx)
	if err != nil {
		return st, err
	}
	if last != nil {
		st.Last = last.ID
		if until := last.Started.Add(c.AutoFailoverCooldown); c.Now().Before(until) {
			st.CooldownUntil = until
		}
	}
	return st, nil
}

// SetAutoFailoverPaused pauses or resumes automatic failover. The setting
// survives restarts. Resuming does not act on an alarm already firing: a
// writer that is still unhealthy then needs a human.
func (c *Controller) SetAutoFailoverPaused(ctx context.Context, paused bool) (AutoFailoverStatus, error) {
	var err error
	if paused {
		_, err = c.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, settingAutoFailoverPaused, c.Now().UnixMicro())
	} else {
		_, err = c.db.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, settingAutoFailoverPaused)
	}
	if err != nil {
		return AutoFailoverStatus{}, fmt.Errorf("store auto-failover setting: %w", err)
	}
	c.Metrics.autoFailoverPaused(paused)
	c.Logger.Info("automatic failover " + map[bool]string{true: "paused", false: "resumed"}[paused])
	return c.AutoFailover(ctx)
}

// lastAutomatic returns the newest automatic failover, or nil.
func (c *Controller) lastAutomatic(ctx context.Context) (*Runbook, error) {
	rbs, err := c.Runbooks(ctx, 50)
	if err != nil {
		return nil, err
	}
	for _, rb := range rbs {
		if rb.Automatic {
			return &rb, nil
		}
	}
	return nil, nil
}

// autoFailover decides, once per writer-unhealthy episode, whether to run
// the failover runbook away from writer, and starts it if so. It returns
// the action taken, for the alarm's record. The guard rails, in order:
// enabled and not paused; the state is active (never after a failover not
// yet failed back, so never an automatic failback or ping-pong); no
// runbook running; no automatic failover within the cooldown; the standby
// answers and its store, control view and disk are fine; and it lacks at
// most MaxAutoFailoverLag entries of the last writer head heard.
func (c *Controller) autoFailover(ctx context.Context, snap tandem.Snapshot, writer string, detected time.Time, reason string) string {
	decided := c.Now().UTC()
	target, refusal := c.autoFailoverTarget(ctx, snap, writer)
	if refusal != "" {
		msg := "no automatic failover: " + refusal
		if c.AutoFailoverEnabled {
			c.Logger.Warn(msg+"; a human must decide (tandem failover)", "writer", writer, "alarm_reason", reason)
			c.Metrics.autoFailover("refused")
			msg += "; a human must decide"
		}
		return msg
	}
	rb, err := c.startRunbook(ctx, RunbookRequest{Kind: KindFailover, Target: target}, &autoStart{detected: detected, decided: decided, trigger: reason})
	if err != nil {
		c.Logger.Error("automatic failover could not start; a human must decide", "writer", writer, "err", err)
		c.Metrics.autoFailover("refused")
		return "automatic failover could not start: " + err.Error()
	}
	c.Metrics.autoFailover("started")
	return fmt.Sprintf("automatic failover %s to %s started", rb.ID, target)
}

// autoFailoverTarget returns the region an automatic failover may promote,
// or why there is none.
func (c *Controller) autoFailoverTarget(ctx context.Context, snap tandem.Snapshot, writer string) (string, string) {
	if !c.AutoFailoverEnabled {
		return "", "automatic failover is not enabled (auto_failover)"
	}
	st, err := c.AutoFailover(ctx)
	if err != nil {
		return "", err.Error()
	}
	switch {
	case st.Paused:
		return "", "automatic failover is paused"
	case snap.State != tandem.StateActive:
		return "", fmt.Sprintf("the state is %s, not active", snap.State)
	case !st.CooldownUntil.IsZero():
		return "", fmt.Sprintf("cooldown after automatic failover %s until %s", st.Last, st.CooldownUntil.Format(time.RFC3339))
	}
	c.runMu.Lock()
	running := c.running
	c.runMu.Unlock()
	if running != nil {
		return "", fmt.Sprintf("runbook %s (%s) is running", running.rb.ID, running.rb.Kind)
	}
	var target tandem.RegionInfo
	for _, r := range snap.Regions {
		if r.Name != writer {
			target = r
			break
		}
	}
	if target.Name == "" {
		return "", "there is no standby"
	}
	sctx, cancel := context.WithTimeout(ctx, c.HealthTimeout)
	defer cancel()
	rs, err := c.RegionStatus(sctx, target, false)
	if err != nil {
		return "", fmt.Sprintf("standby %s: %v", target.Name, err)
	}
	if bad, why := standbyFailure(rs.Health.Checks); bad {
		return "", fmt.Sprintf("standby %s is unhealthy: %s", target.Name, why)
	}
	if lag := c.lagBehindWriter(rs); lag > c.MaxAutoFailoverLag {
		return "", fmt.Sprintf("standby %s lacks %d entries, over max_auto_failover_lag %d", target.Name, lag, c.MaxAutoFailoverLag)
	}
	return target.Name, ""
}
