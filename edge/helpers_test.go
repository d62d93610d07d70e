package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/edge"
)

const (
	writer  = tandem.DefaultWriterRegion
	standby = tandem.DefaultStandbyRegion
)

// Region is a fake region: an httptest server that records what reached it.
type Region struct {
	tandem.RegionInfo
	mu   sync.Mutex
	seen []*http.Request
}

// NewRegion starts a fake region named name serving h.
func NewRegion(tb testing.TB, name string, h http.HandlerFunc) *Region {
	tb.Helper()
	reg := &Region{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		reg.seen = append(reg.seen, r.Clone(r.Context()))
		reg.mu.Unlock()
		h(w, r)
	}))
	tb.Cleanup(srv.Close)
	reg.RegionInfo = tandem.RegionInfo{Name: name, URL: srv.URL}
	return reg
}

// Seen returns the requests that reached the region.
func (r *Region) Seen() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.seen...)
}

// Answer returns a handler that answers status with body.
func Answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// DeadRegion returns a region whose listener is closed, so connecting fails.
func DeadRegion(tb testing.TB, name string) tandem.RegionInfo {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return tandem.RegionInfo{Name: name, URL: "http://" + addr}
}

// Snapshot returns a snapshot with every routing control on.
func Snapshot(writer string, regions ...tandem.RegionInfo) tandem.Snapshot {
	s := tandem.Snapshot{Version: 1, State: tandem.StateActive, Writer: writer, Epoch: 1,
		Regions: regions, Routing: map[string]bool{}}
	for _, r := range regions {
		s.Routing[r.Name] = true
	}
	return s
}

// Edge is a Proxy served by an httptest server, logging into Log.
type Edge struct {
	*edge.Proxy
	URL      string
	Log      *bytes.Buffer
	Registry *prometheus.Registry
	snap     atomic.Pointer[tandem.Snapshot]
	done     chan struct{} // receives once per finished request
}

// NewEdge starts an edge serving snap.
func NewEdge(tb testing.TB, snap tandem.Snapshot) *Edge {
	tb.Helper()
	e := &Edge{Log: &bytes.Buffer{}, Registry: prometheus.NewRegistry(), done: make(chan struct{}, 64)}
	e.SetSnapshot(snap)
	e.Proxy = &edge.Proxy{
		Snapshot: func() tandem.Snapshot { return *e.snap.Load() },
		Logger:   slog.New(slog.NewJSONHandler(e.Log, nil)),
		Metrics:  edge.NewMetrics(e.Registry),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { e.done <- struct{}{} }()
		e.Proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// SetSnapshot makes snap the control snapshot the edge acts on.
func (e *Edge) SetSnapshot(snap tandem.Snapshot) { e.snap.Store(&snap) }

// Do sends req through the edge, reads the whole response and waits for the
// edge to finish the request, so its log and metrics are complete.
func (e *Edge) Do(tb testing.TB, req *http.Request) (*http.Response, string) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		tb.Fatal("edge did not finish the request")
	}
	return resp, string(body)
}

// Get sends a GET for path through the edge.
func (e *Edge) Get(tb testing.TB, path string) (*http.Response, string) {
	tb.Helper()
	return e.Do(tb, MustRequest(tb, http.MethodGet, e.URL+path, nil))
}

// MustRequest returns a new request or fails the test.
func MustRequest(tb testing.TB, method, url string, body io.Reader) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// MetricValue returns the value of the counter, or the sample count of the
// histogram, named name with exactly labels; 0 if there is none.
func MetricValue(tb testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func assertJSONError(tb testing.TB, resp *http.Response, body string, status int, message string) {
	tb.Helper()
	if got, want := resp.StatusCode, status; got != want {
		tb.Fatalf("status = %d, want %d (body %q)", got, want, body)
	}
	if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
		tb.Fatalf("Content-Type = %q, want %q", got, want)
	}
	var e struct{ Message string }
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		tb.Fatalf("error body %q: %v", body, err)
	}
	if got, want := e.Message, message; got != want {
		tb.Fatalf("message = %q, want %q", got, want)
	}
}
