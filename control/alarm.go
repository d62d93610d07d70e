package control

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/tandemhq/tandem/internal/httpjson"
)

// Alarm names.
const (
	// AlarmWriterUnhealthy: the writer failed UnhealthyThreshold health
	// checks in a row (see writerFailure for what counts as a failure).
	AlarmWriterUnhealthy = "writer-unhealthy"
	// AlarmReplicationLag: a standby's lag was over LagAlarmSeconds for
	// LagAlarmFor.
	AlarmReplicationLag = "replication-lag"
	// AlarmBlobPending: a standby's oldest pending blob was older than
	// BlobPendingAlarm.
	AlarmBlobPending = "blob-pending"
)

// Alarm states.
const (
	AlarmOK     = "OK"
	AlarmFiring = "ALARM"
)

// Alarm defaults.
const (
	DefaultUnhealthyThreshold   = 3
	DefaultLagAlarmSeconds      = 5.0
	DefaultLagAlarmFor          = 10 * time.Second
	DefaultBlobPendingAlarm     = 5 * time.Minute
	DefaultMaxAutoFailoverLag   = 1000
	DefaultAutoFailoverCooldown = 5 * time.Minute
	DefaultWebhookTimeout       = 2 * time.Second
)

// Alarm is the current state of one alarm for one region.
type Alarm struct {
	Name   string    `json:"name"`
	Region string    `json:"region"`
	State  string    `json:"state"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
	// FirstBad is when the condition was first seen in this episode: for
	// writer-unhealthy, the detection time of the fault.
	FirstBad time.Time `json:"firstBad,omitzero"`
}

// AlarmEvent is one transition of an alarm, as kept in the history and
// posted to webhooks.
type AlarmEvent struct {
	At     time.Time `json:"at"`
	AppID  string    `json:"appId,omitempty"`
	Alarm  string    `json:"alarm"`
	Region string    `json:"region"`
	From   string    `json:"from"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	// Action is what the controller did about it: logged, a runbook
	// started, or why it did not start one.
	Action string `json:"action,omitempty"`
}

// alarmRule says when an alarm fires: after Consecutive bad observations
// in a row that span at least For. It clears at the first good one.
type alarmRule struct {
	Consecutive int
	For         time.Duration
}

type alarmKey struct{ name, region string }

type alarmTrack struct {
	Alarm
	streak int
}

// alarmSet is the alarms' state machine. It is pure: the caller passes the
// time of every observation.
type alarmSet struct {
	mu     sync.Mutex
	rules  map[string]alarmRule
	tracks map[alarmKey]*alarmTrack
}

func newAlarmSet(rules map[string]alarmRule) *alarmSet {
	return &alarmSet{rules: rules, tracks: map[alarmKey]*alarmTrack{}}
}

// observe records one observation of alarm name for region: bad or not,
// and why. It returns the transition it caused, if any.
func (s *alarmSet) observe(name, region string, bad bool, reason string, now time.Time) (AlarmEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := alarmKey{name, region}
	t := s.tracks[k]
	if t == nil {
		t = &alarmTrack{Alarm: Alarm{Name: name, Region: region, State: AlarmOK, Since: now}}
		s.tracks[k] = t
	}
	if !bad {
		t.streak, t.FirstBad = 0, time.Time{}
		if t.State == AlarmOK {
			return AlarmEvent{}, false
		}
		t.State, t.Since, t.Reason = AlarmOK, now, reason
		return AlarmEvent{At: now, Alarm: name, Region: region, From: AlarmFiring, State: AlarmOK, Reason: reason}, true
	}
	if t.streak == 0 {
		t.FirstBad = now
	}
	t.streak++
	t.Reason = reason
	rule := s.rules[name]
	if t.State == AlarmFiring || t.streak < max(rule.Consecutive, 1) || now.Sub(t.FirstBad) < rule.For {
		return AlarmEvent{}, false
	}
	t.State, t.Since = AlarmFiring, now
	return AlarmEvent{At: now, Alarm: name, Region: region, From: AlarmOK, State: AlarmFiring, Reason: reason}, true
}

// firstBad returns when the current episode of an alarm began.
func (s *alarmSet) firstBad(name, region string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tracks[alarmKey{name, region}]; t != nil {
		return t.FirstBad
	}
	return time.Time{}
}

// firing reports whether an alarm is in the ALARM state.
func (s *alarmSet) firing(name, region string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tracks[alarmKey{name, region}]
	return t != nil && t.State == AlarmFiring
}

// list returns every alarm that has been observed, by name then region.
func (s *alarmSet) list() []Alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alarm, 0, len(s.tracks))
	for _, t := range s.tracks {
		out = append(out, t.Alarm)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Region < out[j].Region
	})
	return out
}

// Alarms returns the current state of every alarm observed since the
// controller started.
func (c *Controller) Alarms() []Alarm { return c.alarms.list() }

// raise records an alarm transition: in the log, the history table, the
// metrics and the webhooks.
func (c *Controller) raise(ev AlarmEvent) {
	ev.AppID = c.Snapshot().AppID
	log := c.Logger.Info
	if ev.State == AlarmFiring {
		log = c.Logger.Warn
	}
	log("alarm "+ev.State, "alarm", ev.Alarm, "region", ev.Region, "reason", ev.Reason, "action", ev.Action)
	if _, err := c.db.Exec(`INSERT INTO alarm_history (at_us, alarm, region, from_state, state, reason, action) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ev.At.UnixMicro(), ev.Alarm, ev.Region, ev.From, ev.State, ev.Reason, ev.Action); err != nil {
		c.Logger.Error("record alarm", "alarm", ev.Alarm, "err", err)
	}
	c.Metrics.alarm(ev)
	c.notify(ev)
}

// AlarmHistory returns the newest limit alarm transitions, newest first.
func (c *Controller) AlarmHistory(ctx context.Context, limit int) ([]AlarmEvent, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT at_us, alarm, region, from_state, state, reason, action FROM alarm_history ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read alarm history: %w", err)
	}
	defer rows.Close()
	out := []AlarmEvent{}
	for rows.Next() {
		var e AlarmEvent
		var us int64
		if err := rows.Scan(&us, &e.Alarm, &e.Region, &e.From, &e.State, &e.Reason, &e.Action); err != nil {
			return nil, err
		}
		e.At = time.UnixMicro(us).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// notify queues ev for the webhooks. It never blocks: when the queue is
// full the event is dropped (it is in the history table all the same).
func (c *Controller) notify(ev AlarmEvent) {
	if len(c.Webhooks) == 0 {
		return
	}
	select {
	case c.webhookQueue <- ev:
	default:
		c.Logger.Warn("alarm webhook queue full; event not posted", "alarm", ev.Alarm, "region", ev.Region, "state", ev.State)
	}
}

// postWebhooks posts queued alarm events to every webhook URL, one at a
// time, each bounded by WebhookTimeout, until ctx ends.
func (c *Controller) postWebhooks(ctx context.Context) {
	client := &http.Client{Timeout: c.WebhookTimeout}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-c.webhookQueue:
			for _, url := range c.Webhooks {
				if err := httpjson.Call(ctx, client, http.MethodPost, url, "", ev, nil); err != nil {
					c.Logger.Warn("alarm webhook failed", "url", url, "alarm", ev.Alarm, "err", err)
				}
			}
		}
	}
}

// AlarmEdgeErrors: the edge answered more than ErrorRateAlarm of its
// requests with 5xx for ErrorRateFor (region "edge").
const AlarmEdgeErrors = "edge-errors"

// Edge error-rate defaults: the rate is taken over windows of
// EdgeErrorWindow with at least MinEdgeRequests requests.
const (
	DefaultErrorRateAlarm = 0.05
	DefaultErrorRateFor   = 30 * time.Second
	EdgeErrorWindow       = 5 * time.Second
	MinEdgeRequests       = 20
)

// edgeErrorWindow says whether one window of edge requests counts against
// the edge-errors alarm: total and errors are the edge's counters now,
// prevTotal and prevErrors at the window's start.
func edgeErrorWindow(prevTotal, prevErrors, total, errors, limit float64) (bool, string) {
	n, e := total-prevTotal, errors-prevErrors
	if n < MinEdgeRequests {
		return false, fmt.Sprintf("%.0f requests in the window, too few to judge", n)
	}
	return e/n > limit, fmt.Sprintf("%.1f%% of %.0f requests answered 5xx (limit %.1f%%)", 100*e/n, n, 100*limit)
}

// watchEdgeErrors feeds the edge-errors alarm every EdgeErrorWindow until
// ctx ends.
func (c *Controller) watchEdgeErrors(ctx context.Context) {
	tick := time.NewTicker(EdgeErrorWindow)
	defer tick.Stop()
	prevTotal, prevErrors := c.EdgeRequests()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		total, errors := c.EdgeRequests()
		bad, reason := edgeErrorWindow(prevTotal, prevErrors, total, errors, c.ErrorRateAlarm)
		c.observe(AlarmEdgeErrors, "edge", bad, reason, c.Now().UTC())
		prevTotal, prevErrors = total, errors
	}
}
