// Package control is tandem's recovery controller: it holds the application
// state, the writer region and its epoch, the routing controls and the writer
// lease, keeps them durable, and serves them to regions, the edge and the CLI.
package control

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Controller holds the deployment's control state. Every change is written
// to its database before anyone can see it.
type Controller struct {
	// Path is the controller's SQLite database.
	Path     string
	LeaseTTL time.Duration
	Logger   *slog.Logger
	Now      func() time.Time

	// Secret is the cluster secret the controller presents to regions.
	Secret string
	// Client reaches the regions.
	Client *http.Client
	// ProbeURL is where runbooks send their write probe: the edge, so that
	// a probe proves a write works end to end. Empty: the writer directly.
	ProbeURL string

	// HealthInterval, HealthTimeout and HealthHistory set how often each
	// region's deep health is checked, how long a check may take, and how
	// many results are kept per region.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	HealthHistory  int
	// HealthGrace: see DefaultHealthGrace.
	HealthGrace time.Duration
	// UnhealthyThreshold is how many failed checks of the writer in a row
	// raise the writer-unhealthy alarm.
	UnhealthyThreshold int
	// LagAlarmSeconds and LagAlarmFor raise the replication-lag alarm when
	// a standby's lag stays over the first for the second.
	LagAlarmSeconds float64
	LagAlarmFor     time.Duration
	// BlobPendingAlarm raises the blob-pending alarm when a standby's
	// oldest pending blob is older.
	BlobPendingAlarm time.Duration
	// EdgeRequests, if set, returns the edge's requests so far and how many
	// were answered 5xx; ErrorRateAlarm and ErrorRateFor raise the
	// edge-errors alarm when the share of 5xx stays over the first for the
	// second.
	EdgeRequests   func() (total, errors float64)
	ErrorRateAlarm float64
	ErrorRateFor   time.Duration
	// AutoFailoverEnabled lets the writer-unhealthy alarm run the failover
	// runbook, within the guard rails (see autoFailover).
	AutoFailoverEnabled  bool
	MaxAutoFailoverLag   uint64
	AutoFailoverCooldown time.Duration
	// Webhooks receive every alarm transition as a JSON POST.
	Webhooks       []string
	WebhookTimeout time.Duration
	// Metrics, if set, is where the controller reports; nil reports nothing.
	Metrics *Metrics
	// Gatherer, if set, holds the edge's request metrics the dashboard draws.
	Gatherer prometheus.Gatherer

	db        *sql.DB
	dashboard dashboardSampler

	mu      sync.Mutex
	snap    tandem.Snapshot
	changed chan struct{}
	lease   Lease
	// writerHead is the last changelog head the writer reported, in
	// writerHeadEpoch.
	writerHead      tandem.Position
	writerHeadEpoch uint64

	started      time.Time
	health       healthLog
	alarms       *alarmSet
	webhookQueue chan AlarmEvent

	runMu   sync.Mutex
	running *run // the runbook in progress, if any
	bg      context.Context
	stop    context.CancelFunc
	runs    sync.WaitGroup
}

// Lease is the writer lease as the controller granted it last.
type Lease struct {
	Region  string    `json:"region"`
	Epoch   uint64    `json:"epoch"`
	Expires time.Time `json:"expires"`
	TTL     int64     `json:"ttlMs"`
}

// New returns a controller on the database at path. Call Open before use.
func New(path string) *Controller {
	bg, stop := context.WithCancel(context.Background())
	return &Controller{Path: path, LeaseTTL: tandem.DefaultLeaseTTL, Logger: slog.Default(), Now: time.Now, changed: make(chan struct{}),
		Client: &http.Client{Timeout: 3 * time.Second}, bg: bg, stop: stop,
		HealthInterval: DefaultHealthInterval, HealthTimeout: DefaultHealthTimeout, HealthHistory: DefaultHealthHistory, HealthGrace: DefaultHealthGrace,
		UnhealthyThreshold: DefaultUnhealthyThreshold, LagAlarmSeconds: DefaultLagAlarmSeconds, LagAlarmFor: DefaultLagAlarmFor,
		BlobPendingAlarm: DefaultBlobPendingAlarm, MaxAutoFailoverLag: DefaultMaxAutoFailoverLag,
		AutoFailoverCooldown: DefaultAutoFailoverCooldown, WebhookTimeout: DefaultWebhookTimeout,
		ErrorRateAlarm: DefaultErrorRateAlarm, ErrorRateFor: DefaultErrorRateFor}
}

// Open opens the database. On first run it starts from init: the app id, the
// regions with their routing controls on (the writer takes all traffic, the
// others serve reads the writer fails), and the first region as the writer in
// epoch 1. Later runs keep what is stored, adding regions init names that
// the stored state lacks and updating their URLs.
func (c *Controller) Open(init tandem.Snapshot) error {
	var err error
	if c.db, err = sql.Open("sqlite", "file:"+c.Path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_txlock=immediate"); err != nil {
		return fmt.Errorf("open controller: %w", err)
	}
	c.db.SetMaxOpenConns(1)
	if _, err := c.db.Exec(controlSchema); err != nil {
		return fmt.Errorf("open controller: %w", err)
	}
	if err := c.load(init); err != nil {
		return err
	}
	if err := c.resumeRunbooks(); err != nil {
		return err
	}
	c.startMonitoring()
	return nil
}

// startMonitoring starts a health-check loop per region and the webhook
// sender; they stop at Close.
func (c *Controller) startMonitoring() {
	c.started = c.Now()
	c.alarms = newAlarmSet(map[string]alarmRule{
		AlarmWriterUnhealthy: {Consecutive: c.UnhealthyThreshold},
		AlarmReplicationLag:  {For: c.LagAlarmFor},
		AlarmBlobPending:     {},
		AlarmEdgeErrors:      {For: c.ErrorRateFor},
	})
	if st, err := c.AutoFailover(context.Background()); err == nil {
		c.Metrics.autoFailoverPaused(st.Paused)
	}
	c.webhookQueue = make(chan AlarmEvent, 64)
	c.goBackground(c.postWebhooks)
	if c.EdgeRequests != nil {
		c.goBackground(c.watchEdgeErrors)
	}
	if c.HealthInterval <= 0 {
		return
	}
	for _, r := range c.Snapshot().Regions {
		c.goBackground(func(ctx context.Context) { c.checkHealth(ctx, r) })
	}
}

func (c *Controller) goBackground(fn func(context.Context)) {
	c.runs.Add(1)
	go func() { defer c.runs.Done(); fn(c.bg) }()
}

// load reads the stored snapshot, or creates the first one from init.
func (c *Controller) load(init tandem.Snapshot) error {
	var raw string
	switch err := c.db.QueryRow(`SELECT snapshot FROM control WHERE id = 1`).Scan(&raw); {
	case errors.Is(err, sql.ErrNoRows):
		if init.AppID == "" || len(init.Regions) == 0 {
			return fmt.Errorf("open controller: a new controller needs an app id and at least one region")
		}
		snap := tandem.Snapshot{AppID: init.AppID, State: tandem.StateActive, Writer: init.Regions[0].Name, Epoch: 1,
			Regions: init.Regions, Routing: map[string]bool{}}
		for _, r := range init.Regions {
			snap.Routing[r.Name] = true
		}
		return c.commit(context.Background(), snap, "created")
	case err != nil:
		return fmt.Errorf("open controller: %w", err)
	}
	var snap tandem.Snapshot
	if err := json.Unmarshal([]byte(raw), &snap); err != nil {
		return fmt.Errorf("open controller: stored state is corrupt: %w", err)
	}
	c.snap = snap
	next := snap
	next.Regions = mergeRegions(snap.Regions, init.Regions)
	if !slices.Equal(next.Regions, snap.Regions) {
		return c.commit(context.Background(), next, "regions updated")
	}
	return nil
}

func mergeRegions(have, add []tandem.RegionInfo) []tandem.RegionInfo {
	out := slices.Clone(have)
	for _, r := range add {
		i := slices.IndexFunc(out, func(h tandem.RegionInfo) bool { return h.Name == r.Name })
		if i < 0 {
			out = append(out, r)
		} else {
			out[i] = r
		}
	}
	return out
}

// Close stops any runbook in progress (it resumes at the next Open) and
// closes the database.
func (c *Controller) Close() error {
	c.stop()
	c.runs.Wait()
	if c.db == nil {
		return nil
	}
	return c.db.Close()
}

const controlSchema = `
CREATE TABLE IF NOT EXISTS control (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runbooks (
	id         TEXT PRIMARY KEY,
	started_us INTEGER NOT NULL,
	status     TEXT NOT NULL,
	record     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_history (
	id         INTEGER PRIMARY KEY,
	at_us      INTEGER NOT NULL,
	alarm      TEXT NOT NULL,
	region     TEXT NOT NULL,
	from_state TEXT NOT NULL,
	state      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	action     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
	version INTEGER PRIMARY KEY,
	at_us   INTEGER NOT NULL,
	what    TEXT NOT NULL,
	state   TEXT NOT NULL,
	writer  TEXT NOT NULL,
	epoch   INTEGER NOT NULL
);
`

// commit stores next as the new snapshot, with the next version, and wakes
// watchers. The caller holds no lock; commit takes it.
func (c *Controller) commit(ctx context.Context, next tandem.Snapshot, what string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commitLocked(ctx, next, what)
}

func (c *Controller) commitLocked(ctx context.Context, next tandem.Snapshot, what string) error {
	next.Version = c.snap.Version + 1
	next.Changed = c.Now().UTC()
	raw, err := json.Marshal(next)
	if err != nil {
		return err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store control state: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO control (id, snapshot) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot`, string(raw)); err != nil {
		return fmt.Errorf("store control state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (version, at_us, what, state, writer, epoch) VALUES (?, ?, ?, ?, ?, ?)`,
		next.Version, next.Changed.UnixMicro(), what, string(next.State), next.Writer, next.Epoch); err != nil {
		return fmt.Errorf("store control event: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store control state: %w", err)
	}
	c.snap = next
	close(c.changed)
	c.changed = make(chan struct{})
	c.Logger.Info("control state changed", "what", what, "version", next.Version, "state", next.State, "writer", next.Writer, "epoch", next.Epoch)
	return nil
}

// Snapshot returns the current snapshot.
func (c *Controller) Snapshot() tandem.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// Watch returns the snapshot once its version is past after, waiting for a
// change until ctx ends; then it returns the current snapshot.
func (c *Controller) Watch(ctx context.Context, after uint64) tandem.Snapshot {
	for {
		c.mu.Lock()
		snap, ch := c.snap, c.changed
		c.mu.Unlock()
		if snap.Version > after {
			return snap
		}
		select {
		case <-ctx.Done():
			return snap
		case <-ch:
		}
	}
}

// SetState sets the application state of appID. Returns ENOTFOUND for an
// unknown app id.
func (c *Controller) SetState(ctx context.Context, appID string, state tandem.AppState) (tandem.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if appID != c.snap.AppID {
		return tandem.Snapshot{}, tandem.Errorf(tandem.ENOTFOUND, "unknown app id %q", appID)
	}
	if _, err := tandem.ParseAppState(string(state)); err != nil {
		return tandem.Snapshot{}, err
	}
	if c.snap.State == state {
		return c.snap, nil
	}
	next := c.snap
	next.State = state
	if err := c.commitLocked(ctx, next, "state set to "+string(state)); err != nil {
		return tandem.Snapshot{}, err
	}
	return c.snap, nil
}

// SetRouting turns region's routing control on or off. Returns ENOTFOUND for
// an unknown region.
func (c *Controller) SetRouting(ctx context.Context, region string, on bool) (tandem.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.snap.Region(region); !ok {
		return tandem.Snapshot{}, tandem.Errorf(tandem.ENOTFOUND, "unknown region %q", region)
	}
	if c.snap.Routing[region] == on {
		return c.snap, nil
	}
	next := c.snap
	next.Routing = make(map[string]bool, len(c.snap.Routing)+1)
	for k, v := range c.snap.Routing {
		next.Routing[k] = v
	}
	next.Routing[region] = on
	if err := c.commitLocked(ctx, next, fmt.Sprintf("routing control %s set %v", region, on)); err != nil {
		return tandem.Snapshot{}, err
	}
	return c.snap, nil
}

// RenewLease grants region the writer lease for epoch for another LeaseTTL.
// Returns EFORBIDDEN when region is not the writer or epoch is not current,
// so a deposed writer learns at once that it must stop.
func (c *Controller) RenewLease(ctx context.Context, req LeaseRequest) (Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Region != c.snap.Writer || req.Epoch != c.snap.Epoch {
		return Lease{}, tandem.Errorf(tandem.EFORBIDDEN, "no lease for %s in epoch %d: the writer is %s in epoch %d", req.Region, req.Epoch, c.snap.Writer, c.snap.Epoch)
	}
	c.lease = Lease{Region: req.Region, Epoch: req.Epoch, Expires: c.Now().Add(c.LeaseTTL), TTL: c.LeaseTTL.Milliseconds()}
	if req.Epoch > c.writerHeadEpoch || req.Head.LSN >= c.writerHead.LSN {
		c.writerHead, c.writerHeadEpoch = req.Head, req.Epoch
	}
	return c.lease, nil
}

// writerHeadReported returns the newest changelog head a writer reported.
func (c *Controller) writerHeadReported() tandem.Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writerHead
}

// Event is one recorded change of the control state.
type Event struct {
	Version uint64          `json:"version"`
	At      time.Time       `json:"at"`
	What    string          `json:"what"`
	State   tandem.AppState `json:"state"`
	Writer  string          `json:"writer"`
	Epoch   uint64          `json:"epoch"`
}

// Events returns the newest limit changes of the control state, newest first.
func (c *Controller) Events(ctx context.Context, limit int) ([]Event, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT version, at_us, what, state, writer, epoch FROM events ORDER BY version DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var us int64
		if err := rows.Scan(&e.Version, &us, &e.What, &e.State, &e.Writer, &e.Epoch); err != nil {
			return nil, err
		}
		e.At = time.UnixMicro(us).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// revokeWriter starts a new epoch with no writer, so no region can renew a
// lease, and returns the epoch and when the last lease granted expires (zero
// when unknown).
func (c *Controller) revokeWriter(ctx context.Context) (uint64, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.snap
	next.Epoch++
	next.Writer = ""
	expires := time.Time{}
	if c.lease.Epoch == c.snap.Epoch {
		expires = c.lease.Expires
	}
	if err := c.commitLocked(ctx, next, "writer lease revoked"); err != nil {
		return 0, time.Time{}, err
	}
	return next.Epoch, expires, nil
}

// promoteWriter makes region the writer of epoch, or of a new epoch when
// epoch is 0 or not past the current one. Promoting the writer of the
// current epoch again changes nothing.
func (c *Controller) promoteWriter(ctx context.Context, region string, epoch uint64) (tandem.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap.Writer == region && (epoch == 0 || c.snap.Epoch >= epoch) {
		return c.snap, nil
	}
	next := c.snap
	next.Writer = region
	if epoch == 0 || epoch <= c.snap.Epoch && c.snap.Writer != "" {
		next.Epoch = c.snap.Epoch + 1
	} else {
		next.Epoch = max(epoch, c.snap.Epoch)
	}
	if err := c.commitLocked(ctx, next, fmt.Sprintf("%s promoted to writer", region)); err != nil {
		return tandem.Snapshot{}, err
	}
	return c.snap, nil
}
