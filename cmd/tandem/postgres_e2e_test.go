package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/pgserver"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestScenarioFailoverPostgres runs the async failover scenario
// (testdata/scenarios/failover-failback.txt: the standby dies, the writer
// acknowledges writes alone, dies, the standby is failed over to, the old
// writer rejoins with its extra writes quarantined, failback) with `tandem
// up --store postgres`: each region on its own PostgreSQL server; then the
// standby's server is killed and up restarts it.
func TestScenarioFailoverPostgres(t *testing.T) {
	if _, err := pgserver.Binary("postgres"); err != nil {
		t.Skip(err)
	}
	// As root, PostgreSQL runs as the user postgres, which must reach the
	// data directory: t.TempDir's parents are closed to other users.
	tmp, err := os.MkdirTemp("", "tandem-pg-up-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/scenarios/failover-failback.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &scenario{t: t, dir: filepath.Join(tmp, "data"), base: freePortBase(t)}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t.Logf("failover-failback.txt:%d: %s", n, line)
		if line == "up" {
			startUp(t, s.dir, s.base, "--auto-failover=false", "--store", "postgres")
			s.token = strings.TrimSpace(cli(t, "token", "--dir", s.dir))
			continue
		}
		s.do(strings.Fields(line))
	}
	if s.load != nil {
		s.load.finish()
	}
	if cfg := readFile(t, filepath.Join(s.dir, "us-east-1.yaml")); !strings.Contains(cfg, "type: postgres") {
		t.Fatalf("us-east-1.yaml does not use PostgreSQL:\n%s", cfg)
	}
	postgresRestarted(t, s)
}

// postgresRestarted kills the standby's PostgreSQL server with SIGKILL: up
// restarts it, and the standby catches up with a write made meanwhile.
func postgresRestarted(t *testing.T, s *scenario) {
	t.Helper()
	st := status(t, s.dir)
	standby := tandem.DefaultStandbyRegion
	if st.Snapshot.Writer == standby {
		standby = tandem.DefaultWriterRegion
	}
	name := "postgres-" + standby
	pid := readPID(t, s.dir, name)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	edge := fmt.Sprintf("http://127.0.0.1:%d", s.base)
	comment := `{"commentId":"after-pg-kill","photoId":"photo-pg","message":"written while the standby's PostgreSQL restarts"}`
	if r := callWith(t, "POST", edge+"/api/comments/photo-pg", comment, "Authorization", "Bearer "+s.token); r.status != 201 {
		t.Fatalf("write while the standby's PostgreSQL is down: %+v", r)
	}
	retry.Until(t, 50*time.Millisecond, 60*time.Second, func() error {
		if now := readPID(t, s.dir, name); now == pid {
			return fmt.Errorf("%s not restarted yet (pid %d)", name, pid)
		}
		return nil
	})
	var standbyURL string
	for _, r := range st.Snapshot.Regions {
		if r.Name == standby {
			standbyURL = r.URL
		}
	}
	retry.Until(t, 50*time.Millisecond, 60*time.Second, func() error {
		if r := call(t, "GET", standbyURL+"/api/comments/photo-pg", ""); !strings.Contains(r.body, "after-pg-kill") {
			return fmt.Errorf("the standby %s lacks the write: %+v", standby, r)
		}
		return nil
	})
}
