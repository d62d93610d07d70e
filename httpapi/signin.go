package httpapi

import (
	"errors"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// MaxAuthBody bounds the bodies of the sign-in and token endpoints.
const MaxAuthBody = 16 << 10

// SigningKeyPath is where a region serves its own public key to the writer,
// which records it for every region (cluster secret required).
const SigningKeyPath = "/internal/v1/signing-key"

// routeAuth registers sign-in, tokens and keys, when the region has an
// identity service.
func (s *Server) routeAuth() {
	if s.Identity == nil {
		return
	}
	s.mux.HandleFunc("POST /api/auth/login", s.handleLogin)
	s.mux.HandleFunc("POST /api/auth/respond", s.handleRespond)
	s.mux.HandleFunc("POST /api/auth/refresh", s.handleRefresh)
	s.mux.HandleFunc("POST /api/auth/logout", s.handleLogout)
	s.mux.HandleFunc("POST /api/auth/signup", s.handleSignUp)
	s.mux.HandleFunc("GET /api/auth/me", s.withAuth(nil, s.handleMe))
	s.mux.HandleFunc("POST /api/oauth2/token", s.handleClientToken)
	s.mux.HandleFunc("GET "+auth.JWKSPath, s.handleJWKS)
	s.mux.HandleFunc("GET "+SigningKeyPath, s.internal(s.handleSigningKey))
}

// LoginRequest signs in with a username (or email) and password.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := decodeAuth(w, r, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	res, err := s.Identity.Login(r.Context(), req.Username, req.Password, s.clientAddr(r))
	var retry *auth.RetryError
	if errors.As(err, &retry) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.After.Seconds()))))
	}
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, res)
}

// RespondRequest answers a sign-in challenge.
type RespondRequest struct {
	ChallengeName string `json:"challengeName"`
	Session       string `json:"session"`
	NewPassword   string `json:"newPassword"`
}

func (s *Server) handleRespond(w http.ResponseWriter, r *http.Request) {
	var req RespondRequest
	if err := decodeAuth(w, r, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if req.ChallengeName != "" && req.ChallengeName != auth.ChallengeNewPassword {
		httpjson.Errorf(w, r, tandem.EINVALID, "challengeName must be %s", auth.ChallengeNewPassword)
		return
	}
	tokens, err := s.Identity.RespondNewPassword(r.Context(), req.Session, req.NewPassword)
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusOK, tokens)
}

// FencedAuthMessage is shown when a sign-in step that writes (a new
// password, a sign-out) is refused because the application is fenced.
const FencedAuthMessage = "Sign-in changes cannot currently be saved. Please try again in a few minutes"

// RefreshRequest carries a refresh token, to refresh with or to revoke.
type RefreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req RefreshRequest
	if err := decodeAuth(w, r, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	tokens, err := s.Identity.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, tokens)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	var req RefreshRequest
	if err := decodeAuth(w, r, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if err := s.Identity.Logout(r.Context(), req.RefreshToken); err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SignUpRequest creates an account, when sign-up is allowed.
type SignUpRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) handleSignUp(w http.ResponseWriter, r *http.Request) {
	var req SignUpRequest
	if err := decodeAuth(w, r, &req); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	u, err := s.Identity.SignUp(r.Context(), req.Username, req.Email, req.Password)
	if err != nil {
		s.writeRefused(w, r, err, FencedAuthMessage)
		return
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"user": u})
}

// handleMe returns the claims of the caller's token.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, ClaimsFrom(r.Context()))
}

// authRequest is a request body of the sign-in endpoints.
type authRequest interface{ validate() error }

func (q *LoginRequest) validate() error {
	return requireFields("username", q.Username, "password", q.Password)
}

func (q *RespondRequest) validate() error {
	return requireFields("session", q.Session, "newPassword", q.NewPassword)
}

func (q *RefreshRequest) validate() error { return requireFields("refreshToken", q.RefreshToken) }

func (q *SignUpRequest) validate() error {
	return requireFields("username", q.Username, "email", q.Email, "password", q.Password)
}

// decodeAuth decodes a small JSON body into req and validates it.
func decodeAuth(w http.ResponseWriter, r *http.Request, req authRequest) error {
	if err := httpjson.Decode(w, r, MaxAuthBody, req); err != nil {
		return err
	}
	return req.validate()
}

// requireFields returns EINVALID naming the first empty field of the name,
// value pairs given.
func requireFields(nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if nameValues[i+1] == "" {
			return tandem.Errorf(tandem.EINVALID, "missing field: %s", nameValues[i])
		}
	}
	return nil
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := s.Identity.JWKS(r.Context())
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, set)
}

// handleSigningKey returns the region's own public key, as a JWKS of one.
func (s *Server) handleSigningKey(w http.ResponseWriter, r *http.Request) {
	j, err := s.Identity.PublicJWK()
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, auth.JWKS{Keys: []auth.PublicJWK{j}})
}

// oauthError is an error of the token endpoint in RFC 6749 §5.2's terms.
type oauthError struct {
	status int
	code   string // invalid_request, invalid_client, unsupported_grant_type, invalid_scope
	msg    string
}

// clientTokenRequest is a parsed client-credentials request.
type clientTokenRequest struct {
	clientID, secret, scope string
}

// parseClientTokenRequest reads a client-credentials token request: a form
// (application/x-www-form-urlencoded, each parameter at most once) with
// grant_type=client_credentials and an optional scope, and the client's ID
// and secret in HTTP Basic, form-encoded as RFC 6749 §2.3.1 says.
func parseClientTokenRequest(w http.ResponseWriter, r *http.Request) (clientTokenRequest, *oauthError) {
	var req clientTokenRequest
	bad := func(code, msg string) (clientTokenRequest, *oauthError) {
		status := http.StatusBadRequest
		if code == "invalid_client" {
			status = http.StatusUnauthorized
		}
		return req, &oauthError{status, code, msg}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return bad("invalid_request", "the request body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxAuthBody)
	if err := r.ParseForm(); err != nil {
		return bad("invalid_request", "the request body is not a valid form")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 {
			return bad("invalid_request", "parameter "+name+" is given more than once")
		}
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "":
		return bad("invalid_request", "missing parameter: grant_type")
	case "client_credentials":
	default:
		return bad("unsupported_grant_type", "grant_type must be client_credentials")
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return bad("invalid_client", "client authentication required: send the client ID and secret with HTTP Basic")
	}
	if req.clientID, err = url.QueryUnescape(user); err != nil {
		return bad("invalid_client", "invalid client credentials")
	}
	if req.secret, err = url.QueryUnescape(pass); err != nil {
		return bad("invalid_client", "invalid client credentials")
	}
	req.scope = r.PostForm.Get("scope")
	return req, nil
}

// handleClientToken is the OAuth2 token endpoint for the client-credentials
// grant. Errors carry RFC 6749's "error" code beside tandem's "message".
func (s *Server) handleClientToken(w http.ResponseWriter, r *http.Request) {
	req, oerr := parseClientTokenRequest(w, r)
	if oerr == nil {
		tok, err := s.Identity.IssueClientToken(r.Context(), req.clientID, req.secret, req.scope)
		switch tandem.ErrorCode(err) {
		case "":
			w.Header().Set("Pragma", "no-cache")
			httpjson.Write(w, http.StatusOK, tok)
			return
		case tandem.EUNAUTHORIZED:
			oerr = &oauthError{http.StatusUnauthorized, "invalid_client", tandem.ErrorMessage(err)}
		case tandem.EINVALID:
			oerr = &oauthError{http.StatusBadRequest, "invalid_scope", tandem.ErrorMessage(err)}
		default:
			httpjson.Error(w, r, s.Logger, err)
			return
		}
	}
	if oerr.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+authRealm+`"`)
	}
	httpjson.Write(w, oerr.status, map[string]string{"error": oerr.code, "message": oerr.msg})
}
