package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/internal/retry"
)

// load writes comments through the edge until stopped, recording which
// writes were acknowledged and which got no answer (they may or may not
// have committed).
type load struct {
	edge, token string
	mu          sync.Mutex
	acked       map[string]bool
	unknown     map[string]bool
	refused     int
	refusedIDs  map[string]bool
	lastRefusal string
	stop, done  chan struct{}
}

func startLoad(t testing.TB, edge, token, prefix string) *load {
	l := &load{edge: edge, token: token, acked: map[string]bool{}, unknown: map[string]bool{}, refusedIDs: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			id := fmt.Sprintf("%s%06d", prefix, i)
			req, _ := http.NewRequest("POST", edge+"/api/comments/photo-1", strings.NewReader(commentJSON(id)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			l.mu.Lock()
			switch {
			case err != nil || resp.StatusCode == http.StatusBadGateway:
				l.unknown[id] = true
			case resp.StatusCode == http.StatusCreated:
				l.acked[id] = true
			default:
				l.refused++
				l.refusedIDs[id] = true
				b, _ := io.ReadAll(resp.Body)
				l.lastRefusal = fmt.Sprintf("%d %s", resp.StatusCode, b)
			}
			l.mu.Unlock()
			if resp != nil {
				resp.Body.Close()
			}
		}
	}()
	return l
}

func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *load) waitAcked(t testing.TB, n int) {
	t.Helper()
	retry.Until(t, 10*time.Millisecond, 30*time.Second, func() error {
		if got := l.ackedCount(); got < n {
			l.mu.Lock()
			defer l.mu.Unlock()
			return fmt.Errorf("%d writes acknowledged, waiting for %d; last refusal: %s", got, n, l.lastRefusal)
		}
		return nil
	})
}

func (l *load) refusedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

func (l *load) waitRefused(t testing.TB, n int) {
	t.Helper()
	retry.Until(t, 10*time.Millisecond, 30*time.Second, func() error {
		if got := l.refusedCount(); got < n {
			return fmt.Errorf("%d writes refused, waiting for %d", got, n)
		}
		return nil
	})
}

func (l *load) finish() {
	close(l.stop)
	<-l.done
}

// commentIDs returns the ids of photo-1's comments at base.
func commentIDs(t testing.TB, base string) map[string]bool {
	t.Helper()
	r := call(t, "GET", base+"/api/comments/photo-1", "")
	var got struct {
		Comments []tandem.Comment `json:"comments"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil {
		t.Fatalf("list comments at %s: %+v", base, r)
	}
	ids := map[string]bool{}
	for _, c := range got.Comments {
		ids[c.CommentID] = true
	}
	return ids
}

// waitConverged waits until both regions report the same LSN and the same
// table checksums.
func waitConverged(t testing.TB, dir string) control.Status {
	t.Helper()
	var st control.Status
	retry.Until(t, 50*time.Millisecond, 30*time.Second, func() error {
		st = status(t, dir)
		a, b := st.Regions[0].Status, st.Regions[1].Status
		if a == nil || b == nil {
			return fmt.Errorf("a region is down")
		}
		if a.Position.LSN != b.Position.LSN {
			return fmt.Errorf("LSNs differ: %d and %d", a.Position.LSN, b.Position.LSN)
		}
		for table, sum := range a.Checksums {
			if b.Checksums[table] != sum {
				return fmt.Errorf("table %s differs", table)
			}
		}
		return nil
	})
	return st
}

func runbookRecord(t testing.TB, dir string) control.Runbook {
	t.Helper()
	var rbs []control.Runbook
	if err := json.Unmarshal([]byte(cli(t, "runbooks", "list", "--json", "--dir", dir)), &rbs); err != nil || len(rbs) == 0 {
		t.Fatalf("runbooks list: %v", err)
	}
	return rbs[0]
}

// waitRunbook waits until the newest runbook has ended and returns it.
func waitRunbook(t testing.TB, dir string) control.Runbook {
	t.Helper()
	var rb control.Runbook
	retry.Until(t, 20*time.Millisecond, 60*time.Second, func() error {
		if rb = runbookRecord(t, dir); rb.Status == control.StatusRunning {
			return fmt.Errorf("runbook %s still running", rb.ID)
		}
		return nil
	})
	return rb
}

func checkAllSucceeded(t testing.TB, rb control.Runbook) {
	t.Helper()
	if rb.Status != control.StatusSucceeded {
		t.Fatalf("runbook %s: %s (%s)", rb.ID, rb.Status, rb.Message)
	}
	for _, s := range rb.Steps {
		if s.Status != control.StatusSucceeded || s.Started.IsZero() || s.Ended.Before(s.Started) {
			t.Fatalf("runbook %s step %+v", rb.ID, s)
		}
	}
}

// TestFailoverAfterKillAndFailback is the unplanned case in async mode: the
// standby is killed and held down so the writer acknowledges writes it never
// replicates, then the writer is killed with SIGKILL and the standby,
// restarted, is promoted. When the
// old writer comes back it must refuse writes, quarantine exactly the
// writes it had alone, rewind and follow; every acknowledged write is then
// on the new writer or in the quarantine. A failback returns the writer.
func TestFailoverAfterKillAndFailback(t *testing.T) {
	testFailover(t, "async")
}

// TestFailoverSyncMode is the same outage in sync mode: writes the standby
// never confirmed are never acknowledged, so none is missing after the
// failover; the old writer's unconfirmed commits go to the quarantine.
func TestFailoverSyncMode(t *testing.T) {
	testFailover(t, "sync")
}

func testFailover(t testing.TB, mode string) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base, "--replication", mode, "--auto-failover=false") // the failover is the operator's
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	oldWriter := fmt.Sprintf("http://127.0.0.1:%d", base+1)
	standby := fmt.Sprintf("http://127.0.0.1:%d", base+2)
	token := strings.TrimSpace(cli(t, "token", "--dir", dir))

	l := startLoad(t, edge, token, "f")
	l.waitAcked(t, 50)
	// The standby goes down and stays down: the writer acknowledges writes
	// it cannot replicate. Then the writer dies too, and the standby returns.
	hold := func(name string) string {
		path := filepath.Join(dir, "run", name+".hold")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	standbyHold, writerHold := hold("ap-northeast-1"), hold("us-east-1")
	syscall.Kill(readPID(t, dir, "ap-northeast-1"), syscall.SIGKILL)
	if mode == "sync" {
		l.waitRefused(t, l.refusedCount()+2)
	} else {
		l.waitAcked(t, l.ackedCount()+40)
	}
	syscall.Kill(readPID(t, dir, "us-east-1"), syscall.SIGKILL)
	os.Remove(standbyHold)
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if r := call(t, "GET", standby+"/healthz", ""); r.status != 200 {
			return fmt.Errorf("standby not back: %+v", r)
		}
		return nil
	})

	if mode == "sync" {
		// In sync mode the new writer acknowledges nothing until it has a
		// follower again, so the old writer returns once its lease is
		// revoked, and the failover's probe succeeds once it has rejoined.
		cli(t, "failover", "--to", "ap-northeast-1", "--no-wait", "--dir", dir)
		retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
			if rb := runbookRecord(t, dir); rb.Steps[1].Status != control.StatusSucceeded {
				return fmt.Errorf("lease not revoked yet: %+v", rb.Steps[1])
			}
			return nil
		})
		os.Remove(writerHold)
	} else if out := cli(t, "failover", "--to", "ap-northeast-1", "--dir", dir); !strings.Contains(out, "failover succeeded") {
		t.Fatalf("failover output:\n%s", out)
	}
	rb := waitRunbook(t, dir)
	checkAllSucceeded(t, rb)
	if rb.RPO == nil {
		t.Fatal("failover recorded no RPO estimate")
	}
	l.waitAcked(t, l.ackedCount()+50) // writes resume on the new writer
	os.Remove(writerHold)

	// The old writer comes back, refuses writes, rejoins.
	retry.Until(t, 50*time.Millisecond, 30*time.Second, func() error {
		r := call(t, "POST", oldWriter+"/api/comments/photo-1", commentJSON("to-the-old-writer"))
		if r.status == -1 {
			return fmt.Errorf("old writer not back yet")
		}
		if r.status == 201 {
			t.Fatalf("the returned old writer acknowledged a write: %+v", r)
		}
		return nil
	})
	l.finish()
	waitConverged(t, dir)

	var q struct {
		Entries []tandem.QuarantinedEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(cli(t, "quarantine", "export", "--dir", dir)), &q); err != nil {
		t.Fatal(err)
	}
	quarantined := map[string]string{}
	for _, e := range q.Entries {
		var row struct {
			CommentID string `json:"comment_id"`
		}
		if e.Change.Table != "comments" || json.Unmarshal(e.Change.After, &row) != nil || e.Region != "us-east-1" || e.Status != tandem.QuarantineHeld {
			t.Fatalf("unexpected quarantined entry %+v", e)
		}
		quarantined[row.CommentID] = e.ID
	}
	have := commentIDs(t, edge)
	for id := range l.acked {
		if mode == "sync" && !have[id] {
			t.Fatalf("sync mode: acknowledged write %s is missing from the new writer", id)
		}
		if !have[id] && quarantined[id] == "" {
			t.Fatalf("acknowledged write %s is neither on the new writer nor in the quarantine", id)
		}
		if have[id] && quarantined[id] != "" {
			t.Fatalf("write %s is both on the new writer and in the quarantine", id)
		}
	}
	for id := range quarantined {
		if !l.acked[id] && !l.unknown[id] && !l.refusedIDs[id] {
			t.Fatalf("quarantined write %s was never attempted", id)
		}
		if mode == "sync" && l.acked[id] {
			t.Fatalf("sync mode: acknowledged write %s was quarantined", id)
		}
	}
	if len(quarantined) == 0 {
		t.Fatal("the frozen standby missed writes, but nothing was quarantined")
	}

	// Replay one lost write: it is a comment again.
	var some string
	for id, qid := range quarantined {
		some = id
		if out := cli(t, "quarantine", "replay", qid, "--dir", dir); !strings.Contains(out, "replayed") {
			t.Fatalf("replay: %s", out)
		}
		break
	}
	if !commentIDs(t, edge)[some] {
		t.Fatalf("replayed write %s is not a comment", some)
	}

	if out := cli(t, "failback", "--dir", dir); !strings.Contains(out, "failback succeeded") {
		t.Fatalf("failback output:\n%s", out)
	}
	st := waitConverged(t, dir)
	if s := st.Snapshot; s.Writer != "us-east-1" || s.State != tandem.StateActive {
		t.Fatalf("after failback: %s", s)
	}
	var failover control.Runbook
	if err := json.Unmarshal([]byte(cli(t, "runbooks", "show", rb.ID, "--json", "--dir", dir)), &failover); err != nil {
		t.Fatal(err)
	}
	if s := failover.RPO.Settled; s == nil || *s != uint64(len(q.Entries)) {
		t.Fatalf("failover RPO settled at %v, want the %d quarantined entries", s, len(q.Entries))
	}
	t.Logf("acked %d, quarantined %d, RPO estimate %d entries, failover RTO %d ms", len(l.acked), len(quarantined), rb.RPO.Entries, rb.RTOMs)
}

// TestControllerKilledMidSwitchover kills the controller (the edge process)
// while a switchover waits for the writer, then lets the writer go on. The
// restarted controller resumes the runbook and the switchover ends in a
// consistent, recorded state.
func TestControllerKilledMidSwitchover(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base, "--auto-failover=false")
	// The switchover's check needs the standby following the writer, which
	// it may not be yet just after up.
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		if rs := status(t, dir).Regions[1].Status; rs == nil || !rs.Replication.Connected {
			return fmt.Errorf("standby not following the writer yet")
		}
		return nil
	})
	writer := readPID(t, dir, "us-east-1")
	syscall.Kill(writer, syscall.SIGSTOP)
	defer syscall.Kill(writer, syscall.SIGCONT)

	out := cli(t, "switchover", "--to", "ap-northeast-1", "--no-wait", "--timeout", "30s", "--dir", dir)
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	show := func() (control.Runbook, error) {
		var rb control.Runbook
		out, err := execOutput(binary, "runbooks", "show", id, "--json", "--dir", dir)
		if err != nil {
			return rb, fmt.Errorf("%v: %s", err, out)
		}
		return rb, json.Unmarshal([]byte(out), &rb)
	}
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		rb, err := show()
		if err != nil {
			return err
		}
		for _, s := range rb.Steps {
			if s.Name == "wait-fenced" && s.Status == control.StatusRunning {
				return nil
			}
		}
		return fmt.Errorf("not waiting for the writer yet: %+v", rb.Steps)
	})
	edgePID := readPID(t, dir, "edge")
	syscall.Kill(edgePID, syscall.SIGKILL)
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		if readPID(t, dir, "edge") == edgePID {
			return fmt.Errorf("edge not restarted yet")
		}
		_, err := show()
		return err
	})
	syscall.Kill(writer, syscall.SIGCONT)

	var rb control.Runbook
	retry.Until(t, 50*time.Millisecond, 40*time.Second, func() error {
		var err error
		if rb, err = show(); err != nil {
			return err
		}
		if rb.Status == control.StatusRunning {
			return fmt.Errorf("runbook still running")
		}
		return nil
	})
	checkAllSucceeded(t, rb)
	st := waitConverged(t, dir)
	if s := st.Snapshot; s.Writer != "ap-northeast-1" || s.State != tandem.StateActive || s.Epoch != 2 {
		t.Fatalf("after the resumed switchover: %s", s)
	}
}
