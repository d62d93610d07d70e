package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestScenarios runs the scripts in testdata/scenarios, which are also the
// runbook documentation's worked examples. Each line is one command:
//
//	up                                start tandem up
//	load start|stop                   continuous writes through the edge
//	load wait acked=N|+N              until N (or N more) writes are acknowledged
//	hold|release REGION               keep a dead region down, or let it restart
//	kill REGION                       SIGKILL a region's process
//	wait-healthy REGION               until the region answers again
//	tandem ARGS...                    run the CLI against the deployment
//	check writer=R state=S epoch=E    the control state
//	check acked-present               every acknowledged write is on the writer
//	check acked-present-or-quarantined  ...or in the quarantine
//	check quarantine=N|quarantine>0   the quarantine's size
//	converge                          until both regions hold the same data
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runScenario(t, file) })
	}
}

type scenario struct {
	t     *testing.T
	dir   string
	base  int
	token string
	load  *load
	// finished is the last load stopped, kept for the checks after it.
	finished *load
}

func runScenario(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &scenario{t: t, dir: filepath.Join(t.TempDir(), "data"), base: freePortBase(t)}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t.Logf("%s:%d: %s", filepath.Base(file), n, line)
		s.do(strings.Fields(line))
	}
	if s.load != nil {
		s.load.finish()
	}
}

func (s *scenario) edge() string { return fmt.Sprintf("http://127.0.0.1:%d", s.base) }

func (s *scenario) do(args []string) {
	t := s.t
	t.Helper()
	switch args[0] {
	case "up":
		startUp(t, s.dir, s.base, "--auto-failover=false") // scenarios run their failovers themselves
		s.token = strings.TrimSpace(cli(t, "token", "--dir", s.dir))
	case "load":
		switch args[1] {
		case "start":
			s.load = startLoad(t, s.edge(), s.token, "w")
		case "stop":
			s.load.finish()
			s.finished, s.load = s.load, nil
		case "wait":
			v := strings.TrimPrefix(args[2], "acked=")
			n, _ := strconv.Atoi(strings.TrimPrefix(v, "+"))
			if strings.HasPrefix(v, "+") {
				n += s.load.ackedCount()
			}
			s.load.waitAcked(t, n)
		}
	case "hold":
		if err := os.WriteFile(filepath.Join(s.dir, "run", args[1]+".hold"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	case "release":
		os.Remove(filepath.Join(s.dir, "run", args[1]+".hold"))
	case "kill":
		syscall.Kill(readPID(t, s.dir, args[1]), syscall.SIGKILL)
	case "wait-healthy":
		url := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.base+1+regionIndex(args[1]))
		retry.Until(t, 50*time.Millisecond, 30*time.Second, func() error {
			if r := call(t, "GET", url, ""); r.status != 200 {
				return fmt.Errorf("%s not answering", args[1])
			}
			return nil
		})
	case "tandem":
		out := cli(t, append(args[1:], "--dir", s.dir)...)
		if !strings.Contains(out, "succeeded") {
			t.Fatalf("tandem %s:\n%s", strings.Join(args[1:], " "), out)
		}
		checkAllSucceeded(t, runbookRecord(t, s.dir))
	case "converge":
		waitConverged(t, s.dir)
	case "check":
		for _, c := range args[1:] {
			s.check(c)
		}
	default:
		t.Fatalf("unknown scenario command %q", args[0])
	}
}

func regionIndex(name string) int {
	if name == tandem.DefaultStandbyRegion {
		return 1
	}
	return 0
}

func (s *scenario) check(c string) {
	t := s.t
	t.Helper()
	snap := status(t, s.dir).Snapshot
	key, want, _ := strings.Cut(c, "=")
	switch key {
	case "writer":
		if snap.Writer != want {
			t.Fatalf("writer is %s, want %s", snap.Writer, want)
		}
	case "state":
		if string(snap.State) != want {
			t.Fatalf("state is %s, want %s", snap.State, want)
		}
	case "epoch":
		if fmt.Sprint(snap.Epoch) != want {
			t.Fatalf("epoch is %d, want %s", snap.Epoch, want)
		}
	case "quarantine", "quarantine>0":
		n := len(s.quarantined())
		if (key == "quarantine" && fmt.Sprint(n) != want) || (key == "quarantine>0" && n == 0) {
			t.Fatalf("quarantine holds %d entries, want %s", n, strings.TrimPrefix(c, "quarantine"))
		}
	case "acked-present", "acked-present-or-quarantined":
		have := commentIDs(t, s.edge())
		held := s.quarantined()
		for id := range s.lastLoad().acked {
			if !have[id] && (key == "acked-present" || !held[id]) {
				t.Fatalf("acknowledged write %s is missing", id)
			}
		}
	default:
		t.Fatalf("unknown check %q", c)
	}
}

// lastLoad is the load that ran last, kept after it stopped for checks.
func (s *scenario) lastLoad() *load {
	if s.load != nil {
		return s.load
	}
	if s.finished == nil {
		s.t.Fatal("no load has run")
	}
	return s.finished
}

// quarantined returns the comment ids in the quarantine.
func (s *scenario) quarantined() map[string]bool {
	var q struct {
		Entries []tandem.QuarantinedEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(cli(s.t, "quarantine", "export", "--dir", s.dir)), &q); err != nil {
		s.t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range q.Entries {
		var row struct {
			CommentID string `json:"comment_id"`
		}
		json.Unmarshal(e.Change.After, &row)
		ids[row.CommentID] = true
	}
	return ids
}
