package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/internal/retry"
)

// webhookSink is an alarm webhook that keeps what it receives.
type webhookSink struct {
	mu     sync.Mutex
	events []control.AlarmEvent
}

func startWebhook(t testing.TB) (*webhookSink, string) {
	s := &webhookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev control.AlarmEvent
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || json.Unmarshal(b, &ev) != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// find returns the first event received for alarm, region and state.
func (s *webhookSink) find(alarm, region, state string) (control.AlarmEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if ev.Alarm == alarm && ev.Region == region && ev.State == state {
			return ev, true
		}
	}
	return control.AlarmEvent{}, false
}

func runbooks(t testing.TB, dir string) []control.Runbook {
	t.Helper()
	var rbs []control.Runbook
	if err := json.Unmarshal([]byte(cli(t, "runbooks", "list", "--json", "--dir", dir)), &rbs); err != nil {
		t.Fatalf("runbooks list: %v", err)
	}
	return rbs
}

func automaticFailovers(t testing.TB, dir string) []control.Runbook {
	t.Helper()
	var out []control.Runbook
	for _, rb := range runbooks(t, dir) {
		if rb.Automatic {
			out = append(out, rb)
		}
	}
	return out
}

// alarmHistory returns the controller's alarm transitions, newest first.
func alarmHistory(t testing.TB, dir, edge string) []control.AlarmEvent {
	t.Helper()
	secret := strings.TrimSpace(readFile(t, filepath.Join(dir, "secret")))
	r := callWith(t, "GET", edge+"/control/v1/alarms", "", "Authorization", "Bearer "+secret)
	var a control.Alarms
	if r.status != 200 || json.Unmarshal([]byte(r.body), &a) != nil {
		t.Fatalf("alarms: %+v", r)
	}
	return a.History
}

// waitWriterChecked waits until the controller's last check of us-east-1,
// the writer, passed: until then a writer the controller has never seen
// healthy gets the start-up grace.
func waitWriterChecked(t testing.TB, dir string) {
	t.Helper()
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		st := status(t, dir)
		if len(st.Health) != 2 || st.Snapshot.Writer != "us-east-1" {
			return fmt.Errorf("no checks, or another writer: %+v", st.Health)
		}
		if recent := st.Health[0].Recent; len(recent) == 0 || !recent[len(recent)-1].OK {
			return fmt.Errorf("no healthy check of the writer yet: %+v", recent)
		}
		return nil
	})
}

func holdRegion(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, "run", name+".hold")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAutoFailoverKilledWriter kills the writer with SIGKILL under write
// load and holds it down: the controller detects it, fails over by itself
// exactly once, writes resume through the edge, the runbook record carries
// detection and decision times and the RTO, and the webhook receives the
// alarm's transitions.
func TestAutoFailoverKilledWriter(t *testing.T) {
	hook, hookURL := startWebhook(t)
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base, "--alarm-webhook", hookURL)
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	token := strings.TrimSpace(cli(t, "token", "--dir", dir))

	// Pause and resume from the CLI: the switch is the controller's.
	if out := cli(t, "autofailover", "pause", "--dir", dir); !strings.Contains(out, "paused") {
		t.Fatalf("autofailover pause: %s", out)
	}
	if out := cli(t, "autofailover", "resume", "--dir", dir); !strings.Contains(out, "automatic failover: on") {
		t.Fatalf("autofailover resume: %s", out)
	}
	waitWriterChecked(t, dir)

	l := startLoad(t, edge, token, "a")
	defer l.finish()
	l.waitAcked(t, 50)
	holdRegion(t, dir, "us-east-1")
	killed := time.Now()
	syscall.Kill(readPID(t, dir, "us-east-1"), syscall.SIGKILL)

	var rb control.Runbook
	retry.Until(t, 20*time.Millisecond, 30*time.Second, func() error {
		rbs := automaticFailovers(t, dir)
		if len(rbs) == 0 || rbs[0].Status == control.StatusRunning {
			return fmt.Errorf("no finished automatic failover yet")
		}
		rb = rbs[0]
		return nil
	})
	checkAllSucceeded(t, rb)
	l.waitAcked(t, l.ackedCount()+50) // writes resume through the edge
	if rb.From != "us-east-1" || rb.Target != "ap-northeast-1" || rb.Kind != control.KindFailover {
		t.Fatalf("automatic runbook %+v", rb)
	}
	if rb.DetectedAt.Before(killed) || rb.DecidedAt.Before(rb.DetectedAt) || rb.Started.Before(rb.DecidedAt) ||
		rb.FirstWriteAt.Before(rb.Started) || rb.RTOMs != rb.FirstWriteAt.Sub(rb.DetectedAt).Milliseconds() || rb.Trigger == "" || rb.RPO == nil {
		t.Fatalf("automatic runbook record: detected %v decided %v started %v first write %v rto %d ms trigger %q rpo %v",
			rb.DetectedAt, rb.DecidedAt, rb.Started, rb.FirstWriteAt, rb.RTOMs, rb.Trigger, rb.RPO)
	}
	t.Logf("kill → detected %v → decided %v → first write %v (RTO from detection %d ms, from kill %v)",
		rb.DetectedAt.Sub(killed).Round(time.Millisecond), rb.DecidedAt.Sub(rb.DetectedAt).Round(time.Millisecond),
		rb.FirstWriteAt.Sub(rb.DecidedAt).Round(time.Millisecond), rb.RTOMs, rb.FirstWriteAt.Sub(killed).Round(time.Millisecond))

	// The alarm went to ALARM with the failover as its action, and back to
	// OK once us-east-1 was no longer the writer; the webhook saw both.
	retry.Until(t, 20*time.Millisecond, 10*time.Second, func() error {
		ev, ok := hook.find(control.AlarmWriterUnhealthy, "us-east-1", control.AlarmFiring)
		if !ok {
			return fmt.Errorf("webhook got no ALARM yet")
		}
		if !strings.Contains(ev.Action, "automatic failover "+rb.ID) {
			t.Fatalf("ALARM event action %q", ev.Action)
		}
		if _, ok := hook.find(control.AlarmWriterUnhealthy, "us-east-1", control.AlarmOK); !ok {
			return fmt.Errorf("webhook got no OK yet")
		}
		return nil
	})
	if st := status(t, dir); st.Snapshot.Writer != "ap-northeast-1" || st.AutoFailover == nil || st.AutoFailover.CooldownUntil.IsZero() || st.AutoFailover.Last != rb.ID {
		t.Fatalf("after the automatic failover: writer %s, auto failover %+v", st.Snapshot.Writer, st.AutoFailover)
	}
	if out := cli(t, "status", "--dir", dir); !strings.Contains(out, "cooldown until") || !strings.Contains(out, "checks") {
		t.Fatalf("status output:\n%s", out)
	}
	if n := len(automaticFailovers(t, dir)); n != 1 {
		t.Fatalf("%d automatic failovers, want exactly 1", n)
	}
}

// TestAutoFailoverFlappingWriter stops and continues whichever region is
// the writer, three times, each stop long enough to be detected (3.5 s: a
// stopped process answers no check, and 3 checks time out after 1 s each)
// and each pause between them 1 s: at most one automatic failover, after
// which the cooldown holds (and the state is failover, so the new writer's
// own outage is left to a human).
func TestAutoFailoverFlappingWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base)
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	token := strings.TrimSpace(cli(t, "token", "--dir", dir))
	l := startLoad(t, edge, token, "b")
	defer l.finish()
	l.waitAcked(t, 50)

	for range 3 {
		var writer string
		retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
			if writer = status(t, dir).Snapshot.Writer; writer == "" {
				return fmt.Errorf("no writer (a failover is under way)")
			}
			return nil
		})
		pid := readPID(t, dir, writer)
		syscall.Kill(pid, syscall.SIGSTOP)
		<-time.After(3500 * time.Millisecond)
		syscall.Kill(pid, syscall.SIGCONT)
		<-time.After(time.Second)
	}

	l.waitAcked(t, l.ackedCount()+50) // writes go on, wherever the writer is
	retry.Until(t, 50*time.Millisecond, 30*time.Second, func() error {
		for _, rb := range runbooks(t, dir) {
			if rb.Status == control.StatusRunning {
				return fmt.Errorf("runbook %s still running", rb.ID)
			}
		}
		return nil
	})
	rbs := automaticFailovers(t, dir)
	if len(rbs) > 1 {
		t.Fatalf("%d automatic failovers while the writer flapped, want at most 1", len(rbs))
	}
	st := status(t, dir)
	if len(rbs) == 1 {
		checkAllSucceeded(t, rbs[0])
		if st.AutoFailover == nil || st.AutoFailover.CooldownUntil.IsZero() {
			t.Fatalf("no cooldown after the automatic failover: %+v", st.AutoFailover)
		}
	}
	for _, ev := range alarmHistory(t, dir, edge) {
		if ev.Alarm == control.AlarmWriterUnhealthy && ev.State == control.AlarmFiring {
			t.Logf("%s ALARM: %s", ev.Region, ev.Action)
		}
	}
	t.Logf("%d automatic failover(s); writer %s", len(rbs), st.Snapshot.Writer)
}

// TestAutoFailoverRefusedWhenStandbyLags keeps the standby down while the
// writer acknowledges more writes than max_auto_failover_lag, then stops
// the writer, lets the standby return and kills the writer: the alarm is
// raised, no failover starts, and the record says a human must decide.
func TestAutoFailoverRefusedWhenStandbyLags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base, "--max-auto-failover-lag", "5")
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	standby := fmt.Sprintf("http://127.0.0.1:%d", base+2)
	token := strings.TrimSpace(cli(t, "token", "--dir", dir))
	l := startLoad(t, edge, token, "c")
	l.waitAcked(t, 20)

	standbyHold := holdRegion(t, dir, "ap-northeast-1")
	syscall.Kill(readPID(t, dir, "ap-northeast-1"), syscall.SIGKILL)
	// Long enough for lease renewals to report a head well past the
	// standby's: they go every second.
	l.waitAcked(t, l.ackedCount()+400)
	l.finish()

	// Stopped, the writer neither serves its stream nor renews its lease;
	// the standby returns meanwhile but cannot catch up. Then it dies.
	holdRegion(t, dir, "us-east-1")
	writer := readPID(t, dir, "us-east-1")
	syscall.Kill(writer, syscall.SIGSTOP)
	os.Remove(standbyHold)
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if r := call(t, "GET", standby+"/healthz", ""); r.status != 200 {
			return fmt.Errorf("standby not back: %+v", r)
		}
		return nil
	})
	syscall.Kill(writer, syscall.SIGKILL)

	var alarm control.AlarmEvent
	retry.Until(t, 50*time.Millisecond, 30*time.Second, func() error {
		for _, ev := range alarmHistory(t, dir, edge) {
			if ev.Alarm == control.AlarmWriterUnhealthy && ev.Region == "us-east-1" && ev.State == control.AlarmFiring {
				alarm = ev
				return nil
			}
		}
		return fmt.Errorf("no writer-unhealthy alarm yet")
	})
	if !strings.Contains(alarm.Action, "no automatic failover") || !strings.Contains(alarm.Action, "a human must decide") || !strings.Contains(alarm.Action, "lacks") {
		t.Fatalf("alarm action %q", alarm.Action)
	}
	st := status(t, dir)
	if n := len(automaticFailovers(t, dir)); n != 0 || st.Snapshot.Writer != "us-east-1" {
		t.Fatalf("%d automatic failovers, writer %s: want none while the standby lags", n, st.Snapshot.Writer)
	}
	firing := false
	for _, a := range st.Alarms {
		firing = firing || a.Name == control.AlarmWriterUnhealthy && a.Region == "us-east-1" && a.State == control.AlarmFiring
	}
	if !firing {
		t.Fatalf("writer-unhealthy alarm not firing: %+v", st.Alarms)
	}
	t.Logf("alarm action: %s", alarm.Action)
}
