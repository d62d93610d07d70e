package control

import (
	"context"

	"github.com/tandemhq/tandem"
)

// ChangeState is an operator's change of the application state: SetState,
// under the rules the runbooks' own steps do not follow. Nothing changes
// while a runbook runs: its steps own the state until it ends (setting
// active in the middle of a switchover would let writes in while it
// drains). The failover state comes with a failover, which also moves the
// writer; by hand it can only be restored from fenced, so that fencing
// after a failover and lifting the fence does not re-arm automatic
// failover, which acts only in the active state. Returns ECONFLICT while a
// runbook runs and EINVALID for failover from any state but fenced.
func (c *Controller) ChangeState(ctx context.Context, appID string, state tandem.AppState) (tandem.Snapshot, error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if err := c.idleLocked("the state"); err != nil {
		return tandem.Snapshot{}, err
	}
	if now := c.Snapshot().State; state == tandem.StateFailover && now != tandem.StateFailover && now != tandem.StateFenced {
		return tandem.Snapshot{}, tandem.Errorf(tandem.EINVALID, "the failover state comes with a failover, which also moves the writer: run the failover runbook instead (by hand it is only restored from fenced)")
	}
	return c.SetState(ctx, appID, state)
}

// ChangeRouting is an operator's change of a routing control: SetRouting,
// refused with ECONFLICT while a runbook runs, whose route step owns them.
func (c *Controller) ChangeRouting(ctx context.Context, region string, on bool) (tandem.Snapshot, error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if err := c.idleLocked("the routing controls"); err != nil {
		return tandem.Snapshot{}, err
	}
	return c.SetRouting(ctx, region, on)
}

// idleLocked returns ECONFLICT while a runbook runs; the caller holds runMu.
func (c *Controller) idleLocked(what string) error {
	if c.running != nil {
		return tandem.Errorf(tandem.ECONFLICT, "runbook %s (%s) is running and changes %s itself: wait until it ends", c.running.rb.ID, c.running.rb.Kind, what)
	}
	return nil
}
