package httpapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// authRealm is the realm of the WWW-Authenticate challenges of the API.
const authRealm = "tandem"

type claimsKey struct{}

// ClaimsFrom returns the claims of the token a request was authenticated
// with, or nil outside an authenticated handler.
func ClaimsFrom(ctx context.Context) *auth.Claims {
	c, _ := ctx.Value(claimsKey{}).(*auth.Claims)
	return c
}

// authenticate returns the claims of the access or ID token in r's
// Authorization header, "Bearer <token>" or the bare token. Returns
// EUNAUTHORIZED when there is none or it is not valid.
func (s *Server) authenticate(r *http.Request) (*auth.Claims, error) {
	header := r.Header.Get("Authorization")
	token, ok := auth.ParseAuthorization(header)
	switch {
	case strings.TrimSpace(header) == "":
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "sign-in required: send a token in the Authorization header")
	case !ok:
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "malformed Authorization header: send \"Bearer <token>\"")
	case s.Identity == nil:
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "sign-in is not available in region %s", s.Region)
	}
	return s.Identity.Authenticate(r.Context(), token)
}

// withAuth runs h for requests with a valid token whose claims pass check
// (which returns EFORBIDDEN to refuse), with the claims in the request's
// context (see ClaimsFrom). Others get 401 or 403.
func (s *Server) withAuth(check func(*auth.Claims) error, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err == nil && check != nil {
			err = check(c)
		}
		if err != nil {
			writeAuthError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	}
}

// admin runs h for an admin's token or the cluster secret (which the CLI and
// `tandem up` use), with or without "Bearer".
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	withToken := s.withAuth(RequireAdmin, h)
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := auth.ParseAuthorization(r.Header.Get("Authorization"))
		if ok && s.Secret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.Secret)) == 1 {
			c := &auth.Claims{Role: auth.RoleAdmin, TokenUse: auth.TokenUseAccess}
			c.Subject = "cluster-secret"
			h(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
			return
		}
		withToken(w, r)
	}
}

// RequireUser refuses tokens that do not name a user, such as an OAuth
// client's: a comment needs an author.
func RequireUser(c *auth.Claims) error {
	if c.Username == "" {
		return tandem.Errorf(tandem.EFORBIDDEN, "this needs a signed-in user, not an OAuth client")
	}
	return nil
}

// RequireAdmin refuses tokens without the admin role.
func RequireAdmin(c *auth.Claims) error { return auth.RequireRole(c, auth.RoleAdmin) }

// RequireScopeOrUser returns a check that accepts a signed-in user's token
// (as the web app sends) or a machine client's token with scope, and
// refuses other clients' tokens.
func RequireScopeOrUser(scope string) func(*auth.Claims) error {
	return func(c *auth.Claims) error {
		if c != nil && c.Username != "" {
			return nil
		}
		return auth.RequireScope(c, scope)
	}
}

// writeAuthError writes a refused authentication (401) or authorisation
// (403) with the WWW-Authenticate challenge of RFC 6750.
func writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	challenge := `Bearer realm="` + authRealm + `"`
	switch tandem.ErrorCode(err) {
	case tandem.EUNAUTHORIZED:
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token", error_description="` + quoteSafe(tandem.ErrorMessage(err)) + `"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	case tandem.EFORBIDDEN:
		w.Header().Set("WWW-Authenticate", challenge+`, error="insufficient_scope"`)
	}
	httpjson.Error(w, r, nil, err)
}

// quoteSafe drops the characters a quoted header parameter cannot hold.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// DefaultTrustedProxies are the addresses whose X-Forwarded-For a region
// believes by default: loopback, where `tandem up` runs the edge.
var DefaultTrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ClientAddr returns a function that tells the address of the client a
// request came from, which sign-in attempts are throttled by. When the
// connection comes from a trusted proxy (the edge, which replaces any
// X-Forwarded-For a client sent), it is the last address in X-Forwarded-For;
// otherwise, or when that is not an address, the connection's own.
func ClientAddr(trusted []netip.Prefix) func(*http.Request) string {
	return func(r *http.Request) string {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		addr := peer.Addr().Unmap()
		if !contains(trusted, addr) {
			return addr.String()
		}
		values := r.Header.Values("X-Forwarded-For")
		if len(values) == 0 {
			return addr.String()
		}
		hops := strings.Split(values[len(values)-1], ",")
		fwd, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1]))
		if err != nil {
			return addr.String()
		}
		return fwd.Unmap().WithZone("").String()
	}
}

func contains(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (s *Server) clientAddr(r *http.Request) string {
	if s.ClientAddr != nil {
		return s.ClientAddr(r)
	}
	return ClientAddr(nil)(r)
}
