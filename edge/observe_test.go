package edge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/edge"
)

func TestProxy_StreamsResponse(t *testing.T) {
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	w := NewRegion(t, writer, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: second\n\n")
	})
	e := NewEdge(t, Snapshot(writer, w.RegionInfo))

	// The timeout turns a proxy that buffers into a failure instead of a hang.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(e.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read first event before the upstream finished: %v", err)
	}
	if got, want := line, "data: first\n"; got != want {
		t.Fatalf("first line = %q, want %q", got, want)
	}

	releaseOnce()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(rest), "\ndata: second\n\n"; got != want {
		t.Fatalf("rest = %q, want %q", got, want)
	}
	<-e.done
}

func TestProxy_ClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	w := NewRegion(t, writer, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "waiting\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	e := NewEdge(t, Snapshot(writer, w.RegionInfo))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(MustRequest(t, http.MethodGet, e.URL+"/v1/poll", nil).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()

	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request not cancelled after the client went away")
	}
}

func TestProxy_Metrics(t *testing.T) {
	w := NewRegion(t, writer, Answer(500, "boom"))
	s := NewRegion(t, standby, Answer(200, "ok"))
	snap := Snapshot(writer, w.RegionInfo, s.RegionInfo)
	e := NewEdge(t, snap)

	e.Get(t, "/")                                                               // fails over
	e.Do(t, MustRequest(t, http.MethodPost, e.URL+"/", strings.NewReader("x"))) // writer's 500
	e.Do(t, MustRequest(t, "PURGE", e.URL+"/", nil))                            // unusual method
	snap.Routing = nil
	e.SetSnapshot(snap)
	e.Get(t, "/") // no routes

	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tandem_edge_requests_total", map[string]string{"region": standby, "method": "GET", "code": "200"}, 1},
		{"tandem_edge_requests_total", map[string]string{"region": writer, "method": "POST", "code": "500"}, 1},
		{"tandem_edge_requests_total", map[string]string{"region": writer, "method": "OTHER", "code": "500"}, 1},
		{"tandem_edge_requests_total", map[string]string{"region": "none", "method": "GET", "code": "503"}, 1},
		{"tandem_edge_request_duration_seconds", map[string]string{"region": standby, "method": "GET"}, 1},
		{"tandem_edge_request_duration_seconds", map[string]string{"region": "none", "method": "GET"}, 1},
		{"tandem_edge_origin_failovers_total", map[string]string{"from": writer, "to": standby}, 1},
	} {
		if got := MetricValue(t, e.Registry, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestProxy_AccessLog(t *testing.T) {
	w := NewRegion(t, writer, Answer(200, "hello"))
	e := NewEdge(t, Snapshot(writer, w.RegionInfo))

	req := MustRequest(t, http.MethodPut, e.URL+"/v1/items/7?token=abc", strings.NewReader("private body"))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set(edge.HeaderRequestID, "log-test-1")
	e.Do(t, req)

	var line map[string]any
	for l := range strings.Lines(e.Log.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no access log line in:\n%s", e.Log)
	}
	for key, want := range map[string]any{
		"level":      "INFO",
		"request_id": "log-test-1",
		"method":     "PUT",
		"path":       "/v1/items/7",
		"status":     float64(200),
		"bytes":      float64(len("hello")),
		"region":     writer,
		"attempts":   float64(1),
	} {
		if got := line[key]; got != want {
			t.Errorf("%s = %v (%T), want %v", key, got, got, want)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms = %v, want a number", line["duration_ms"])
	}
	for _, secret := range []string{"s3cret", "private body", "token=abc"} {
		if strings.Contains(e.Log.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, e.Log)
		}
	}
}
