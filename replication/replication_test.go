package replication_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/internal/testproxy"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/sqlite"
	"github.com/tandemhq/tandem/store/storetest"
)

const secret = "test-secret"

func openStore(t testing.TB, path string, writer bool) *sqlite.Store {
	t.Helper()
	s := sqlite.New(path)
	s.Synchronous = "NORMAL"
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background(), "storetest", storetest.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(context.Background(), tandem.Role{Writer: writer, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	return s
}

// writer serves a writer store's stream on an httptest server.
func writer(t *testing.T) (*sqlite.Store, *httptest.Server) {
	t.Helper()
	w := openStore(t, filepath.Join(t.TempDir(), "writer.db"), true)
	srv := httptest.NewServer(&replication.Server{Store: w, Secret: secret, HeartbeatInterval: 50 * time.Millisecond})
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		w.Close()
	})
	return w, srv
}

// follow runs a follower of url into s until the returned stop is called.
func follow(t *testing.T, s tandem.Store, url string) (*replication.Follower, func()) {
	t.Helper()
	f := &replication.Follower{
		Store:             s,
		Source:            func() (string, bool) { return url, true },
		Secret:            secret,
		HeartbeatInterval: 50 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return f, stop
}

var (
	insert       = storetest.InsertItems
	waitCaughtUp = storetest.WaitCaughtUp
)

func TestReplicates10000Rows(t *testing.T) {
	w, srv := writer(t)
	f := openStore(t, filepath.Join(t.TempDir(), "follower.db"), false)
	defer f.Close()
	fol, _ := follow(t, f, srv.URL)
	insert(t, w, 0, 10000, 10)
	waitCaughtUp(t, w, f)
	retry.Until(t, 10*time.Millisecond, 5*time.Second, func() error {
		if st := fol.Status(); st.Lag.Entries != 0 || st.Applied.LSN != 10000 || !st.Connected {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}

func TestResumesAfterStreamCut(t *testing.T) {
	w, srv := writer(t)
	proxy := testproxy.New(t, strings.TrimPrefix(srv.URL, "http://"))
	f := openStore(t, filepath.Join(t.TempDir(), "follower.db"), false)
	defer f.Close()
	fol, _ := follow(t, f, proxy.URL())

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 5; i++ {
			insert(t, w, i*400, 400, 4)
			proxy.Cut()
		}
	}()
	<-done
	waitCaughtUp(t, w, f)
	if fol.Status().Reconnects == 0 {
		t.Fatal("the stream was cut but the follower never reconnected")
	}
	// Every LSN exactly once: the follower's changelog equals the writer's.
	fc, _ := f.ReadChanges(context.Background(), 0, 100000)
	for i, c := range fc {
		if c.LSN != uint64(i+1) {
			t.Fatalf("follower entry %d has LSN %d", i, c.LSN)
		}
	}
}

func TestFollowerRestartResumesFromAppliedLSN(t *testing.T) {
	w, srv := writer(t)
	var froms []string
	var mu atomic.Value
	mu.Store(froms)
	recorder := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == replication.StreamPath {
			mu.Store(append(mu.Load().([]string), r.URL.Query().Get("from")))
		}
		r.URL.Host = strings.TrimPrefix(srv.URL, "http://")
		srv.Config.Handler.ServeHTTP(rw, r)
	}))
	defer recorder.Close()
	defer recorder.CloseClientConnections()

	path := filepath.Join(t.TempDir(), "follower.db")
	f := openStore(t, path, false)
	_, stop := follow(t, f, recorder.URL)
	insert(t, w, 0, 500, 5)
	waitCaughtUp(t, w, f)
	stop()
	f.Close()

	insert(t, w, 500, 500, 5)
	f = openStore(t, path, false)
	defer f.Close()
	follow(t, f, recorder.URL)
	waitCaughtUp(t, w, f)
	got := mu.Load().([]string)
	if len(got) < 2 || got[len(got)-1] != "500" {
		t.Fatalf("stream requests from = %v, want the restarted follower to resume from 500", got)
	}
}

func TestStreamNeedsSecret(t *testing.T) {
	_, srv := writer(t)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + secret, secret} {
		req, _ := http.NewRequest("GET", srv.URL+replication.StreamPath+"?from=0", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+replication.StreamPath+"?from=-1", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad from: status %d, want 400", resp.StatusCode)
	}
}

func TestFollowerAheadIsRefusedWithHint(t *testing.T) {
	w, srv := writer(t)
	insert(t, w, 0, 3, 1)
	// A store with more entries than the writer: it diverged.
	other := openStore(t, filepath.Join(t.TempDir(), "other.db"), true)
	defer other.Close()
	insert(t, other, 100, 10, 1)
	if err := other.SetRole(context.Background(), tandem.Role{Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	fol, _ := follow(t, other, srv.URL)
	retry.Until(t, 10*time.Millisecond, 5*time.Second, func() error {
		if st := fol.Status(); !strings.Contains(st.LastError, "rejoin") {
			return fmt.Errorf("last error %q does not tell the operator to rejoin", st.LastError)
		}
		return nil
	})
	if p, _ := other.Position(context.Background()); p.LSN != 10 {
		t.Fatalf("diverged store moved to %d", p.LSN)
	}
}

// httpGet reads a stream's first frame and returns it as text.
func httpGet(url, secret string) (string, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	fr, err := replication.ReadFrame(bufio.NewReader(resp.Body))
	if err != nil {
		return "", err
	}
	return string(fr.Payload), nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
