package control

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
)

// fakeStandby answers health and status as a standby whose writer is
// gone: replication not connected, applied LSN as set.
type fakeStandby struct {
	mu      sync.Mutex
	applied uint64
	store   string
}

func (f *fakeStandby) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	checks := map[string]string{"store": f.store, "control": "ok", "replication": "not connected to the writer", "disk": "ok"}
	st := tandem.RegionStatus{Region: "ap-northeast-1", Position: tandem.Position{LSN: f.applied},
		Replication: tandem.FollowStatus{Following: true, Applied: tandem.Position{LSN: f.applied}, Head: tandem.Position{LSN: f.applied}},
		Health:      tandem.Health{Checks: checks}}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case HealthPath:
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(st.Health)
	case StatusPath:
		json.NewEncoder(w).Encode(st)
	default:
		http.NotFound(w, r)
	}
}

// openWithDeadWriter opens a controller whose writer is unreachable and
// whose standby is f, with health checks every 10 ms.
func openWithDeadWriter(t *testing.T, f *fakeStandby, configure func(*Controller)) *Controller {
	t.Helper()
	standby := httptest.NewServer(f)
	t.Cleanup(standby.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c := New(filepath.Join(t.TempDir(), "control.db"))
	c.HealthInterval, c.HealthTimeout, c.LeaseTTL = 10*time.Millisecond, 500*time.Millisecond, 50*time.Millisecond
	c.AutoFailoverEnabled, c.HealthGrace = true, 0
	configure(c)
	if err := c.Open(tandem.Snapshot{AppID: "app-1", Regions: []tandem.RegionInfo{{Name: "us-east-1", URL: dead.URL}, {Name: "ap-northeast-1", URL: standby.URL}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// writerAlarm waits for the writer-unhealthy alarm of us-east-1 and returns
// its ALARM transition.
func writerAlarm(t *testing.T, c *Controller) AlarmEvent {
	t.Helper()
	var ev AlarmEvent
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		hist, err := c.AlarmHistory(context.Background(), 10)
		if err != nil {
			return err
		}
		for _, e := range hist {
			if e.Alarm == AlarmWriterUnhealthy && e.Region == "us-east-1" && e.State == AlarmFiring {
				ev = e
				return nil
			}
		}
		return context.DeadlineExceeded
	})
	return ev
}

func TestAutoFailoverStarts(t *testing.T) {
	c := openWithDeadWriter(t, &fakeStandby{applied: 10, store: "ok"}, func(*Controller) {})
	ev := writerAlarm(t, c)
	if !strings.Contains(ev.Action, "automatic failover") || !strings.Contains(ev.Action, "started") {
		t.Fatalf("alarm action %q", ev.Action)
	}
	rb, err := c.lastAutomatic(context.Background())
	if err != nil || rb == nil {
		t.Fatalf("no automatic runbook: %v", err)
	}
	if rb.Kind != KindFailover || rb.From != "us-east-1" || rb.Target != "ap-northeast-1" || rb.DetectedAt.IsZero() ||
		rb.DecidedAt.Before(rb.DetectedAt) || rb.Started.Before(rb.DecidedAt) || !strings.HasPrefix(rb.Trigger, "unreachable") {
		t.Fatalf("automatic runbook %+v", rb)
	}
	st, err := c.AutoFailover(context.Background())
	if err != nil || st.CooldownUntil.IsZero() || st.Last != rb.ID {
		t.Fatalf("auto failover status %+v, %v", st, err)
	}
	// The cooldown now refuses another one.
	if _, why := c.autoFailoverTarget(context.Background(), tandem.Snapshot{State: tandem.StateActive, Regions: c.Snapshot().Regions}, "us-east-1"); !strings.Contains(why, "cooldown") {
		t.Fatalf("second automatic failover: %q", why)
	}
}

func TestAutoFailoverGuardRails(t *testing.T) {
	tests := []struct {
		name      string
		standby   *fakeStandby
		configure func(*Controller)
		before    func(*Controller)
		want      string
	}{
		{"disabled", &fakeStandby{store: "ok"}, func(c *Controller) { c.AutoFailoverEnabled = false }, nil, "not enabled"},
		{"paused", &fakeStandby{store: "ok"}, func(*Controller) {}, func(c *Controller) { c.SetAutoFailoverPaused(context.Background(), true) }, "paused"},
		{"standby store broken", &fakeStandby{store: "store unreadable"}, func(*Controller) {}, nil, "unhealthy: store"},
		{"standby lags", &fakeStandby{applied: 10, store: "ok"}, func(c *Controller) { c.MaxAutoFailoverLag = 5 }, func(c *Controller) {
			c.RenewLease(context.Background(), LeaseRequest{Region: "us-east-1", Epoch: 1, Head: tandem.Position{LSN: 100}})
		}, "lacks 90 entries"},
		{"not active", &fakeStandby{store: "ok"}, func(*Controller) {}, func(c *Controller) {
			c.SetState(context.Background(), "app-1", tandem.StateFailover)
		}, "the state is failover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configure := func(c *Controller) {
				tt.configure(c)
				if tt.before != nil {
					c.HealthInterval = 0 // checks start below, once the case is set up
				}
			}
			c := openWithDeadWriter(t, tt.standby, configure)
			if tt.before != nil {
				tt.before(c)
				c.HealthInterval = 10 * time.Millisecond
				for _, r := range c.Snapshot().Regions {
					c.goBackground(func(ctx context.Context) { c.checkHealth(ctx, r) })
				}
			}
			ev := writerAlarm(t, c)
			if !strings.Contains(ev.Action, "no automatic failover") || !strings.Contains(ev.Action, tt.want) {
				t.Fatalf("alarm action %q, want it to say %q", ev.Action, tt.want)
			}
			if rb, _ := c.lastAutomatic(context.Background()); rb != nil {
				t.Fatalf("automatic runbook started: %+v", rb)
			}
		})
	}
}

func TestAutoFailoverPauseIsPersisted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "control.db")
	init := tandem.Snapshot{AppID: "app-1", Regions: []tandem.RegionInfo{{Name: "us-east-1", URL: "http://127.0.0.1:1"}}}
	c := New(path)
	c.HealthInterval, c.AutoFailoverEnabled = 0, true
	if err := c.Open(init); err != nil {
		t.Fatal(err)
	}
	if st, err := c.SetAutoFailoverPaused(ctx, true); err != nil || !st.Paused || st.PausedAt.IsZero() {
		t.Fatalf("pause: %+v, %v", st, err)
	}
	c.Close()

	c = New(path)
	c.HealthInterval, c.AutoFailoverEnabled = 0, true
	if err := c.Open(init); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.AutoFailover(ctx); err != nil || !st.Paused || !st.Enabled {
		t.Fatalf("after a restart: %+v, %v", st, err)
	}
	if st, err := c.SetAutoFailoverPaused(ctx, false); err != nil || st.Paused {
		t.Fatalf("resume: %+v, %v", st, err)
	}
}
