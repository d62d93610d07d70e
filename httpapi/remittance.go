package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// FencedRemittanceMessage is shown when a remittance cannot be written
// because the application is fenced.
const FencedRemittanceMessage = "Remittances cannot currently be changed. Please try again in a few minutes"

// RunbookRequest asks the controller to run a runbook: switchover, failover
// or failback, to Target (optional) and, for a failover, with Force.
type RunbookRequest struct {
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	Force  bool   `json:"force,omitempty"`
}

// routeRemittances serves the reference remittance API under /remittance.
// Every call needs a signed-in user's token (access or ID token, with or
// without "Bearer"); clearing every remittance and running a runbook need
// an admin.
func (s *Server) routeRemittances() {
	if s.Remittances == nil {
		return
	}
	s.mux.HandleFunc("GET /remittance/get-remittances", s.withAuth(RequireUser, s.handleGetRemittances))
	s.mux.HandleFunc("POST /remittance/create-remittance", s.withAuth(RequireUser, s.handleCreateRemittance))
	s.mux.HandleFunc("POST /remittance/update-remittance", s.withAuth(RequireUser, s.handleUpdateRemittance))
	s.mux.HandleFunc("POST /remittance/delete-remittance", s.withAuth(RequireUser, s.handleDeleteRemittance))
	s.mux.HandleFunc("POST /remittance/clear-remittances", s.admin(s.handleClearRemittances))
	s.mux.HandleFunc("POST /remittance/execute-runbook", s.admin(s.handleExecuteRunbook))
}

// remittanceRequest is the body of create-remittance and update-remittance:
// a remittance whose amount is a JSON integer or a string holding one (as
// HTML forms send it). The creation time and creator are the server's, so
// whatever a client sends for them is ignored.
type remittanceRequest struct {
	tandem.Remittance
	Amount            json.RawMessage `json:"amount"`
	CreationTimestamp json.RawMessage `json:"creationTimestamp"`
}

// decodeRemittance reads a remittance from the body and validates it.
func decodeRemittance(w http.ResponseWriter, r *http.Request) (tandem.Remittance, error) {
	var req remittanceRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		return tandem.Remittance{}, err
	}
	rem := req.Remittance
	rem.CreatedBy = ""
	amount, err := parseAmount(req.Amount)
	if err != nil {
		return rem, err
	}
	rem.Amount = amount
	return rem, rem.Validate()
}

// parseAmount reads a positive integer amount from a JSON number or string.
func parseAmount(raw json.RawMessage) (int64, error) {
	n, present, ok := jsonInt(raw)
	switch {
	case !present:
		return 0, tandem.Errorf(tandem.EINVALID, "missing field: amount (an integer greater than 0)")
	case !ok || n <= 0:
		return 0, tandem.Errorf(tandem.EINVALID, "amount must be an integer greater than 0 (and below 2^63)")
	}
	return n, nil
}

// jsonInt reads a decimal integer from a JSON number or a JSON string that
// holds one; present is false for an absent value or null.
func jsonInt(raw []byte) (n int64, present, ok bool) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" {
		return 0, false, true
	}
	if strings.HasPrefix(text, `"`) {
		var s string
		if json.Unmarshal([]byte(text), &s) != nil {
			return 0, true, false
		}
		text = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	return n, true, err == nil
}

// remittanceWrite checks the write gate and then runs write, writing its
// error if any. It returns whether the write succeeded.
func (s *Server) remittanceWrite(w http.ResponseWriter, r *http.Request, write func(ctx context.Context) error) bool {
	err := s.CheckWrite(r.Context())
	if err == nil {
		err = write(r.Context())
	}
	if err != nil {
		s.writeRefused(w, r, err, FencedRemittanceMessage)
		return false
	}
	return true
}

// handleGetRemittances returns every remittance as a JSON array, oldest
// first, each with its version (which update-remittance needs).
func (s *Server) handleGetRemittances(w http.ResponseWriter, r *http.Request) {
	rems, err := s.Remittances.FindRemittances(r.Context())
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, rems)
}

func (s *Server) handleCreateRemittance(w http.ResponseWriter, r *http.Request) {
	rem, err := decodeRemittance(w, r)
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	rem.CreatedBy = ClaimsFrom(r.Context()).Username
	if s.remittanceWrite(w, r, func(ctx context.Context) error { return s.Remittances.CreateRemittance(ctx, &rem) }) {
		httpjson.Write(w, http.StatusCreated, rem)
	}
}

// handleUpdateRemittance replaces a remittance's fields. The body is the
// whole remittance with the version it was read at; 409 if it changed since.
func (s *Server) handleUpdateRemittance(w http.ResponseWriter, r *http.Request) {
	rem, err := decodeRemittance(w, r)
	if err == nil {
		err = checkField("id", rem.ID, MaxIDLength)
	}
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if s.remittanceWrite(w, r, func(ctx context.Context) error { return s.Remittances.UpdateRemittance(ctx, &rem) }) {
		httpjson.Write(w, http.StatusOK, rem)
	}
}

// handleDeleteRemittance deletes a remittance: {"id"}, with "version" to
// delete it only if unchanged.
func (s *Server) handleDeleteRemittance(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}
	err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req)
	if err == nil {
		err = checkField("id", req.ID, MaxIDLength)
	}
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if s.remittanceWrite(w, r, func(ctx context.Context) error { return s.Remittances.DeleteRemittance(ctx, req.ID, req.Version) }) {
		httpjson.Write(w, http.StatusOK, map[string]string{"id": req.ID})
	}
}

func (s *Server) handleClearRemittances(w http.ResponseWriter, r *http.Request) {
	var n int
	if s.remittanceWrite(w, r, func(ctx context.Context) (err error) { n, err = s.Remittances.ClearRemittances(ctx); return err }) {
		httpjson.Write(w, http.StatusOK, map[string]int{"deleted": n})
	}
}

// handleExecuteRunbook starts a runbook in the controller, which runs them:
// a region only passes the request on, with the cluster secret, once it has
// checked that the caller is an admin.
func (s *Server) handleExecuteRunbook(w http.ResponseWriter, r *http.Request) {
	if s.StartRunbook == nil {
		httpjson.Write(w, http.StatusNotImplemented, httpjson.Message{Message: "this region cannot reach the controller; run `tandem failover`, `tandem switchover` or `tandem failback` instead"})
		return
	}
	var req RunbookRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	req.Kind = strings.ToLower(strings.TrimSpace(req.Kind))
	switch req.Kind {
	case "switchover", "failover", "failback":
	case "":
		httpjson.Errorf(w, r, tandem.EINVALID, "missing field: kind (switchover, failover or failback)")
		return
	default:
		httpjson.Errorf(w, r, tandem.EINVALID, "kind %q is not a runbook: use switchover, failover or failback", req.Kind)
		return
	}
	rb, err := s.StartRunbook(r.Context(), req)
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, rb)
}
