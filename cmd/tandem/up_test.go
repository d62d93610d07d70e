package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestUp drives `tandem up` as a user would: the reference curl flow through
// the edge, reads from the standby, fencing, a standby killed and restarted,
// a writer killed with reads failing over, and a restart of everything.
func TestUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	up := startUp(t, dir, base)
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	writer := fmt.Sprintf("http://127.0.0.1:%d", base+1)
	standby := fmt.Sprintf("http://127.0.0.1:%d", base+2)
	appID := strings.TrimSpace(readFile(t, filepath.Join(dir, "app-id")))

	// The reference state and comment calls, through the edge.
	if r := call(t, "GET", edge+"/api/state/"+appID, ""); r.status != 200 || r.body != `{"state":"active"}` {
		t.Fatalf("state: %+v", r)
	}
	if r := call(t, "GET", edge+"/api/state/not-an-app", ""); r.body != `{}` {
		t.Fatalf("unknown app state: %+v", r)
	}
	if r := call(t, "POST", edge+"/api/comments/photo-1", commentJSON("c1")); r.status != 201 || r.region != "us-east-1" {
		t.Fatalf("post comment: %+v", r)
	}
	waitComments(t, edge, 1)
	waitComments(t, standby, 1)
	if r := call(t, "POST", standby+"/api/comments/photo-1", commentJSON("c-standby")); r.status != 503 || !strings.Contains(r.body, "standby") {
		t.Fatalf("a write at the standby: %+v", r)
	}

	// Fenced: writes refused, nothing stored.
	if out := cli(t, "state", "set", "fenced", "--dir", dir); !strings.Contains(out, "fenced") {
		t.Fatalf("state set: %s", out)
	}
	retry.Until(t, 20*time.Millisecond, 10*time.Second, func() error {
		if r := call(t, "GET", writer+"/api/state/"+appID, ""); r.body != `{"state":"fenced"}` {
			return fmt.Errorf("writer's state: %s", r.body)
		}
		return nil
	})
	r := call(t, "POST", edge+"/api/comments/photo-1", commentJSON("c-fenced"))
	if want := `{"message":"` + httpapi.FencedCommentMessage + `"}`; r.status != 503 || r.body != want {
		t.Fatalf("post while fenced: %+v, want 503 %s", r, want)
	}
	if out, err := execOutput(binary, "state", "set", "sleeping", "--dir", dir); err == nil || !strings.Contains(out, "valid states are active, fenced, failover") {
		t.Fatalf("invalid state: %v %s", err, out)
	}
	cli(t, "state", "set", "active", "--dir", dir)
	retry.Until(t, 20*time.Millisecond, 10*time.Second, func() error {
		r := call(t, "POST", edge+"/api/comments/photo-1", commentJSON("c2"))
		if r.status != 201 {
			return fmt.Errorf("post after unfencing: %+v", r)
		}
		return nil
	})
	waitComments(t, edge, 2) // c-fenced was never stored

	// kill -9 the standby; writes go on; up restarts it and it catches up.
	killed := readPID(t, dir, "ap-northeast-1")
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if r := call(t, "POST", edge+"/api/comments/photo-1", commentJSON(fmt.Sprintf("k%02d", i))); r.status != 201 {
			t.Fatalf("write while the standby is down: %+v", r)
		}
	}
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if pid := readPID(t, dir, "ap-northeast-1"); pid == killed {
			return fmt.Errorf("standby not restarted yet")
		}
		return nil
	})
	waitComments(t, standby, 52)
	retry.Until(t, 50*time.Millisecond, 10*time.Second, func() error {
		st := status(t, dir)
		w, s := st.Regions[0].Status, st.Regions[1].Status
		if w == nil || s == nil {
			return fmt.Errorf("a region is down: %+v", st.Regions)
		}
		if s.Replication.Lag.Entries != 0 || s.Position.LSN != w.Position.LSN || s.Position.LSN != 52 {
			return fmt.Errorf("standby at %d, writer at %d, lag %d", s.Position.LSN, w.Position.LSN, s.Replication.Lag.Entries)
		}
		if w.Checksums["comments"] == "" || w.Checksums["comments"] != s.Checksums["comments"] {
			return fmt.Errorf("checksums differ: %v vs %v", w.Checksums, s.Checksums)
		}
		return nil
	})
	if out := cli(t, "status", "--dir", dir, "--checksums"); !strings.Contains(out, "tables equal in every region") || !strings.Contains(out, "writer") {
		t.Fatalf("status output:\n%s", out)
	}

	// kill -9 the writer: reads through the edge fail over to the standby.
	if err := syscall.Kill(readPID(t, dir, "us-east-1"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := call(t, "GET", edge+"/api/comments/photo-1", ""); r.status != 200 || r.region != "ap-northeast-1" || !strings.Contains(r.body, "k49") {
		t.Fatalf("read with the writer down: %+v", r)
	}
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if r := call(t, "POST", edge+"/api/comments/photo-1", commentJSON("after-writer-restart")); r.status != 201 {
			return fmt.Errorf("write after the writer restarted: %+v", r)
		}
		return nil
	})
	waitComments(t, standby, 53)

	// Stop everything and start again: all data is kept.
	up.stop(t)
	startUp(t, dir, base)
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "app-id"))); got != appID {
		t.Fatalf("app id changed across restarts: %s → %s", appID, got)
	}
	waitComments(t, edge, 53)
	waitComments(t, standby, 53)
}

func TestUpRefusesSecondInstanceAndBadFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startUp(t, dir, freePortBase(t))
	out, err := execOutput(binary, "up", "--dir", dir, "--port-base", fmt.Sprint(freePortBase(t)))
	if err == nil || !strings.Contains(out, "in use by another") {
		t.Fatalf("second up on one dir: %v\n%s", err, out)
	}
	out, err = execOutput(binary, "up", "--port-base", "70000")
	if err == nil || !strings.Contains(out, "port-base") {
		t.Fatalf("bad port base: %v\n%s", err, out)
	}
	out, err = execOutput(binary, "status", "--dir", filepath.Join(t.TempDir(), "nothing"))
	if err == nil || !strings.Contains(out, "no deployment found") {
		t.Fatalf("status without a deployment: %v\n%s", err, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
