package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/internal/pgserver"
)

// TestScenarioFailoverPostgres runs the async failover scenario
// (testdata/scenarios/failover-failback.txt: the standby dies, the writer
// acknowledges writes alone, dies, the standby is failed over to, the old
// writer rejoins with its extra writes quarantined, failback) with `tandem
// up --store postgres`: each region on its own PostgreSQL server.
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
}
