package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tandemhq/tandem"
)

const (
	testIssuer   = "https://tandem.test"
	testAudience = "tandem"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// MustGenerateKey returns a new random key.
func MustGenerateKey(tb testing.TB) Key {
	tb.Helper()
	k, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustSeededKey returns the same key for the same seed in every process, as
// fuzz workers need.
func MustSeededKey(tb testing.TB, seed string) Key {
	tb.Helper()
	d := sha256.Sum256([]byte(seed))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		tb.Fatal(err)
	}
	k, err := newKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func newTestIssuer(k Key, now time.Time) *Issuer {
	return &Issuer{Key: k, Issuer: testIssuer, Audience: testAudience, Now: fixedClock(now)}
}

func newTestVerifier(tb testing.TB, keys ...Key) *Verifier {
	tb.Helper()
	var set JWKS
	for _, k := range keys {
		j, err := k.PublicJWK()
		if err != nil {
			tb.Fatal(err)
		}
		set.Keys = append(set.Keys, j)
	}
	ks, err := set.KeySet()
	if err != nil {
		tb.Fatal(err)
	}
	return &Verifier{Keys: ks.Lookup, Issuer: testIssuer, Audience: testAudience, Now: fixedClock(testNow)}
}

func MustIssue(tb testing.TB, iss *Issuer, c Claims) string {
	tb.Helper()
	s, err := iss.Issue(c)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func accessClaims() Claims {
	c := Claims{Username: "alice", Role: RoleAdmin, Scope: "api/read api/upsert-delete", TokenUse: TokenUseAccess}
	c.Subject = "user-1"
	return c
}

// validClaims returns claims that pass verification at testNow, for tokens
// crafted by hand.
func validClaims() map[string]any {
	return map[string]any{
		"iss":       testIssuer,
		"aud":       []string{testAudience},
		"sub":       "user-1",
		"token_use": TokenUseAccess,
		"iat":       testNow.Add(-time.Minute).Unix(),
		"nbf":       testNow.Add(-time.Minute).Unix(),
		"exp":       testNow.Add(time.Hour).Unix(),
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(b)
}

// craft builds a token from a header and claims, signed by sign over the
// signing input (nil for an empty signature).
func craft(tb testing.TB, header, claims any, sign func(input string) []byte) string {
	tb.Helper()
	input := b64JSON(tb, header) + "." + b64JSON(tb, claims)
	var sig []byte
	if sign != nil {
		sig = sign(input)
	}
	return input + "." + b64(sig)
}

func signWith(tb testing.TB, m jwt.SigningMethod, key any) func(string) []byte {
	return func(input string) []byte {
		tb.Helper()
		sig, err := m.Sign(input, key)
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
}

func es256Header(kid string) map[string]any {
	return map[string]any{"alg": "ES256", "typ": "JWT", "kid": kid}
}

func TestVerify(t *testing.T) {
	keyA, keyB, keyC := MustGenerateKey(t), MustGenerateKey(t), MustGenerateKey(t)
	issA := newTestIssuer(keyA, testNow)
	valid := MustIssue(t, issA, accessClaims())
	signA := signWith(t, jwt.SigningMethodES256, keyA.Private)

	pkix, err := x509.MarshalPKIXPublicKey(&keyA.Private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pubPoint, err := keyA.Private.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwkA, err := keyA.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := json.Marshal(jwkA)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	parts := strings.Split(valid, ".")
	tamperedClaims := with(validClaims(), "role", RoleAdmin, "sub", "user-2")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 1
	// The last character of a 64-byte signature carries 4 unused bits: flip
	// one so that a lenient decoder would still see the same signature.
	last := parts[2][len(parts[2])-1]
	lenientSig := parts[2][:len(parts[2])-1] + string(base64URLAlphabet[strings.IndexByte(base64URLAlphabet, last)^1])

	tests := []struct {
		name    string
		token   string
		setup   func(v *Verifier)
		wantErr string // "" for a valid token; otherwise the message
	}{
		{name: "valid", token: valid},
		{name: "valid from other region", token: MustIssue(t, newTestIssuer(keyB, testNow), accessClaims())},
		{name: "valid hand-crafted", token: craft(t, es256Header(keyA.ID), validClaims(), signA)},
		{name: "valid nbf within leeway", token: craft(t, es256Header(keyA.ID), with(validClaims(), "nbf", testNow.Add(20*time.Second).Unix()), signA),
			setup: func(v *Verifier) { v.Leeway = DefaultLeeway }},
		{name: "valid token use", token: valid, setup: func(v *Verifier) { v.TokenUse = TokenUseAccess }},

		{name: "expired", token: MustIssue(t, newTestIssuer(keyA, testNow.Add(-2*time.Hour)), accessClaims()), wantErr: "token has expired"},
		{name: "expired beyond leeway", token: craft(t, es256Header(keyA.ID), with(validClaims(), "exp", testNow.Add(-time.Minute).Unix()), signA),
			setup: func(v *Verifier) { v.Leeway = DefaultLeeway }, wantErr: "token has expired"},
		{name: "no exp", token: craft(t, es256Header(keyA.ID), with(validClaims(), "exp", nil), signA), wantErr: "invalid token"},
		{name: "not yet valid", token: craft(t, es256Header(keyA.ID), with(validClaims(), "nbf", testNow.Add(10*time.Minute).Unix()), signA), wantErr: "token is not valid yet"},
		{name: "issued in the future", token: craft(t, es256Header(keyA.ID), with(validClaims(), "iat", testNow.Add(10*time.Minute).Unix()), signA), wantErr: "token is not valid yet"},
		{name: "wrong issuer", token: craft(t, es256Header(keyA.ID), with(validClaims(), "iss", "https://evil.test"), signA), wantErr: "invalid token"},
		{name: "no issuer", token: craft(t, es256Header(keyA.ID), with(validClaims(), "iss", nil), signA), wantErr: "invalid token"},
		{name: "wrong audience", token: craft(t, es256Header(keyA.ID), with(validClaims(), "aud", "other"), signA), wantErr: "invalid token"},
		{name: "no audience", token: craft(t, es256Header(keyA.ID), with(validClaims(), "aud", nil), signA), wantErr: "invalid token"},
		{name: "no subject", token: craft(t, es256Header(keyA.ID), with(validClaims(), "sub", nil), signA), wantErr: "invalid token"},
		{name: "wrong token use", token: craft(t, es256Header(keyA.ID), with(validClaims(), "token_use", TokenUseID), signA),
			setup: func(v *Verifier) { v.TokenUse = TokenUseAccess }, wantErr: "invalid token"},

		{name: "alg none", token: craft(t, map[string]any{"alg": "none", "typ": "JWT", "kid": keyA.ID}, validClaims(), nil), wantErr: "invalid token"},
		{name: "alg none with signature", token: craft(t, map[string]any{"alg": "none", "kid": keyA.ID}, validClaims(), signA), wantErr: "invalid token"},
		{name: "alg NONE", token: craft(t, map[string]any{"alg": "NONE", "kid": keyA.ID}, validClaims(), nil), wantErr: "invalid token"},
		{name: "no alg", token: craft(t, map[string]any{"kid": keyA.ID}, validClaims(), signA), wantErr: "invalid token"},
		{name: "alg es256 lowercase", token: craft(t, map[string]any{"alg": "es256", "kid": keyA.ID}, validClaims(), signA), wantErr: "invalid token"},
		{name: "HS256 with public key PEM", token: craft(t, map[string]any{"alg": "HS256", "kid": keyA.ID}, validClaims(), signWith(t, jwt.SigningMethodHS256, pubPEM)), wantErr: "invalid token"},
		{name: "HS256 with public key point", token: craft(t, map[string]any{"alg": "HS256", "kid": keyA.ID}, validClaims(), signWith(t, jwt.SigningMethodHS256, pubPoint)), wantErr: "invalid token"},
		{name: "HS256 with public JWK", token: craft(t, map[string]any{"alg": "HS256", "kid": keyA.ID}, validClaims(), signWith(t, jwt.SigningMethodHS256, jwkJSON)), wantErr: "invalid token"},
		{name: "RS256", token: craft(t, map[string]any{"alg": "RS256", "kid": keyA.ID}, validClaims(), signWith(t, jwt.SigningMethodRS256, rsaKey)), wantErr: "invalid token"},
		{name: "PS256", token: craft(t, map[string]any{"alg": "PS256", "kid": keyA.ID}, validClaims(), signWith(t, jwt.SigningMethodPS256, rsaKey)), wantErr: "invalid token"},
		{name: "ES384", token: craft(t, map[string]any{"alg": "ES384", "kid": keyA.ID}, validClaims(), signWith(t, jwt.SigningMethodES384, p384)), wantErr: "invalid token"},
		{name: "EdDSA", token: craft(t, map[string]any{"alg": "EdDSA", "kid": keyA.ID}, validClaims(), signA), wantErr: "invalid token"},

		{name: "tampered payload", token: parts[0] + "." + b64JSON(t, tamperedClaims) + "." + parts[2], wantErr: "invalid token"},
		{name: "tampered header kid", token: b64JSON(t, es256Header(keyB.ID)) + "." + parts[1] + "." + parts[2], wantErr: "invalid token"},
		{name: "tampered signature", token: parts[0] + "." + parts[1] + "." + b64(sig), wantErr: "invalid token"},
		{name: "non-canonical signature base64", token: parts[0] + "." + parts[1] + "." + lenientSig, wantErr: "invalid token"},
		{name: "truncated signature", token: parts[0] + "." + parts[1] + "." + parts[2][:40], wantErr: "invalid token"},
		{name: "no signature", token: parts[0] + "." + parts[1] + ".", wantErr: "invalid token"},
		{name: "signed by another key", token: craft(t, es256Header(keyA.ID), validClaims(), signWith(t, jwt.SigningMethodES256, keyC.Private)), wantErr: "invalid token"},
		{name: "unknown kid", token: MustIssue(t, newTestIssuer(keyC, testNow), accessClaims()), wantErr: "invalid token"},
		{name: "missing kid", token: craft(t, map[string]any{"alg": "ES256", "typ": "JWT"}, validClaims(), signA), wantErr: "invalid token"},
		{name: "empty kid", token: craft(t, es256Header(""), validClaims(), signA), wantErr: "invalid token"},
		{name: "kid not a string", token: craft(t, map[string]any{"alg": "ES256", "kid": 7}, validClaims(), signA), wantErr: "invalid token"},
		{name: "crit header", token: craft(t, map[string]any{"alg": "ES256", "kid": keyA.ID, "crit": []string{"exp"}, "exp": 1}, validClaims(), signA), wantErr: "invalid token"},

		{name: "empty", token: "", wantErr: "invalid token"},
		{name: "one segment", token: "abc", wantErr: "invalid token"},
		{name: "two segments", token: parts[0] + "." + parts[1], wantErr: "invalid token"},
		{name: "four segments", token: valid + ".x", wantErr: "invalid token"},
		{name: "dots only", token: "..", wantErr: "invalid token"},
		{name: "header not base64", token: "!!!." + parts[1] + "." + parts[2], wantErr: "invalid token"},
		{name: "header padded base64", token: parts[0] + "==." + parts[1] + "." + parts[2], wantErr: "invalid token"},
		{name: "header not JSON", token: b64([]byte("not json")) + "." + parts[1] + "." + parts[2], wantErr: "invalid token"},
		{name: "header JSON array", token: b64([]byte(`["ES256"]`)) + "." + parts[1] + "." + parts[2], wantErr: "invalid token"},
		{name: "payload not base64", token: parts[0] + ".***." + parts[2], wantErr: "invalid token"},
		{name: "payload not JSON", token: parts[0] + "." + b64([]byte("{")) + "." + parts[2], wantErr: "invalid token"},
		{name: "payload wrong types", token: craft(t, es256Header(keyA.ID), with(validClaims(), "exp", "tomorrow"), signA), wantErr: "invalid token"},
		{name: "signature not base64", token: parts[0] + "." + parts[1] + ".%%%", wantErr: "invalid token"},
		{name: "whitespace", token: " " + valid, wantErr: "invalid token"},
		{name: "oversized", token: valid + strings.Repeat("A", maxTokenSize), wantErr: "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, keyA, keyB)
			if tt.setup != nil {
				tt.setup(v)
			}
			c, err := v.Verify(tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got, want := c.Subject, "user-1"; got != want {
					t.Fatalf("Subject = %q, want %q", got, want)
				}
				return
			}
			if c != nil {
				t.Fatalf("Verify returned claims %+v with error %v", c, err)
			}
			var e *tandem.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error %v (%T) is not a *tandem.Error", err, err)
			}
			if got, want := tandem.ErrorCode(err), tandem.EUNAUTHORIZED; got != want {
				t.Fatalf("ErrorCode = %q, want %q", got, want)
			}
			if got := tandem.ErrorMessage(err); got != tt.wantErr {
				t.Fatalf("ErrorMessage = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestIssue_Claims(t *testing.T) {
	key := MustGenerateKey(t)
	iss := newTestIssuer(key, testNow)
	iss.TTL = 10 * time.Minute
	c := accessClaims()
	c.ClientID = "client-1"
	c.Issuer = "ignored"
	token := MustIssue(t, iss, c)

	got, err := newTestVerifier(t, key).Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Role != RoleAdmin || got.TokenUse != TokenUseAccess || got.ClientID != "client-1" {
		t.Fatalf("claims = %+v", got)
	}
	if got.Issuer != testIssuer {
		t.Fatalf("Issuer = %q, want %q", got.Issuer, testIssuer)
	}
	if got, want := got.ExpiresAt.Time, testNow.Add(10*time.Minute); !got.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", got, want)
	}
	if got.ID == "" {
		t.Fatal("no token ID")
	}
	header, _, _ := strings.Cut(token, ".")
	var h map[string]any
	if b, err := base64.RawURLEncoding.DecodeString(header); err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("header %q", header)
	}
	if h["alg"] != "ES256" || h["kid"] != key.ID {
		t.Fatalf("header = %v", h)
	}
}

func TestIssue_Invalid(t *testing.T) {
	key := MustGenerateKey(t)
	noSubject := accessClaims()
	noSubject.Subject = ""
	badUse := accessClaims()
	badUse.TokenUse = "session"
	tests := []struct {
		name string
		iss  *Issuer
		c    Claims
	}{
		{"no key", &Issuer{Issuer: testIssuer, Audience: testAudience}, accessClaims()},
		{"no issuer", &Issuer{Key: key, Audience: testAudience}, accessClaims()},
		{"no audience", &Issuer{Key: key, Issuer: testIssuer}, accessClaims()},
		{"no subject", newTestIssuer(key, testNow), noSubject},
		{"bad token use", newTestIssuer(key, testNow), badUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.iss.Issue(tt.c); err == nil {
				t.Fatal("Issue succeeded")
			}
		})
	}
}

func TestVerify_Unconfigured(t *testing.T) {
	key := MustGenerateKey(t)
	token := MustIssue(t, newTestIssuer(key, testNow), accessClaims())
	v := newTestVerifier(t, key)
	v.Audience = ""
	if _, err := v.Verify(token); err == nil {
		t.Fatal("Verify without an audience succeeded")
	}
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc.def.ghi", "abc.def.ghi", true},
		{"BEARER abc.def.ghi", "abc.def.ghi", true},
		{"Bearer   abc.def.ghi  ", "abc.def.ghi", true},
		{"abc.def.ghi", "abc.def.ghi", true},
		{"  abc.def.ghi", "abc.def.ghi", true},
		{"", "", false},
		{"   ", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer a b", "", false},
		{"Bearer\tabc", "", false},
	}
	for _, tt := range tests {
		token, ok := ParseAuthorization(tt.header)
		if token != tt.token || ok != tt.ok {
			t.Errorf("ParseAuthorization(%q) = %q, %v; want %q, %v", tt.header, token, ok, tt.token, tt.ok)
		}
	}
}

func TestScopesAndRoles(t *testing.T) {
	c := accessClaims()
	c.Role = RoleUser
	for scope, want := range map[string]bool{"api/read": true, "api/upsert-delete": true, "api": false, "": false, "api/read api/upsert-delete": false} {
		if got := c.HasScope(scope); got != want {
			t.Errorf("HasScope(%q) = %v, want %v", scope, got, want)
		}
	}
	if got := (*Claims)(nil).HasScope("api/read"); got {
		t.Error("nil claims have a scope")
	}
	checks := []struct {
		name string
		err  error
		code string
	}{
		{"role ok", RequireRole(&c, RoleUser), ""},
		{"role wrong", RequireRole(&c, RoleAdmin), tandem.EFORBIDDEN},
		{"role nil", RequireRole(nil, RoleAdmin), tandem.EUNAUTHORIZED},
		{"scope ok", RequireScope(&c, "api/read"), ""},
		{"scope missing", RequireScope(&c, "api/admin"), tandem.EFORBIDDEN},
		{"scope nil", RequireScope(nil, "api/read"), tandem.EUNAUTHORIZED},
	}
	for _, tt := range checks {
		if got := tandem.ErrorCode(tt.err); got != tt.code {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.code)
		}
	}
}

// FuzzVerify checks that Verify never panics, rejects with EUNAUTHORIZED, and
// accepts only tokens whose header and payload the issuer's key signed. The
// keys are derived from fixed seeds so that every fuzz worker has the same.
func FuzzVerify(f *testing.F) {
	keyA := MustSeededKey(f, "tandem fuzz key A")
	keyB := MustSeededKey(f, "tandem fuzz key B")
	signed := map[string]bool{}
	// Fixed token IDs keep the signed header and payload the same in every
	// worker; only the (randomised) ECDSA signatures differ.
	access := accessClaims()
	access.ID = "token-1"
	id := Claims{TokenUse: TokenUseID, Username: "bob", RegisteredClaims: jwt.RegisteredClaims{Subject: "user-2", ID: "token-2"}}
	for _, c := range []Claims{access, id} {
		token := MustIssue(f, newTestIssuer(keyA, testNow), c)
		signed[token[:strings.LastIndexByte(token, '.')]] = true
		f.Add(token)
	}
	signA := signWith(f, jwt.SigningMethodES256, keyA.Private)
	for _, token := range []string{
		craft(f, es256Header(keyA.ID), validClaims(), signA),
		craft(f, es256Header(keyA.ID), with(validClaims(), "exp", testNow.Add(-time.Hour).Unix()), signA),
		craft(f, es256Header(keyA.ID), with(validClaims(), "aud", "other"), signA),
	} {
		signed[token[:strings.LastIndexByte(token, '.')]] = true
		f.Add(token)
	}
	pub, _ := keyA.Private.PublicKey.Bytes()
	for _, token := range []string{
		craft(f, map[string]any{"alg": "none", "kid": keyA.ID}, validClaims(), nil),
		craft(f, map[string]any{"alg": "HS256", "kid": keyA.ID}, validClaims(), signWith(f, jwt.SigningMethodHS256, pub)),
		craft(f, es256Header(keyB.ID), validClaims(), signWith(f, jwt.SigningMethodES256, keyB.Private)),
		craft(f, map[string]any{"alg": "ES256"}, validClaims(), signA),
		"", "..", "a.b.c", "eyJhbGciOiJFUzI1NiJ9..",
	} {
		f.Add(token)
	}
	v := newTestVerifier(f, keyA)

	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token)
		if err != nil {
			if got := tandem.ErrorCode(err); got != tandem.EUNAUTHORIZED {
				t.Fatalf("Verify(%q) error code %q: %v", token, got, err)
			}
			if c != nil {
				t.Fatalf("Verify(%q) returned claims with an error", token)
			}
			return
		}
		if c == nil {
			t.Fatalf("Verify(%q) returned no claims and no error", token)
		}
		if !signed[token[:strings.LastIndexByte(token, '.')]] {
			t.Fatalf("Verify accepted %q, which the issuer did not sign", token)
		}
	})
}
