package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/internal/testproxy"
)

const testSecret = "split-brain-test-secret-0123456789"

// cluster is an in-process deployment: an edge with the controller, and
// two regions, the writer reaching the controller through a proxy the test
// can cut.
type cluster struct {
	edge    *Edge
	regions map[string]*Region
	proxy   *testproxy.Proxy
	logs    *syncBuffer
}

func startCluster(t *testing.T, ttl time.Duration, configure ...func(*RegionConfig)) *cluster {
	t.Helper()
	base := freePortBase(t)
	dir := t.TempDir()
	c := &cluster{regions: map[string]*Region{}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(c.logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", c.logs.String())
		}
	})
	names := []string{tandem.DefaultWriterRegion, tandem.DefaultStandbyRegion}
	url := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }
	ec := EdgeConfig{Listen: fmt.Sprintf("127.0.0.1:%d", base), Controller: ControllerConfig{Path: filepath.Join(dir, "control.db"), AppID: "app", LeaseTTL: ttl}}
	for i, n := range names {
		ec.Controller.Regions = append(ec.Controller.Regions, RegionRef{Name: n, URL: url(base + 1 + i)})
	}
	c.edge = &Edge{Config: ec, Secret: testSecret, Logger: logger}
	if err := c.edge.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.edge.Close() })
	c.proxy = testproxy.New(t, c.edge.Addr())
	for i, n := range names {
		controller := url(base)
		if i == 0 {
			controller = c.proxy.URL()
		}
		rc := RegionConfig{Name: n, Listen: fmt.Sprintf("127.0.0.1:%d", base+1+i), URL: url(base + 1 + i), DataDir: filepath.Join(dir, n),
			Controller: controller, Lease: LeaseConfig{TTL: ttl, Safety: ttl / 5}}
		for _, f := range configure {
			f(&rc)
		}
		if err := rc.Validate(); err != nil {
			t.Fatal(err)
		}
		g := &Region{Config: rc, Secret: testSecret, Logger: logger}
		if err := g.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		c.regions[n] = g
	}
	return c
}

// probeWrite writes a probe row at region; it reports whether the write was
// acknowledged.
func probeWrite(url, id string) bool {
	req, _ := http.NewRequest("POST", url+control.ProbePath, strings.NewReader(fmt.Sprintf(`{"id":%q}`, id)))
	req.Header.Set("Authorization", "Bearer "+testSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

type ack struct {
	region string
	at     time.Time
}

// TestSplitBrain cuts the writer off from the controller while clients
// still reach it. It must stop acknowledging writes within the lease TTL,
// and over the whole history no two regions may have acknowledged writes
// in the same epoch.
func TestSplitBrain(t *testing.T) {
	const ttl = time.Second
	c := startCluster(t, ttl)
	ctx := context.Background()
	east, west := c.regions["us-east-1"], c.regions["ap-northeast-1"]
	eastURL, westURL := east.Config.URL, west.Config.URL

	var mu sync.Mutex
	acks := map[string]ack{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, target := range []struct{ name, url string }{{"us-east-1", eastURL}, {"ap-northeast-1", westURL}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				id := fmt.Sprintf("%s-%05d", target.name, i)
				if probeWrite(target.url, id) {
					mu.Lock()
					acks[id] = ack{target.name, time.Now()}
					mu.Unlock()
				}
			}
		}()
	}
	countFrom := func(region string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range acks {
			if a.region == region {
				n++
			}
		}
		return n
	}
	retry.Until(t, 10*time.Millisecond, 20*time.Second, func() error {
		if n := countFrom("us-east-1"); n < 50 {
			return fmt.Errorf("%d writes acknowledged by the writer", n)
		}
		return nil
	})

	c.proxy.Block()
	cut := time.Now()
	rb, err := c.edge.controller.StartRunbook(ctx, control.RunbookRequest{Kind: control.KindFailover, Target: "ap-northeast-1"})
	if err != nil {
		t.Fatal(err)
	}
	retry.Until(t, 20*time.Millisecond, 30*time.Second, func() error {
		got, err := c.edge.controller.FindRunbook(ctx, rb.ID)
		if err != nil || got.Status == control.StatusRunning {
			return fmt.Errorf("runbook %s still running", rb.ID)
		}
		if got.Status != control.StatusSucceeded {
			t.Fatalf("failover: %s", got.Message)
		}
		return nil
	})
	retry.Until(t, 10*time.Millisecond, 20*time.Second, func() error {
		if n := countFrom("ap-northeast-1"); n < 50 {
			return fmt.Errorf("%d writes acknowledged by the new writer", n)
		}
		return nil
	})
	c.proxy.Heal()
	// The old writer rejoins: it follows the new writer again.
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		if st := east.follower.Status(); !st.Connected || st.Source != westURL {
			return fmt.Errorf("old writer not following yet: %+v", st)
		}
		return nil
	})
	close(stop)
	wg.Wait()

	// The cut-off writer stopped acknowledging within the TTL.
	var lastEast time.Time
	for _, a := range acks {
		if a.region == "us-east-1" && a.at.After(lastEast) {
			lastEast = a.at
		}
	}
	if d := lastEast.Sub(cut); d >= ttl {
		t.Fatalf("the cut-off writer acknowledged a write %v after the cut; the lease TTL is %v", d, ttl)
	}

	// Every acknowledged write is in the new writer's changelog or in the
	// quarantine, with the epoch it was committed in; that epoch's writer,
	// per the controller's history, must be the region that acknowledged it.
	writerOf := map[uint64]string{}
	events, err := c.edge.controller.Events(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Writer == "" {
			continue
		}
		if w, ok := writerOf[e.Epoch]; ok && w != e.Writer {
			t.Fatalf("epoch %d had two writers: %s and %s", e.Epoch, w, e.Writer)
		}
		writerOf[e.Epoch] = e.Writer
	}
	epochOf := map[string]uint64{}
	record := func(ch tandem.Change) {
		if ch.Table != "tandem_probes" || len(ch.After) == 0 {
			return
		}
		var row struct{ ID string }
		json.Unmarshal(ch.After, &row)
		epochOf[row.ID] = ch.Epoch
	}
	changes, err := west.store.ReadChanges(ctx, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		record(ch)
	}
	held, err := west.api.Quarantine.ListQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range held {
		record(e.Change)
	}
	for id, a := range acks {
		epoch, ok := epochOf[id]
		if !ok {
			t.Fatalf("acknowledged write %s (by %s) is neither replicated nor quarantined", id, a.region)
		}
		if writerOf[epoch] != a.region {
			t.Fatalf("write %s was acknowledged by %s in epoch %d, whose writer was %s", id, a.region, epoch, writerOf[epoch])
		}
	}
	t.Logf("%d writes acknowledged; the cut-off writer's last ack came %v after the cut; %d quarantined", len(acks), lastEast.Sub(cut), len(held))
}
