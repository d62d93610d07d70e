package httpapi

import (
	"net/http"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// routeQuarantine serves the quarantine to operators. Listing works in
// every region (the quarantine replicates); replay is a write, so it works
// at the writer.
func (s *Server) routeQuarantine() {
	if s.Quarantine == nil {
		return
	}
	s.mux.HandleFunc("GET /api/admin/quarantine", s.admin(s.handleListQuarantine))
	s.mux.HandleFunc("GET /api/admin/quarantine/{id}", s.admin(s.handleGetQuarantine))
	s.mux.HandleFunc("POST /api/admin/quarantine/{id}/replay", s.admin(s.handleReplayQuarantine))
	s.mux.HandleFunc("POST /internal/v1/probe", s.internal(s.handleProbe))
}

// handleProbe takes a runbook's write probe.
func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if err := checkField("id", req.ID, MaxIDLength); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if err := s.CheckWrite(r.Context()); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if err := s.Probe(r.Context(), req.ID); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"id": req.ID, "region": s.Region})
}

func (s *Server) handleListQuarantine(w http.ResponseWriter, r *http.Request) {
	entries, err := s.Quarantine.ListQuarantine(r.Context())
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"entries": entries})
}

func (s *Server) handleGetQuarantine(w http.ResponseWriter, r *http.Request) {
	e, err := s.Quarantine.FindQuarantine(r.Context(), r.PathValue("id"))
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, e)
}

// handleReplayQuarantine replays an entry. A conflict answers 409 with the
// entry as recorded, so the operator sees why.
func (s *Server) handleReplayQuarantine(w http.ResponseWriter, r *http.Request) {
	if err := s.CheckWrite(r.Context()); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	e, err := s.Quarantine.ReplayQuarantine(r.Context(), r.PathValue("id"))
	switch tandem.ErrorCode(err) {
	case "":
		httpjson.Write(w, http.StatusOK, e)
	case tandem.ECONFLICT:
		httpjson.Write(w, http.StatusConflict, map[string]any{"message": tandem.ErrorMessage(err), "entry": e})
	default:
		httpjson.Error(w, r, s.Logger, err)
	}
}
