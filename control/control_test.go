package control_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/internal/testproxy"
)

const secret = "s3cret"

var regions = []tandem.RegionInfo{{Name: "us-east-1", URL: "http://127.0.0.1:1"}, {Name: "ap-northeast-1", URL: "http://127.0.0.1:2"}}

func open(t *testing.T, path string) *control.Controller {
	t.Helper()
	c := control.New(path)
	if err := c.Open(tandem.Snapshot{AppID: "app-1", Regions: regions}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func serve(t *testing.T, c *control.Controller) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(&control.Handler{Controller: c, Secret: secret})
	t.Cleanup(srv.Close)
	return srv
}

func TestFirstRunAndPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "control.db")
	c := open(t, path)
	snap := c.Snapshot()
	if snap.State != tandem.StateActive || snap.Writer != "us-east-1" || snap.Epoch != 1 || !snap.Routing["us-east-1"] || !snap.Routing["ap-northeast-1"] {
		t.Fatalf("first snapshot = %+v", snap)
	}
	if _, err := c.SetState(ctx, "app-1", tandem.StateFenced); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = control.New(path)
	if err := c.Open(tandem.Snapshot{AppID: "other", Regions: regions[:1]}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := c.Snapshot()
	if got.State != tandem.StateFenced || got.AppID != "app-1" || len(got.Regions) != 2 || got.Version != snap.Version+1 {
		t.Fatalf("after reopen = %+v", got)
	}
	events, err := c.Events(ctx, 10)
	if err != nil || len(events) != 2 || events[0].State != tandem.StateFenced {
		t.Fatalf("events = %+v, %v", events, err)
	}
}

func TestSetStateErrors(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	if _, err := c.SetState(context.Background(), "nope", tandem.StateFenced); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatalf("unknown app: %v", err)
	}
	if _, err := c.SetState(context.Background(), "app-1", "sleeping"); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("bad state: %v", err)
	}
	if v := c.Snapshot().Version; v != 1 {
		t.Fatalf("version moved to %d on refused changes", v)
	}
}

func TestWatchWakesOnChange(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	got := make(chan tandem.Snapshot)
	go func() { got <- c.Watch(context.Background(), 1) }()
	if _, err := c.SetRouting(context.Background(), "ap-northeast-1", false); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s.Version != 2 || s.Routing["ap-northeast-1"] {
			t.Fatalf("watch returned %+v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not wake")
	}
}

func TestLeaseOnlyForWriterAndEpoch(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	ctx := context.Background()
	if _, err := c.RenewLease(ctx, control.LeaseRequest{Region: "us-east-1", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		region string
		epoch  uint64
	}{{"ap-northeast-1", 1}, {"us-east-1", 2}, {"us-east-1", 0}} {
		if _, err := c.RenewLease(ctx, control.LeaseRequest{Region: tc.region, Epoch: tc.epoch}); tandem.ErrorCode(err) != tandem.EFORBIDDEN {
			t.Fatalf("lease for %s epoch %d: %v, want forbidden", tc.region, tc.epoch, err)
		}
	}
}

func do(t *testing.T, method, url, auth, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPBadInput(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	srv := serve(t, c)
	auth := "Bearer " + secret
	for _, tc := range []struct {
		name, method, path, auth, ctype, body string
		status                                int
		contains                              string
	}{
		{"no secret", "GET", "/control/v1/snapshot", "", "", "", 401, "secret"},
		{"wrong secret", "PUT", "/control/v1/state", "Bearer nope", "application/json", `{"state":"fenced"}`, 401, "secret"},
		{"malformed json", "PUT", "/control/v1/state", auth, "application/json", `{"state":`, 400, "not valid JSON"},
		{"wrong type", "PUT", "/control/v1/state", auth, "application/json", `{"state":1}`, 400, "state"},
		{"missing field", "PUT", "/control/v1/state", auth, "application/json", `{}`, 400, "missing field: state"},
		{"invalid state", "PUT", "/control/v1/state", auth, "application/json", `{"state":"on"}`, 400, "active, fenced, failover"},
		{"unknown app", "PUT", "/control/v1/state", auth, "application/json", `{"appId":"x","state":"fenced"}`, 404, "unknown app"},
		{"content type", "PUT", "/control/v1/state", auth, "application/xml", `<state/>`, 415, "application/json"},
		{"too large", "PUT", "/control/v1/state", auth, "application/json", `{"state":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger"},
		{"unknown region", "PUT", "/control/v1/routing/mars", auth, "application/json", `{"on":true}`, 404, "mars"},
		{"routing missing on", "PUT", "/control/v1/routing/us-east-1", auth, "application/json", `{}`, 400, "on"},
		{"lease not writer", "POST", "/control/v1/lease", auth, "application/json", `{"region":"ap-northeast-1","epoch":1}`, 403, "writer is us-east-1"},
		{"bad after", "GET", "/control/v1/snapshot?after=x", auth, "", "", 400, "after"},
		{"unknown path", "GET", "/control/v1/nope", auth, "", "", 404, "no such"},
	} {
		status, body := do(t, tc.method, srv.URL+tc.path, tc.auth, tc.ctype, tc.body)
		if status != tc.status || !strings.Contains(body, tc.contains) || !strings.HasPrefix(body, `{"message":`) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, status, body, tc.status, tc.contains)
		}
	}
	if v := c.Snapshot().Version; v != 1 {
		t.Fatalf("refused requests changed the state: version %d", v)
	}
}

func TestViewFollowsController(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	srv := serve(t, c)
	cache := filepath.Join(t.TempDir(), "snapshot.json")
	v := control.NewView(&control.Client{URL: srv.URL, Secret: secret}, cache)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go v.Run(ctx)
	client := &control.Client{URL: srv.URL, Secret: secret}
	if _, err := client.SetState(ctx, "fenced"); err != nil {
		t.Fatal(err)
	}
	retry.Until(t, 10*time.Millisecond, 5*time.Second, func() error {
		if s := v.Snapshot(); s.State != tandem.StateFenced {
			return fmt.Errorf("view has %s", s)
		}
		return nil
	})
	// A new view starts from the cache while the controller is away.
	v2 := control.NewView(&control.Client{URL: "http://127.0.0.1:1", Secret: secret}, cache)
	if err := v2.Load(); err != nil {
		t.Fatal(err)
	}
	if s := v2.Snapshot(); s.State != tandem.StateFenced || s.AppID != "app-1" {
		t.Fatalf("cached view = %s", s)
	}
}

func TestLeaseKeeperStepsDownWhenCutOff(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	c.LeaseTTL = 600 * time.Millisecond
	srv := serve(t, c)
	proxy := testproxy.New(t, strings.TrimPrefix(srv.URL, "http://"))
	k := &control.LeaseKeeper{
		Client: &control.Client{URL: proxy.URL(), Secret: secret},
		Region: "us-east-1", Epoch: func() (uint64, bool) { return 1, true },
		TTL: 600 * time.Millisecond, Safety: 100 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Run(ctx)
	retry.Until(t, 10*time.Millisecond, 5*time.Second, func() error { return k.Check(1) })
	if err := k.Check(2); err == nil {
		t.Fatal("lease valid for an epoch it was not granted for")
	}
	proxy.Block()
	cutAt := time.Now()
	retry.Until(t, 10*time.Millisecond, 5*time.Second, func() error {
		if k.Check(1) == nil {
			return fmt.Errorf("lease still held")
		}
		return nil
	})
	// It stepped down before the controller's TTL ran out, measured from the cut.
	if held := time.Since(cutAt); held >= c.LeaseTTL {
		t.Fatalf("lease held %v after the cut, controller TTL is %v", held, c.LeaseTTL)
	}
	proxy.Heal()
	retry.Until(t, 10*time.Millisecond, 5*time.Second, func() error { return k.Check(1) })
}

// TestOperatorChangesRules: by hand, the failover state is only restored
// from fenced, and neither the state nor a routing control changes while a
// runbook runs; once it has ended they do.
func TestOperatorChangesRules(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a region that does not answer yet: the runbook waits on it
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	defer hung.Close()
	c := control.New(filepath.Join(t.TempDir(), "control.db"))
	slow := []tandem.RegionInfo{{Name: "us-east-1", URL: hung.URL}, {Name: "ap-northeast-1", URL: hung.URL}}
	if err := c.Open(tandem.Snapshot{AppID: "app-1", Regions: slow}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := c.ChangeState(ctx, "app-1", tandem.StateFailover); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("failover by hand: %v, want invalid", err)
	}
	rb, err := c.StartRunbook(ctx, control.RunbookRequest{Kind: "switchover", Target: "ap-northeast-1", TimeoutMs: 2000})
	if err != nil {
		t.Fatal(err)
	}
	version := c.Snapshot().Version
	if _, err := c.ChangeState(ctx, "app-1", tandem.StateFenced); tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("state during a runbook: %v, want conflict", err)
	}
	if _, err := c.ChangeRouting(ctx, "us-east-1", false); tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("routing during a runbook: %v, want conflict", err)
	}
	if v := c.Snapshot().Version; v != version {
		t.Fatalf("refused changes moved the snapshot from %d to %d", version, v)
	}
	close(release)
	retry.Until(t, 20*time.Millisecond, 30*time.Second, func() error {
		got, err := c.FindRunbook(ctx, rb.ID)
		if err != nil || got.Status == control.StatusRunning {
			return fmt.Errorf("runbook %s still %s (%v)", rb.ID, got.Status, err)
		}
		return nil
	})
	if _, err := c.ChangeState(ctx, "app-1", tandem.StateFenced); err != nil {
		t.Fatalf("state once the runbook ended: %v", err)
	}
	if _, err := c.ChangeRouting(ctx, "us-east-1", false); err != nil {
		t.Fatalf("routing once the runbook ended: %v", err)
	}
	// From fenced, the failover state can be restored (after a failover,
	// lifting a fence must not re-arm automatic failover).
	if snap, err := c.ChangeState(ctx, "app-1", tandem.StateFailover); err != nil || snap.State != tandem.StateFailover {
		t.Fatalf("failover restored from fenced: %+v, %v", snap, err)
	}
}
