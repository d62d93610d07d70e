package edge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/edge"
)

func TestProxy_RoutesToWriter(t *testing.T) {
	w := NewRegion(t, writer, Answer(200, "from writer"))
	s := NewRegion(t, standby, Answer(200, "from standby"))
	e := NewEdge(t, Snapshot(writer, s.RegionInfo, w.RegionInfo))

	req := MustRequest(t, http.MethodGet, e.URL+"/v1/items?limit=5&q=a%20b", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // spoofed by the client
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "secret")
	resp, body := e.Do(t, req)

	if got, want := body, "from writer"; got != want {
		t.Fatalf("body = %q, want %q", got, want)
	}
	if got, want := resp.Header.Get(edge.HeaderRegion), writer; got != want {
		t.Fatalf("%s = %q, want %q", edge.HeaderRegion, got, want)
	}
	if got := len(s.Seen()); got != 0 {
		t.Fatalf("standby saw %d requests, want 0", got)
	}
	up := w.Seen()[0]
	for _, c := range []struct{ name, got, want string }{
		{"path", up.URL.Path, "/v1/items"},
		{"query", up.URL.RawQuery, "limit=5&q=a%20b"},
		{"X-Forwarded-For", up.Header.Get("X-Forwarded-For"), "127.0.0.1"},
		{"X-Forwarded-Host", up.Header.Get("X-Forwarded-Host"), strings.TrimPrefix(e.URL, "http://")},
		{"X-Forwarded-Proto", up.Header.Get("X-Forwarded-Proto"), "http"},
		{"X-Hop", up.Header.Get("X-Hop"), ""},
	} {
		if c.got != c.want {
			t.Errorf("upstream %s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestProxy_JoinsRegionPath(t *testing.T) {
	for _, tt := range []struct {
		base, path, want string
	}{
		{"", "/v1/items", "/v1/items"},
		{"/", "/v1/items", "/v1/items"},
		{"/app", "/v1/items", "/app/v1/items"},
		{"/app/", "/v1/items", "/app/v1/items"},
		{"/app", "/", "/app/"},
	} {
		t.Run(tt.base+tt.path, func(t *testing.T) {
			w := NewRegion(t, writer, Answer(200, "ok"))
			info := w.RegionInfo
			info.URL += tt.base
			e := NewEdge(t, Snapshot(writer, info))
			e.Get(t, tt.path)
			if got := w.Seen()[0].URL.Path; got != tt.want {
				t.Fatalf("upstream path = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProxy_FollowsSnapshotChange(t *testing.T) {
	a := NewRegion(t, writer, Answer(200, "a"))
	b := NewRegion(t, standby, Answer(200, "b"))
	e := NewEdge(t, Snapshot(writer, a.RegionInfo, b.RegionInfo))

	if _, body := e.Get(t, "/"); body != "a" {
		t.Fatalf("before failover body = %q, want %q", body, "a")
	}
	e.SetSnapshot(Snapshot(standby, a.RegionInfo, b.RegionInfo))
	resp, body := e.Get(t, "/")
	if body != "b" || resp.Header.Get(edge.HeaderRegion) != standby {
		t.Fatalf("after failover body = %q from %q, want %q from %q", body, resp.Header.Get(edge.HeaderRegion), "b", standby)
	}
}

func TestProxy_ReadFailsOverToStandby(t *testing.T) {
	for _, tt := range []struct {
		name   string
		method string
		writer func(t *testing.T) tandem.RegionInfo
	}{
		{"GET writer down", http.MethodGet, func(t *testing.T) tandem.RegionInfo { return DeadRegion(t, writer) }},
		{"GET writer 500", http.MethodGet, func(t *testing.T) tandem.RegionInfo { return NewRegion(t, writer, Answer(500, "boom")).RegionInfo }},
		{"GET writer 503", http.MethodGet, func(t *testing.T) tandem.RegionInfo { return NewRegion(t, writer, Answer(503, "busy")).RegionInfo }},
		{"HEAD writer down", http.MethodHead, func(t *testing.T) tandem.RegionInfo { return DeadRegion(t, writer) }},
		{"HEAD writer 500", http.MethodHead, func(t *testing.T) tandem.RegionInfo { return NewRegion(t, writer, Answer(500, "boom")).RegionInfo }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewRegion(t, standby, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Answered", "standby")
				io.WriteString(w, "from standby")
			})
			e := NewEdge(t, Snapshot(writer, tt.writer(t), s.RegionInfo))

			resp, body := e.Do(t, MustRequest(t, tt.method, e.URL+"/v1/items", nil))
			if got, want := resp.StatusCode, 200; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got, want := resp.Header.Get(edge.HeaderRegion), standby; got != want {
				t.Fatalf("%s = %q, want %q", edge.HeaderRegion, got, want)
			}
			if got, want := resp.Header.Get("X-Answered"), "standby"; got != want {
				t.Fatalf("X-Answered = %q, want %q", got, want)
			}
			if tt.method == http.MethodGet && body != "from standby" {
				t.Fatalf("body = %q, want %q", body, "from standby")
			}
			if got, want := s.Seen()[0].Method, tt.method; got != want {
				t.Fatalf("standby saw %s, want %s", got, want)
			}
			if got := MetricValue(t, e.Registry, "tandem_edge_origin_failovers_total",
				map[string]string{"from": writer, "to": standby}); got != 1 {
				t.Fatalf("failovers = %v, want 1", got)
			}
		})
	}
}

func TestProxy_ReadLastAttemptWins(t *testing.T) {
	t.Run("every region answers 5xx", func(t *testing.T) {
		w := NewRegion(t, writer, Answer(500, "writer broke"))
		s := NewRegion(t, standby, Answer(503, "standby busy"))
		e := NewEdge(t, Snapshot(writer, w.RegionInfo, s.RegionInfo))
		resp, body := e.Get(t, "/")
		if resp.StatusCode != 503 || body != "standby busy" || resp.Header.Get(edge.HeaderRegion) != standby {
			t.Fatalf("got %d %q from %q, want 503 %q from %q", resp.StatusCode, body, resp.Header.Get(edge.HeaderRegion), "standby busy", standby)
		}
	})
	t.Run("every region down", func(t *testing.T) {
		e := NewEdge(t, Snapshot(writer, DeadRegion(t, writer), DeadRegion(t, standby)))
		resp, body := e.Get(t, "/")
		assertJSONError(t, resp, body, http.StatusBadGateway, "region "+standby+" is unreachable")
		if got := resp.Header.Get(edge.HeaderRegion); got != "" {
			t.Fatalf("%s = %q, want none", edge.HeaderRegion, got)
		}
	})
}

func TestProxy_WriteNeverRetried(t *testing.T) {
	const fenced = `{"message":"the application is fenced"}`
	t.Run("writer answers 503", func(t *testing.T) {
		w := NewRegion(t, writer, Answer(503, fenced))
		s := NewRegion(t, standby, Answer(200, "standby"))
		e := NewEdge(t, Snapshot(writer, w.RegionInfo, s.RegionInfo))

		resp, body := e.Do(t, MustRequest(t, http.MethodPost, e.URL+"/v1/items", strings.NewReader(`{"n":1}`)))
		if resp.StatusCode != 503 || body != fenced {
			t.Fatalf("got %d %q, want 503 %q", resp.StatusCode, body, fenced)
		}
		if got := len(s.Seen()); got != 0 {
			t.Fatalf("standby saw %d requests, want 0", got)
		}
	})
	t.Run("writer down", func(t *testing.T) {
		s := NewRegion(t, standby, Answer(200, "standby"))
		e := NewEdge(t, Snapshot(writer, DeadRegion(t, writer), s.RegionInfo))
		resp, body := e.Do(t, MustRequest(t, http.MethodDelete, e.URL+"/v1/items/1", nil))
		assertJSONError(t, resp, body, http.StatusBadGateway, "region "+writer+" is unreachable")
		if got := len(s.Seen()); got != 0 {
			t.Fatalf("standby saw %d requests, want 0", got)
		}
	})
}

func TestProxy_RequestID(t *testing.T) {
	for _, tt := range []struct {
		name, client string
		keep         bool
	}{
		{"none", "", false},
		{"sane", "req-1_a.B", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "req 1", false},
		{"markup", "<script>", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := NewRegion(t, writer, Answer(200, "ok"))
			e := NewEdge(t, Snapshot(writer, w.RegionInfo))
			req := MustRequest(t, http.MethodGet, e.URL+"/", nil)
			if tt.client != "" {
				req.Header.Set(edge.HeaderRequestID, tt.client)
			}
			resp, _ := e.Do(t, req)

			id := resp.Header.Get(edge.HeaderRequestID)
			if tt.keep && id != tt.client {
				t.Fatalf("request id = %q, want the client's %q", id, tt.client)
			}
			if !tt.keep && (id == "" || id == tt.client) {
				t.Fatalf("request id = %q, want a new one", id)
			}
			if got := w.Seen()[0].Header.Get(edge.HeaderRequestID); got != id {
				t.Fatalf("upstream request id = %q, want %q", got, id)
			}
		})
	}
}

func TestProxy_NoRoutes(t *testing.T) {
	w := NewRegion(t, writer, Answer(200, "ok"))
	snap := Snapshot(writer, w.RegionInfo)
	snap.Routing[writer] = false
	e := NewEdge(t, snap)

	resp, body := e.Get(t, "/")
	assertJSONError(t, resp, body, http.StatusServiceUnavailable,
		"no region is receiving traffic: every routing control is off")
	if got := len(w.Seen()); got != 0 {
		t.Fatalf("writer saw %d requests, want 0", got)
	}
	if resp.Header.Get(edge.HeaderRequestID) == "" {
		t.Fatal("no request id on an error response")
	}
}

func TestProxy_BodyTooLarge(t *testing.T) {
	t.Run("content length", func(t *testing.T) {
		w := NewRegion(t, writer, Answer(200, "ok"))
		e := NewEdge(t, Snapshot(writer, w.RegionInfo))
		e.MaxBodyBytes = 10

		resp, body := e.Do(t, MustRequest(t, http.MethodPost, e.URL+"/", strings.NewReader("01234567890")))
		assertJSONError(t, resp, body, http.StatusRequestEntityTooLarge, "request body too large")
		if got := len(w.Seen()); got != 0 {
			t.Fatalf("writer saw %d requests, want 0", got)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		w := NewRegion(t, writer, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
		})
		e := NewEdge(t, Snapshot(writer, w.RegionInfo))
		e.MaxBodyBytes = 10

		// An io.Reader of unknown length is sent chunked.
		req := MustRequest(t, http.MethodPost, e.URL+"/", io.MultiReader(strings.NewReader(strings.Repeat("x", 100))))
		resp, body := e.Do(t, req)
		assertJSONError(t, resp, body, http.StatusRequestEntityTooLarge, "request body too large")
	})
	t.Run("at the limit", func(t *testing.T) {
		w := NewRegion(t, writer, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, r.Body)
		})
		e := NewEdge(t, Snapshot(writer, w.RegionInfo))
		e.MaxBodyBytes = 10

		resp, body := e.Do(t, MustRequest(t, http.MethodPut, e.URL+"/", strings.NewReader("0123456789")))
		if resp.StatusCode != 200 || body != "0123456789" {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, "0123456789")
		}
	})
}
