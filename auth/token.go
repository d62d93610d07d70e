package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tandemhq/tandem"
)

// Roles a user can have.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// Values of the token_use claim. An ID token describes the user to the UI; an
// access token authorises API calls, and client-credentials tokens are always
// access tokens. A refresh token is exchanged for new ID and access tokens,
// and a challenge token is the session of a sign-in that must answer a
// challenge (a new password) first; neither is accepted by an API.
const (
	TokenUseID        = "id"
	TokenUseAccess    = "access"
	TokenUseRefresh   = "refresh"
	TokenUseChallenge = "challenge"
)

// DefaultIssuer and DefaultAudience are the iss and aud claims of the tokens
// every region issues. They are the same in all regions, so that a token from
// one is valid in another; the key ID tells the regions' keys apart.
const (
	DefaultIssuer   = "tandem"
	DefaultAudience = "tandem"
)

// DefaultTokenTTL is how long an ID or access token is valid.
const DefaultTokenTTL = time.Hour

// DefaultLeeway is a reasonable Verifier.Leeway: regions' clocks may differ
// by a little, and a token issued in one must be usable in the other at once.
const DefaultLeeway = 30 * time.Second

const algES256 = "ES256"

// maxTokenSize bounds the input Verify will decode. Tandem's tokens are a few
// hundred bytes.
const maxTokenSize = 8 << 10

// Claims are the claims of a tandem token. Subject (in RegisteredClaims) is
// the user's ID, or the client ID for a client-credentials token.
type Claims struct {
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
	Role     string `json:"role,omitempty"`
	// Scope is the space-separated list of OAuth scopes granted, as in
	// RFC 6749 §3.3.
	Scope    string `json:"scope,omitempty"`
	TokenUse string `json:"token_use"`
	ClientID string `json:"client_id,omitempty"`
	jwt.RegisteredClaims
}

// HasScope reports whether scope is one of c's scopes.
func (c *Claims) HasScope(scope string) bool {
	if c == nil || scope == "" {
		return false
	}
	for _, s := range strings.Fields(c.Scope) {
		if s == scope {
			return true
		}
	}
	return false
}

// RequireRole returns nil if c has the given role. It returns EUNAUTHORIZED
// if c is nil (nobody signed in) and EFORBIDDEN if the role differs.
func RequireRole(c *Claims, role string) error {
	if c == nil {
		return tandem.Errorf(tandem.EUNAUTHORIZED, "sign-in required")
	}
	if c.Role != role {
		return tandem.Errorf(tandem.EFORBIDDEN, "requires the %s role", role)
	}
	return nil
}

// RequireScope returns nil if c has the given scope. It returns EUNAUTHORIZED
// if c is nil and EFORBIDDEN if the scope is missing.
func RequireScope(c *Claims, scope string) error {
	if c == nil {
		return tandem.Errorf(tandem.EUNAUTHORIZED, "sign-in required")
	}
	if !c.HasScope(scope) {
		return tandem.Errorf(tandem.EFORBIDDEN, "requires the %s scope", scope)
	}
	return nil
}

// Issuer signs tokens with a region's key.
type Issuer struct {
	Key      Key
	Issuer   string        // the iss claim, e.g. the service's URL
	Audience string        // the aud claim
	TTL      time.Duration // DefaultTokenTTL if zero
	Now      func() time.Time
}

// Issue signs c as an ES256 JWT whose header names the key's ID. It sets the
// issuer, audience, issued-at, not-before and expiry claims, and a random
// token ID if c has none; c must have a Subject and one of the TokenUse
// values.
func (i *Issuer) Issue(c Claims) (string, error) {
	switch {
	case i.Key.Private == nil || i.Key.ID == "":
		return "", errors.New("issue token: issuer has no key")
	case i.Issuer == "" || i.Audience == "":
		return "", errors.New("issue token: issuer has no issuer or audience")
	case c.Subject == "":
		return "", errors.New("issue token: no subject")
	case !validTokenUse(c.TokenUse):
		return "", fmt.Errorf("issue token: token use %q", c.TokenUse)
	}
	ttl := i.TTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	now := nowFunc(i.Now)()
	c.Issuer = i.Issuer
	c.Audience = jwt.ClaimStrings{i.Audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	if c.ID == "" {
		c.ID = rand.Text()
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = i.Key.ID
	s, err := t.SignedString(i.Key.Private)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return s, nil
}

// Verifier checks tokens issued by any region.
type Verifier struct {
	// Keys returns the public key with the given ID: every region's keys, so
	// that a token issued in one region is accepted in the other.
	Keys     func(kid string) (*ecdsa.PublicKey, bool)
	Issuer   string // required iss
	Audience string // required aud
	// TokenUse, if set, is the token_use a token must have, so that an ID
	// token is not taken for an access token.
	TokenUse string
	Now      func() time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat; see DefaultLeeway.
	Leeway time.Duration
}

// Verify parses token and checks it: alg ES256 and nothing else, a kid that
// Keys knows, a valid signature, exp present and not passed, nbf and iat (if
// present) not in the future, and the expected issuer, audience and subject.
//
// Every rejected token gives an EUNAUTHORIZED error with a short message that
// is safe to show. A Verifier without Keys, Issuer or Audience is a
// programming error and gives an internal error.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if v.Keys == nil || v.Issuer == "" || v.Audience == "" {
		return nil, errors.New("verify token: verifier needs keys, issuer and audience")
	}
	if token == "" || len(token) > maxTokenSize {
		return nil, errInvalidToken()
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{algES256}),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(nowFunc(v.Now)),
		jwt.WithStrictDecoding(),
	)
	var c Claims
	if _, err := p.ParseWithClaims(token, &c, v.keyFor); err != nil {
		return nil, tokenError(err)
	}
	if c.Subject == "" || (v.TokenUse != "" && c.TokenUse != v.TokenUse) {
		return nil, errInvalidToken()
	}
	return &c, nil
}

// keyFor is the jwt.Keyfunc of Verify. The parser has already refused any alg
// but ES256; the checks here hold even if that option were lost.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodES256 {
		return nil, errors.New("alg is not ES256")
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions we do not understand must be refused.
		return nil, errors.New("crit header")
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errors.New("no kid")
	}
	pub, ok := v.Keys(kid)
	if !ok || pub == nil || pub.Curve != elliptic.P256() {
		return nil, errors.New("unknown kid")
	}
	return pub, nil
}

func validTokenUse(use string) bool {
	switch use {
	case TokenUseID, TokenUseAccess, TokenUseRefresh, TokenUseChallenge:
		return true
	}
	return false
}

// IsAPIToken reports whether c may authorise an API call: an access token, or
// an ID token, which the reference APIs take in Authorization too.
func (c *Claims) IsAPIToken() bool {
	return c != nil && (c.TokenUse == TokenUseAccess || c.TokenUse == TokenUseID)
}

func errInvalidToken() error {
	return tandem.Errorf(tandem.EUNAUTHORIZED, "invalid token")
}

// tokenError turns a parser error into an EUNAUTHORIZED error. Only expiry
// and not-yet-valid get their own message: the client can act on those, and
// telling them apart reveals nothing about the keys.
func tokenError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return tandem.Errorf(tandem.EUNAUTHORIZED, "token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return tandem.Errorf(tandem.EUNAUTHORIZED, "token is not valid yet")
	default:
		return errInvalidToken()
	}
}

func nowFunc(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// ParseAuthorization returns the token in an Authorization header value:
// "Bearer <token>" with the scheme in any case, or a bare token, as the
// reference ToDo API's curl commands send it. It returns false for an empty
// value or any other scheme, such as Basic.
func ParseAuthorization(header string) (token string, ok bool) {
	h := strings.TrimSpace(header)
	if scheme, rest, found := strings.Cut(h, " "); found {
		if !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		h = strings.TrimLeft(rest, " ")
	} else if strings.EqualFold(h, "Bearer") {
		return "", false
	}
	if h == "" || strings.ContainsAny(h, " \t") {
		return "", false
	}
	return h, true
}
