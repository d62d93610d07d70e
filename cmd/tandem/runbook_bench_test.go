package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/internal/retry"
)

// BenchmarkSwitchover switches the writer back and forth under `tandem up`
// and reports the runbook's own duration (fence to acknowledged probe) and
// the CLI's wall time per switchover.
func BenchmarkSwitchover(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "data")
	startUp(b, dir, freePortBase(b))
	targets := []string{"ap-northeast-1", "us-east-1"}
	var runbook []time.Duration
	b.ResetTimer()
	for i := range b.N {
		cli(b, "switchover", "--to", targets[i%2], "--dir", dir)
		rb := runbookRecord(b, dir)
		checkAllSucceeded(b, rb)
		runbook = append(runbook, rb.Ended.Sub(rb.Started))
	}
	b.StopTimer()
	reportDurations(b, "runbook", runbook)
}

// BenchmarkFailover kills the writer with SIGKILL, runs `tandem failover`
// at once, and measures from the kill to the first write acknowledged
// through the edge. Between iterations the old writer rejoins and a
// failback restores it (not timed).
func BenchmarkFailover(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "data")
	base := freePortBase(b)
	startUp(b, dir, base, "--auto-failover=false")
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	secret := readFile(b, filepath.Join(dir, "secret"))
	var rto []time.Duration
	for i := range b.N {
		hold := filepath.Join(dir, "run", "us-east-1.hold")
		if err := os.WriteFile(hold, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		killed := time.Now()
		syscall.Kill(readPID(b, dir, "us-east-1"), syscall.SIGKILL)
		cli(b, "failover", "--to", "ap-northeast-1", "--no-wait", "--dir", dir)
		retry.Until(b, time.Millisecond, 30*time.Second, func() error {
			r := callWith(b, "POST", edge+"/internal/v1/probe", fmt.Sprintf(`{"id":"bench-%d"}`, i), "Authorization", "Bearer "+strings.TrimSpace(secret))
			if r.status != 200 {
				return fmt.Errorf("probe: %+v", r)
			}
			return nil
		})
		rto = append(rto, time.Since(killed))
		b.StopTimer()
		checkAllSucceeded(b, waitRunbook(b, dir))
		os.Remove(hold)
		cli(b, "failback", "--dir", dir)
		b.StartTimer()
	}
	b.StopTimer()
	reportDurations(b, "kill-to-write", rto)
}

// BenchmarkAutoFailover kills the writer with SIGKILL and holds it down,
// leaving the failover to the controller, and reports kill to the first
// write acknowledged through the edge, with its parts from the automatic
// runbook's record: first-fail (kill to the first failed health check),
// detection (kill to the alarm's decision), decision (to the runbook's
// start), promotion (to the target acting as writer: check, revoke,
// wait-lease, promote) and routing (to the probe's write through the edge:
// route, state, probe). Between iterations the old writer rejoins and a
// failback restores it (not timed); the cooldown is set to 1ms.
func BenchmarkAutoFailover(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "data")
	base := freePortBase(b)
	startUp(b, dir, base, "--auto-failover-cooldown", "1ms")
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	secret := strings.TrimSpace(readFile(b, filepath.Join(dir, "secret")))
	parts := map[string][]time.Duration{}
	for i := range b.N {
		// A fault comes at any point of the writer's lease renewals, not
		// just after the failback's promotion renewed it: wait a random
		// part of a renewal interval.
		b.StopTimer()
		waitWriterChecked(b, dir)
		<-time.After(rand.N(tandem.DefaultLeaseTTL / 3))
		b.StartTimer()
		hold := holdRegion(b, dir, "us-east-1")
		killed := time.Now()
		syscall.Kill(readPID(b, dir, "us-east-1"), syscall.SIGKILL)
		retry.Until(b, time.Millisecond, 30*time.Second, func() error {
			r := callWith(b, "POST", edge+"/internal/v1/probe", fmt.Sprintf(`{"id":"auto-bench-%d"}`, i), "Authorization", "Bearer "+secret)
			if r.status != 200 {
				return fmt.Errorf("probe: %+v", r)
			}
			return nil
		})
		parts["kill-to-write"] = append(parts["kill-to-write"], time.Since(killed))
		b.StopTimer()
		rb := waitRunbook(b, dir)
		checkAllSucceeded(b, rb)
		if !rb.Automatic {
			b.Fatalf("runbook %s was not automatic", rb.ID)
		}
		promoted := rb.Steps[slices.IndexFunc(rb.Steps, func(s control.Step) bool { return s.Name == "promote" })].Ended
		parts["first-fail"] = append(parts["first-fail"], rb.DetectedAt.Sub(killed))
		parts["detection"] = append(parts["detection"], rb.DecidedAt.Sub(killed))
		parts["decision"] = append(parts["decision"], rb.Started.Sub(rb.DecidedAt))
		parts["promotion"] = append(parts["promotion"], promoted.Sub(rb.Started))
		parts["routing"] = append(parts["routing"], rb.FirstWriteAt.Sub(promoted))
		parts["rto-record"] = append(parts["rto-record"], time.Duration(rb.RTOMs)*time.Millisecond)
		os.Remove(hold)
		cli(b, "failback", "--dir", dir)
		b.StartTimer()
	}
	b.StopTimer()
	for name, ds := range parts {
		reportDurations(b, name, ds)
	}
}

// reportDurations reports the median and maximum of ds in milliseconds.
func reportDurations(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, name+"-max-ms")
}
