// Package httpapi is a region's HTTP API: the reference application APIs
// under /api, health, metrics, and the internal endpoints peers and the
// controller use.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// Server serves one region's HTTP API.
type Server struct {
	Region   string
	Comments tandem.CommentService
	// Photos serves the photo API when set; MaxPhotoBytes bounds uploads
	// (tandem.DefaultMaxPhotoBytes if zero).
	Photos        tandem.PhotoService
	MaxPhotoBytes int64
	// Remittances and ToDos serve the reference remittance API under
	// /remittance and the ToDo API under /todo when set.
	Remittances tandem.RemittanceService
	ToDos       tandem.ToDoService
	// StartRunbook has the controller start a runbook, for the remittance
	// API's execute-runbook; without it that answers 501.
	StartRunbook func(ctx context.Context, req RunbookRequest) (any, error)
	// Blobs serves the region's blobs to followers (it checks the secret
	// itself).
	Blobs http.Handler
	// Snapshot returns the region's view of the control snapshot.
	Snapshot func() tandem.Snapshot
	// CheckWrite says whether the region may accept a write now: it is the
	// writer, the state allows writes and it holds the lease.
	CheckWrite func(ctx context.Context) error
	// Status and Health report on the region.
	Status func(ctx context.Context, checksums bool) tandem.RegionStatus
	Health func(ctx context.Context) tandem.Health
	// Stream serves the changelog to followers, and the internal endpoints
	// of rejoin (it checks the secret itself).
	Stream http.Handler
	// Quarantine holds divergent entries found at rejoin.
	Quarantine tandem.QuarantineService
	// Probe records a runbook's write probe.
	Probe func(ctx context.Context, id string) error
	// Identity signs users and OAuth clients in and manages them. Without
	// it the identity endpoints are absent and every write that needs a
	// token is refused.
	Identity *auth.Service
	// ClientAddr tells the client address sign-ins are throttled by;
	// default: the connection's. See ClientAddr.
	ClientAddr func(r *http.Request) string
	// Secret guards the internal endpoints.
	Secret   string
	Metrics  http.Handler
	Registry prometheus.Registerer
	Logger   *slog.Logger

	once     sync.Once
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func (s *Server) init() {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /api/state/{appId}", s.handleGetState)
	s.routeComments()
	s.routePhotos()
	s.routeAuth()
	s.routeAdmin()
	s.routeRemittances()
	s.routeToDos()
	s.mux.HandleFunc("GET /api/health", s.handleHealth)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "region": s.Region})
	})
	s.mux.HandleFunc("GET /internal/v1/status", s.internal(s.handleStatus))
	if s.Stream != nil {
		s.mux.Handle("GET /internal/v1/stream", s.Stream)
		s.mux.Handle("GET /internal/v1/history", s.Stream)
		s.mux.Handle("POST /internal/v1/quarantine", s.Stream)
		s.mux.Handle("POST /internal/v1/ack", s.Stream)
	}
	s.routeQuarantine()
	if s.Metrics != nil {
		s.mux.Handle("GET /metrics", s.Metrics)
	}
	if s.Registry != nil {
		s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tandem", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served by the region, by route and status code.",
		}, []string{"route", "method", "code"})
		s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tandem", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to serve an HTTP request in the region, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"})
		s.Registry.MustRegister(s.requests, s.latency)
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	w.Header().Set("X-Tandem-Region", s.Region)
	var h http.Handler = s.mux
	fallback, pattern := s.mux.Handler(r)
	if pattern == "" {
		h = unmatched(fallback)
	}
	if s.requests == nil {
		h.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h.ServeHTTP(rec, r)
	route := pattern
	if route == "" {
		route = "other"
	}
	if route == "GET /internal/v1/stream" {
		return // a stream's duration is its connection's life, not a latency
	}
	s.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
	s.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
}

// internal wraps a handler of an internal endpoint with the secret check.
func (s *Server) internal(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, s.Secret) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tandem-internal"`)
			httpjson.Errorf(w, r, tandem.EUNAUTHORIZED, "the cluster secret is required")
			return
		}
		h(w, r)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes flushes through, for the replication stream.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// unmatched answers a request no route matches as the mux would (404, or
// 405 with an Allow header), with a JSON message instead of plain text.
func unmatched(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)
		if rec.Code == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)
		}
		httpjson.Write(w, rec.Code, httpjson.Message{Message: msg})
	})
}
