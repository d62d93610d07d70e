package httpapi

import (
	"net/http"

	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// routeAdmin registers the admin-only management of users and OAuth clients.
// An admin's token or the cluster secret authorises them; the edge sends them
// to the writer, and the lists can be read at a standby too.
func (s *Server) routeAdmin() {
	if s.Identity == nil {
		return
	}
	s.mux.HandleFunc("POST /api/admin/users", s.admin(s.handleCreateUser))
	s.mux.HandleFunc("GET /api/admin/users", s.admin(s.handleListUsers))
	s.mux.HandleFunc("POST /api/admin/users/{username}/disable", s.admin(s.handleDisableUser))
	s.mux.HandleFunc("POST /api/admin/users/{username}/reset", s.admin(s.handleResetPassword))
	s.mux.HandleFunc("POST /api/admin/users/{username}/role", s.admin(s.handleSetRole))
	s.mux.HandleFunc("POST /api/admin/clients", s.admin(s.handleCreateClient))
	s.mux.HandleFunc("GET /api/admin/clients", s.admin(s.handleListClients))
	s.mux.HandleFunc("DELETE /api/admin/clients/{clientId}", s.admin(s.handleDeleteClient))
}

// UserResponse is a user, with its temporary password when one was just set.
type UserResponse struct {
	User              auth.User `json:"user"`
	TemporaryPassword string    `json:"temporaryPassword,omitempty"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var req auth.NewUser
	if err := httpjson.Decode(w, r, MaxAuthBody, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	u, temp, err := s.Identity.CreateUser(r.Context(), req)
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusCreated, UserResponse{u, temp})
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.Identity.ListUsers(r.Context())
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"users": users})
}

func (s *Server) handleDisableUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.Identity.DisableUser(r.Context(), r.PathValue("username"))
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusOK, UserResponse{User: u})
}

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	u, temp, err := s.Identity.ResetPassword(r.Context(), r.PathValue("username"))
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusOK, UserResponse{u, temp})
}

// RoleRequest sets a user's role.
type RoleRequest struct {
	Role string `json:"role"`
}

func (s *Server) handleSetRole(w http.ResponseWriter, r *http.Request) {
	var req RoleRequest
	if err := httpjson.Decode(w, r, MaxAuthBody, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	u, err := s.Identity.SetRole(r.Context(), r.PathValue("username"), req.Role)
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusOK, UserResponse{User: u})
}

// NewClientRequest creates an OAuth2 client.
type NewClientRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"` // space-separated
}

// ClientResponse is a new OAuth2 client with its secret, shown this once.
type ClientResponse struct {
	Client       auth.Client `json:"client"`
	ClientSecret string      `json:"clientSecret"`
}

func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request) {
	var req NewClientRequest
	if err := httpjson.Decode(w, r, MaxAuthBody, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	c, secret, err := s.Identity.CreateClient(r.Context(), req.Name, req.Scope)
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusCreated, ClientResponse{c, secret})
}

// handleDeleteClient deletes an OAuth2 client, revoking its tokens.
func (s *Server) handleDeleteClient(w http.ResponseWriter, r *http.Request) {
	if err := s.Identity.DeleteClient(r.Context(), r.PathValue("clientId")); err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request) {
	clients, err := s.Identity.ListClients(r.Context())
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"clients": clients})
}
