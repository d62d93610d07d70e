package control

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// Runbook kinds.
const (
	KindSwitchover = "switchover"
	KindFailover   = "failover"
	KindFailback   = "failback"
)

// Runbook and step statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// DefaultRunbookTimeout bounds each waiting step of a runbook.
const DefaultRunbookTimeout = 10 * time.Second

// Runbook is the record of one execution: every step with its start, end,
// outcome and message, and the recovery it measured.
type Runbook struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	From    string    `json:"from"`
	Target  string    `json:"target"`
	Force   bool      `json:"force,omitempty"`
	Status  string    `json:"status"`
	Message string    `json:"message,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Steps   []Step    `json:"steps"`
	// Automatic is set on a failover the controller started by itself;
	// Trigger is the alarm's reason, DetectedAt the first failed health
	// check of the writer and DecidedAt when the controller chose to fail
	// over.
	Automatic  bool      `json:"automatic,omitempty"`
	Trigger    string    `json:"trigger,omitempty"`
	DetectedAt time.Time `json:"detectedAt,omitzero"`
	DecidedAt  time.Time `json:"decidedAt,omitzero"`
	// FirstWriteAt is when the probe's write was first acknowledged.
	FirstWriteAt time.Time `json:"firstWriteAt,omitzero"`
	// RTOMs is from the runbook's start (or the fault's detection, when
	// known) to the first write acknowledged through the probe.
	RTOMs int64 `json:"rtoMs,omitempty"`
	// RPO is what the promoted region had not received when promoted.
	RPO  *RPO    `json:"rpo,omitempty"`
	Data RunData `json:"data"`
	// TimeoutMs bounds each waiting step.
	TimeoutMs int64 `json:"timeoutMs"`
}

// Step is one step of a runbook execution.
type Step struct {
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	Message string    `json:"message,omitempty"`
}

// RPO is the recovery point of a failover: entries and seconds of writes
// the old writer had that the promoted region did not.
type RPO struct {
	// Settled is the exact number of entries the old writer's rejoin
	// quarantined, once it has rejoined.
	Settled     *uint64 `json:"settledEntries,omitempty"`
	Entries     uint64  `json:"entries"`
	Seconds     float64 `json:"seconds"`
	LastHeadLSN uint64  `json:"lastHeadLsn"`
	AppliedLSN  uint64  `json:"appliedLsn"`
}

// RunData is the state steps hand each other, kept with the record so a
// runbook resumes after a controller restart.
type RunData struct {
	PrevState    tandem.AppState `json:"prevState,omitempty"`
	FenceVersion uint64          `json:"fenceVersion,omitempty"`
	Epoch        uint64          `json:"epoch,omitempty"`
	RevokedAt    time.Time       `json:"revokedAt,omitzero"`
	LeaseExpires time.Time       `json:"leaseExpires,omitzero"`
	LastHead     tandem.Position `json:"lastHead"`
	Promoted     bool            `json:"promoted,omitempty"`
}

// RunbookRequest starts a runbook.
type RunbookRequest struct {
	Kind      string `json:"kind"`
	Target    string `json:"target,omitempty"`
	Force     bool   `json:"force,omitempty"`
	TimeoutMs int64  `json:"timeoutMs,omitempty"`
}

// run is a runbook being executed.
type run struct {
	mu    sync.Mutex
	rb    Runbook
	steps []step
}

type step struct {
	name string
	fn   func(ctx context.Context, c *Controller, r *run) (string, error)
}

func (r *run) timeout() time.Duration {
	if r.rb.TimeoutMs <= 0 {
		return DefaultRunbookTimeout
	}
	return time.Duration(r.rb.TimeoutMs) * time.Millisecond
}

// StartRunbook validates req and starts the runbook in the background.
// Returns ECONFLICT while another runbook runs, EINVALID or ENOTFOUND for a
// bad request.
func (c *Controller) StartRunbook(ctx context.Context, req RunbookRequest) (Runbook, error) {
	return c.startRunbook(ctx, req, nil)
}

// autoStart is what the controller knew when it started a runbook by
// itself.
type autoStart struct {
	detected, decided time.Time
	trigger           string
}

func (c *Controller) startRunbook(ctx context.Context, req RunbookRequest, auto *autoStart) (Runbook, error) {
	// Under runMu, which operators' changes take too: the snapshot read here
	// (whose state a failed switchover restores) is the one the run starts
	// from.
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.running != nil {
		return Runbook{}, tandem.Errorf(tandem.ECONFLICT, "runbook %s (%s) is still running", c.running.rb.ID, c.running.rb.Kind)
	}
	snap := c.Snapshot()
	if auto != nil && snap.State != tandem.StateActive {
		return Runbook{}, tandem.Errorf(tandem.ECONFLICT, "no automatic failover: the state became %s", snap.State)
	}
	steps, ok := stepsFor(req.Kind)
	if !ok {
		return Runbook{}, tandem.Errorf(tandem.EINVALID, "unknown runbook %q: use switchover, failover or failback", req.Kind)
	}
	if req.Target == "" {
		for _, r := range snap.Regions {
			if r.Name != snap.Writer {
				req.Target = r.Name
				break
			}
		}
	}
	if _, ok := snap.Region(req.Target); !ok {
		return Runbook{}, tandem.Errorf(tandem.ENOTFOUND, "unknown region %q", req.Target)
	}
	if req.Target == snap.Writer {
		return Runbook{}, tandem.Errorf(tandem.EINVALID, "%s is the writer already", req.Target)
	}
	if req.TimeoutMs < 0 {
		return Runbook{}, tandem.Errorf(tandem.EINVALID, "timeout must not be negative")
	}
	now := c.Now().UTC()
	rb := Runbook{ID: newRunbookID(now), Kind: req.Kind, From: snap.Writer, Target: req.Target, Force: req.Force,
		Status: StatusRunning, Started: now, TimeoutMs: req.TimeoutMs, Data: RunData{PrevState: snap.State}}
	if auto != nil {
		rb.Automatic, rb.Trigger, rb.DetectedAt, rb.DecidedAt = true, auto.trigger, auto.detected.UTC(), auto.decided.UTC()
	}
	for _, s := range steps {
		rb.Steps = append(rb.Steps, Step{Name: s.name, Status: StatusPending})
	}
	r := &run{rb: rb, steps: steps}
	if err := c.saveRun(ctx, r); err != nil {
		return Runbook{}, err
	}
	c.launch(r)
	c.Logger.Info("runbook started", "id", rb.ID, "kind", rb.Kind, "from", rb.From, "target", rb.Target, "automatic", rb.Automatic)
	return rb, nil
}

func newRunbookID(now time.Time) string {
	b := make([]byte, 3)
	rand.Read(b)
	return now.Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// launch runs r in the background; the caller holds runMu.
func (c *Controller) launch(r *run) {
	c.running = r
	c.runs.Add(1)
	go func() {
		defer c.runs.Done()
		c.execute(c.bg, r)
		c.runMu.Lock()
		if c.running == r {
			c.running = nil
		}
		c.runMu.Unlock()
	}()
}

// execute runs r's steps that are not done yet, in order, recording each.
func (c *Controller) execute(ctx context.Context, r *run) {
	for i, s := range r.steps {
		if r.rb.Steps[i].Status == StatusSucceeded {
			continue
		}
		r.mu.Lock()
		r.rb.Steps[i].Status, r.rb.Steps[i].Started = StatusRunning, c.Now().UTC()
		r.mu.Unlock()
		c.saveRun(ctx, r)
		msg, err := s.fn(ctx, c, r)
		if ctx.Err() != nil {
			return // the controller is closing; the step runs again at resume
		}
		r.mu.Lock()
		r.rb.Steps[i].Ended, r.rb.Steps[i].Message = c.Now().UTC(), msg
		r.rb.Steps[i].Status = StatusSucceeded
		if err != nil {
			r.rb.Steps[i].Status, r.rb.Steps[i].Message = StatusFailed, err.Error()
		}
		r.mu.Unlock()
		if err != nil {
			c.fail(ctx, r, fmt.Errorf("step %s: %w", s.name, err))
			return
		}
		c.saveRun(ctx, r)
		c.Metrics.step(r.rb.Kind, r.rb.Target, r.rb.Steps[i])
		c.Logger.Info("runbook step done", "id", r.rb.ID, "step", s.name, "message", msg)
	}
	r.mu.Lock()
	r.rb.Status, r.rb.Ended = StatusSucceeded, c.Now().UTC()
	r.mu.Unlock()
	c.saveRun(ctx, r)
	c.Metrics.runbookDone(r.rb)
	c.Logger.Info("runbook succeeded", "id", r.rb.ID, "kind", r.rb.Kind, "rto_ms", r.rb.RTOMs)
}

// fail records r's failure. A runbook that fenced the application and had
// not promoted anyone yet restores the state it found, so a failed
// switchover does not leave the application fenced.
func (c *Controller) fail(ctx context.Context, r *run, err error) {
	msg := err.Error()
	if r.rb.Data.FenceVersion != 0 && !r.rb.Data.Promoted && r.rb.Data.PrevState != "" && r.rb.Data.PrevState != tandem.StateFenced {
		if _, uerr := c.SetState(ctx, c.Snapshot().AppID, r.rb.Data.PrevState); uerr == nil {
			msg += fmt.Sprintf("; state restored to %s", r.rb.Data.PrevState)
		} else {
			msg += fmt.Sprintf("; could not restore state %s: %v", r.rb.Data.PrevState, uerr)
		}
	}
	r.mu.Lock()
	r.rb.Status, r.rb.Ended, r.rb.Message = StatusFailed, c.Now().UTC(), msg
	r.mu.Unlock()
	c.saveRun(ctx, r)
	c.Logger.Error("runbook failed", "id", r.rb.ID, "kind", r.rb.Kind, "err", msg)
}

// saveRun stores r's record.
func (c *Controller) saveRun(ctx context.Context, r *run) error {
	r.mu.Lock()
	raw, err := json.Marshal(r.rb)
	id, started, status := r.rb.ID, r.rb.Started, r.rb.Status
	r.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = c.db.ExecContext(context.WithoutCancel(ctx), `
		INSERT INTO runbooks (id, started_us, status, record) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record`,
		id, started.UnixMicro(), status, string(raw))
	if err != nil {
		c.Logger.Error("record runbook", "id", id, "err", err)
		return fmt.Errorf("record runbook: %w", err)
	}
	return nil
}

// resumeRunbooks continues a runbook a previous controller left running.
func (c *Controller) resumeRunbooks() error {
	rows, err := c.db.Query(`SELECT record FROM runbooks WHERE status = ? ORDER BY started_us`, StatusRunning)
	if err != nil {
		return fmt.Errorf("resume runbooks: %w", err)
	}
	var records []string
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return err
		}
		records = append(records, raw)
	}
	rows.Close()
	c.runMu.Lock()
	defer c.runMu.Unlock()
	for _, raw := range records {
		var rb Runbook
		if err := json.Unmarshal([]byte(raw), &rb); err != nil {
			return fmt.Errorf("resume runbooks: corrupt record: %w", err)
		}
		steps, _ := stepsFor(rb.Kind)
		r := &run{rb: rb, steps: steps}
		if c.running != nil {
			c.fail(context.Background(), r, errors.New("another runbook was resumed first"))
			continue
		}
		c.Logger.Warn("resuming a runbook interrupted by a controller restart", "id", rb.ID, "kind", rb.Kind)
		c.launch(r)
	}
	return nil
}

// FindRunbook returns a runbook's record. Returns ENOTFOUND if there is none.
func (c *Controller) FindRunbook(ctx context.Context, id string) (Runbook, error) {
	var raw string
	err := c.db.QueryRowContext(ctx, `SELECT record FROM runbooks WHERE id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Runbook{}, tandem.Errorf(tandem.ENOTFOUND, "no runbook %q", id)
	} else if err != nil {
		return Runbook{}, fmt.Errorf("read runbook: %w", err)
	}
	var rb Runbook
	return rb, json.Unmarshal([]byte(raw), &rb)
}

// Runbooks returns the newest limit runbook records, newest first.
func (c *Controller) Runbooks(ctx context.Context, limit int) ([]Runbook, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT record FROM runbooks ORDER BY started_us DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runbooks: %w", err)
	}
	defer rows.Close()
	out := []Runbook{}
	for rows.Next() {
		var raw string
		var rb Runbook
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(raw), &rb); err != nil {
			return nil, err
		}
		out = append(out, rb)
	}
	return out, rows.Err()
}
