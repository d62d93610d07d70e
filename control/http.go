package control

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// MaxWatchWait bounds how long a watch request is held open.
const MaxWatchWait = 30 * time.Second

// StatusPath is where each region reports its status to the controller.
const StatusPath = "/internal/v1/status"

// Handler serves the controller's API under /control/v1/. Every endpoint
// takes the cluster secret as a bearer token; those operators use (all but
// snapshot and lease, which only regions call) also take an admin's token
// when AdminToken is set.
type Handler struct {
	Controller *Controller
	Secret     string
	Logger     *slog.Logger
	// AdminToken checks a bearer token that is not the cluster secret. It
	// returns nil for an admin's valid token, an EUNAUTHORIZED error for an
	// invalid one and EFORBIDDEN for a valid one without the admin role.
	AdminToken func(token string) error

	once sync.Once
	mux  *http.ServeMux
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(h.routes)
	if !authorized(r, h.Secret) {
		if err := h.checkAdminToken(r); err != nil {
			if tandem.ErrorCode(err) == tandem.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tandem-control"`)
			}
			httpjson.Error(w, r, h.Logger, err)
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// regionEndpoints are the endpoints only regions call: the cluster secret is
// the one credential they take.
var regionEndpoints = map[string]bool{"GET /control/v1/snapshot": true, "POST /control/v1/lease": true}

// checkAdminToken lets an admin's token stand in for the cluster secret on
// the endpoints operators use.
func (h *Handler) checkAdminToken(r *http.Request) error {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if _, pattern := h.mux.Handler(r); !ok || token == "" || h.AdminToken == nil || regionEndpoints[pattern] {
		return tandem.Errorf(tandem.EUNAUTHORIZED, "the controller needs the cluster secret (or, for operators' calls, an admin's token) as a bearer token")
	}
	return h.AdminToken(token)
}

func authorized(r *http.Request, secret string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && secret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}

func (h *Handler) routes() {
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /control/v1/snapshot", h.handleSnapshot)
	h.mux.HandleFunc("POST /control/v1/lease", h.handleLease)
	h.mux.HandleFunc("PUT /control/v1/state", h.handleSetState)
	h.mux.HandleFunc("PUT /control/v1/routing/{region}", h.handleSetRouting)
	h.mux.HandleFunc("GET /control/v1/status", h.handleStatus)
	h.mux.HandleFunc("GET /control/v1/events", h.handleEvents)
	h.mux.HandleFunc("POST /control/v1/runbooks", h.handleStartRunbook)
	h.mux.HandleFunc("GET /control/v1/runbooks", h.handleListRunbooks)
	h.mux.HandleFunc("GET /control/v1/runbooks/{id}", h.handleGetRunbook)
	h.mux.HandleFunc("GET /control/v1/alarms", h.handleAlarms)
	h.mux.HandleFunc("GET /control/v1/dashboard", h.handleDashboard)
	h.mux.HandleFunc("GET /control/v1/autofailover", h.handleGetAutoFailover)
	h.mux.HandleFunc("PUT /control/v1/autofailover", h.handleSetAutoFailover)
	h.mux.HandleFunc("/control/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Errorf(w, r, tandem.ENOTFOUND, "no such control endpoint: %s %s", r.Method, r.URL.Path)
	})
}

// handleSnapshot returns the snapshot; with after=V it waits up to wait
// (default and maximum MaxWatchWait) for a version past V.
func (h *Handler) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("after") == "" {
		httpjson.Write(w, http.StatusOK, h.Controller.Snapshot())
		return
	}
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil {
		httpjson.Errorf(w, r, tandem.EINVALID, "after must be a snapshot version")
		return
	}
	wait := MaxWatchWait
	if s := q.Get("wait"); s != "" {
		if wait, err = time.ParseDuration(s); err != nil || wait < 0 {
			httpjson.Errorf(w, r, tandem.EINVALID, "wait must be a duration such as 25s")
			return
		}
		wait = min(wait, MaxWatchWait)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	httpjson.Write(w, http.StatusOK, h.Controller.Watch(ctx, after))
}

// LeaseRequest asks for the writer lease.
type LeaseRequest struct {
	Region string `json:"region"`
	Epoch  uint64 `json:"epoch"`
	// Head is the writer's changelog head when it asked.
	Head tandem.Position `json:"head"`
}

func (h *Handler) handleLease(w http.ResponseWriter, r *http.Request) {
	var req LeaseRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	lease, err := h.Controller.RenewLease(r.Context(), req)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, lease)
}

// StateRequest sets the application state. AppID may be left out.
type StateRequest struct {
	AppID string `json:"appId,omitempty"`
	State string `json:"state"`
}

func (h *Handler) handleSetState(w http.ResponseWriter, r *http.Request) {
	var req StateRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	if req.State == "" {
		httpjson.Errorf(w, r, tandem.EINVALID, "missing field: state")
		return
	}
	state, err := tandem.ParseAppState(req.State)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	if req.AppID == "" {
		req.AppID = h.Controller.Snapshot().AppID
	}
	snap, err := h.Controller.ChangeState(r.Context(), req.AppID, state)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, snap)
}

// RoutingRequest sets a routing control.
type RoutingRequest struct {
	On *bool `json:"on"`
}

func (h *Handler) handleSetRouting(w http.ResponseWriter, r *http.Request) {
	var req RoutingRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	if req.On == nil {
		httpjson.Errorf(w, r, tandem.EINVALID, "missing field: on")
		return
	}
	snap, err := h.Controller.ChangeRouting(r.Context(), r.PathValue("region"), *req.On)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, snap)
}

// Status is the deployment's status: the control snapshot, every region's
// own report, and what the controller's health checks and alarms saw.
type Status struct {
	Snapshot     tandem.Snapshot     `json:"snapshot"`
	Regions      []RegionReport      `json:"regions"`
	Health       []RegionHealth      `json:"health,omitempty"`
	Alarms       []Alarm             `json:"alarms,omitempty"`
	AutoFailover *AutoFailoverStatus `json:"autoFailover,omitempty"`
}

// RegionReport is one region's status, or why it could not be had.
type RegionReport struct {
	Name   string               `json:"name"`
	URL    string               `json:"url"`
	Status *tandem.RegionStatus `json:"status,omitempty"`
	Error  string               `json:"error,omitempty"`
}

func (h *Handler) handleStatus(w http.ResponseWriter, r *http.Request) {
	snap := h.Controller.Snapshot()
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st := Status{Snapshot: snap, Regions: make([]RegionReport, len(snap.Regions))}
	var wg sync.WaitGroup
	for i, reg := range snap.Regions {
		st.Regions[i] = RegionReport{Name: reg.Name, URL: reg.URL}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, err := h.Controller.RegionStatus(ctx, reg, r.URL.Query().Get("checksums") != "")
			if err != nil {
				st.Regions[i].Error = err.Error()
				return
			}
			st.Regions[i].Status = rs
		}()
	}
	wg.Wait()
	st.Health, st.Alarms = h.Controller.Health(), h.Controller.Alarms()
	if af, err := h.Controller.AutoFailover(r.Context()); err == nil {
		st.AutoFailover = &af
	}
	httpjson.Write(w, http.StatusOK, st)
}

func (h *Handler) handleEvents(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			httpjson.Errorf(w, r, tandem.EINVALID, "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	events, err := h.Controller.Events(r.Context(), limit)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"events": events})
}

func (h *Handler) handleStartRunbook(w http.ResponseWriter, r *http.Request) {
	var req RunbookRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	if req.Kind == "" {
		httpjson.Errorf(w, r, tandem.EINVALID, "missing field: kind")
		return
	}
	rb, err := h.Controller.StartRunbook(r.Context(), req)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, rb)
}

func (h *Handler) handleListRunbooks(w http.ResponseWriter, r *http.Request) {
	rbs, err := h.Controller.Runbooks(r.Context(), 100)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"runbooks": rbs})
}

func (h *Handler) handleGetRunbook(w http.ResponseWriter, r *http.Request) {
	rb, err := h.Controller.FindRunbook(r.Context(), r.PathValue("id"))
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, rb)
}

// Alarms is every alarm's current state and the newest transitions.
type Alarms struct {
	Alarms  []Alarm      `json:"alarms"`
	History []AlarmEvent `json:"history"`
}

func (h *Handler) handleAlarms(w http.ResponseWriter, r *http.Request) {
	history, err := h.Controller.AlarmHistory(r.Context(), 100)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, Alarms{Alarms: h.Controller.Alarms(), History: history})
}

func (h *Handler) handleGetAutoFailover(w http.ResponseWriter, r *http.Request) {
	st, err := h.Controller.AutoFailover(r.Context())
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

func (h *Handler) handleSetAutoFailover(w http.ResponseWriter, r *http.Request) {
	var req AutoFailoverRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	if req.Paused == nil {
		httpjson.Errorf(w, r, tandem.EINVALID, "missing field: paused")
		return
	}
	st, err := h.Controller.SetAutoFailoverPaused(r.Context(), *req.Paused)
	if err != nil {
		httpjson.Error(w, r, h.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}
