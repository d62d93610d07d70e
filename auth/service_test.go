package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/store/sqlite"
)

// newService returns an identity service over a new writer store, with a
// clock the test moves.
func newService(t testing.TB) (*auth.Service, *time.Time) {
	t.Helper()
	ctx := context.Background()
	st := sqlite.New(filepath.Join(t.TempDir(), "r.db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s := auth.NewService(st, key, "us-east-1")
	now := time.Now()
	s.Now = func() time.Time { return now }
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s, &now
}

func mustCreateUser(t testing.TB, s *auth.Service, name, role string) string {
	t.Helper()
	_, temp, err := s.CreateUser(context.Background(), auth.NewUser{Username: name, Email: name + "@example.com", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return temp
}

func wantCode(t testing.TB, what string, err error, code string) {
	t.Helper()
	if got := tandem.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

const goodPassword = "Correct-Horse-7"

func TestTemporaryPasswordFlow(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	temp := mustCreateUser(t, s, "Ana-1", auth.RoleUser)
	if err := auth.ValidatePassword(temp); err != nil {
		t.Fatalf("temporary password %q fails the policy: %v", temp, err)
	}

	res, err := s.Login(ctx, "ana-1", temp, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens != nil || res.Challenge == nil || res.Challenge.Name != auth.ChallengeNewPassword || res.Challenge.Session == "" {
		t.Fatalf("first sign-in = %+v, want a new-password challenge", res)
	}
	session := res.Challenge.Session
	if _, err := s.Authenticate(context.Background(), session); err == nil {
		t.Fatal("a challenge session was accepted as an API token")
	}
	_, err = s.RespondNewPassword(ctx, session, "short")
	wantCode(t, "weak new password", err, tandem.EINVALID)
	_, err = s.RespondNewPassword(ctx, "not-a-session", goodPassword)
	wantCode(t, "bad session", err, tandem.EUNAUTHORIZED)

	tokens, err := s.RespondNewPassword(ctx, session, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if tokens.TokenType != "Bearer" || tokens.ExpiresIn != 3600 || tokens.RefreshToken == "" || tokens.IDToken == "" {
		t.Fatalf("tokens = %+v", tokens)
	}
	c, err := s.Authenticate(context.Background(), tokens.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != "ana-1" || c.Role != auth.RoleUser || c.TokenUse != auth.TokenUseAccess {
		t.Fatalf("access claims = %+v", c)
	}
	if c, err := s.Authenticate(context.Background(), tokens.IDToken); err != nil || c.Email != "ana-1@example.com" {
		t.Fatalf("ID token: %+v, %v", c, err)
	}
	_, err = s.RespondNewPassword(ctx, session, goodPassword+"x")
	wantCode(t, "answering a challenge twice", err, tandem.EUNAUTHORIZED)

	if _, err := s.Login(ctx, "ana-1", temp, "10.0.0.1"); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Fatalf("the temporary password still works: %v", err)
	}
	for _, name := range []string{"ana-1", "ANA-1", "ana-1@example.com", "Ana-1@Example.com"} {
		res, err := s.Login(ctx, name, goodPassword, "10.0.0.1")
		if err != nil || res.Tokens == nil {
			t.Fatalf("sign in as %q: %+v, %v", name, res, err)
		}
	}
}

func TestTemporaryPasswordExpires(t *testing.T) {
	s, now := newService(t)
	temp := mustCreateUser(t, s, "bob-1", auth.RoleUser)
	*now = now.Add(auth.TemporaryPasswordTTL + time.Minute)
	_, err := s.Login(context.Background(), "bob-1", temp, "")
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an old temporary password: %v", err)
	}
}

// confirmedUser creates a user who has set goodPassword and returns tokens.
func confirmedUser(t testing.TB, s *auth.Service, name, role string) auth.Tokens {
	t.Helper()
	ctx := context.Background()
	res, err := s.Login(ctx, name, mustCreateUser(t, s, name, role), "")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := s.RespondNewPassword(ctx, res.Challenge.Session, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func TestLoginRevealsNothingAboutUsers(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	confirmedUser(t, s, "carol", auth.RoleUser)
	_, unknown := s.Login(ctx, "nobody", goodPassword, "10.0.0.2")
	_, wrong := s.Login(ctx, "carol", "Wrong-Pass-1", "10.0.0.2")
	if unknown == nil || wrong == nil || unknown.Error() != wrong.Error() || tandem.ErrorCode(unknown) != tandem.EUNAUTHORIZED {
		t.Fatalf("unknown user: %v; wrong password: %v; want the same 401", unknown, wrong)
	}
	// Both are throttled alike past the free attempts.
	for i, name := range []string{"nobody", "carol"} {
		var err error
		for range auth.DefaultFreeAttempts + 1 {
			_, err = s.Login(ctx, name, "Wrong-Pass-1", fmt.Sprintf("10.0.1.%d", i))
		}
		var retry *auth.RetryError
		if tandem.ErrorCode(err) != tandem.ETOOMANY || !errors.As(err, &retry) || retry.After <= 0 {
			t.Fatalf("%s after %d failures: %v, want a throttle", name, auth.DefaultFreeAttempts+1, err)
		}
	}
}

func TestRefreshLogoutDisableReset(t *testing.T) {
	ctx := context.Background()
	s, now := newService(t)
	tokens := confirmedUser(t, s, "dave", auth.RoleAdmin)
	mustCreateUser(t, s, "other", auth.RoleAdmin) // dave is not the last admin

	fresh, err := s.Refresh(ctx, tokens.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken != "" || fresh.AccessToken == "" {
		t.Fatalf("refreshed = %+v, want new ID and access tokens only", fresh)
	}
	if c, err := s.Authenticate(context.Background(), fresh.AccessToken); err != nil || c.Role != auth.RoleAdmin {
		t.Fatalf("refreshed access token: %+v, %v", c, err)
	}
	_, err = s.Refresh(ctx, tokens.AccessToken)
	wantCode(t, "refresh with an access token", err, tandem.EUNAUTHORIZED)
	if _, err := s.Authenticate(context.Background(), tokens.RefreshToken); err == nil {
		t.Fatal("a refresh token was accepted as an API token")
	}

	if err := s.Logout(ctx, tokens.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, tokens.RefreshToken); err != nil {
		t.Fatalf("signing out twice: %v", err)
	}
	_, err = s.Refresh(ctx, tokens.RefreshToken)
	wantCode(t, "refresh after sign-out", err, tandem.EUNAUTHORIZED)
	wantCode(t, "sign out with garbage", s.Logout(ctx, "garbage"), tandem.EUNAUTHORIZED)

	second, err := s.Login(ctx, "dave", goodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, second.Tokens.AccessToken); err != nil {
		t.Fatalf("access token before the user is disabled: %v", err)
	}
	*now = now.Add(2 * time.Second)
	if _, err := s.DisableUser(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, second.Tokens.AccessToken)
	wantCode(t, "access token of a disabled user", err, tandem.EUNAUTHORIZED)
	_, err = s.Refresh(ctx, second.RefreshToken)
	wantCode(t, "refresh of a disabled user", err, tandem.EUNAUTHORIZED)
	if _, err := s.Login(ctx, "dave", goodPassword, ""); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("sign in of a disabled user: %v", err)
	}

	u, temp, err := s.ResetPassword(ctx, "dave")
	if err != nil || u.Status != auth.StatusForceChangePassword {
		t.Fatalf("reset: %+v, %v", u, err)
	}
	_, err = s.Refresh(ctx, second.RefreshToken)
	wantCode(t, "refresh from before a reset", err, tandem.EUNAUTHORIZED)
	_, err = s.Authenticate(ctx, second.Tokens.AccessToken)
	wantCode(t, "access token from before a reset", err, tandem.EUNAUTHORIZED)
	if res, err := s.Login(ctx, "dave", temp, ""); err != nil || res.Challenge == nil {
		t.Fatalf("sign in after reset: %+v, %v", res, err)
	}
	_, _, err = s.ResetPassword(ctx, "nobody")
	wantCode(t, "reset of an unknown user", err, tandem.ENOTFOUND)

	*now = now.Add(auth.DefaultRefreshTTL + time.Hour)
	if err := s.Logout(ctx, second.RefreshToken); err != nil {
		t.Fatalf("signing out with an expired token: %v", err)
	}
}

func TestCreateUserInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	mustCreateUser(t, s, "erin", auth.RoleUser)
	for _, tt := range []struct {
		name string
		n    auth.NewUser
		code string
	}{
		{"short name", auth.NewUser{Username: "abc", Email: "a@example.com"}, tandem.EINVALID},
		{"name with @", auth.NewUser{Username: "a@bcd", Email: "a@example.com"}, tandem.EINVALID},
		{"no email", auth.NewUser{Username: "frank"}, tandem.EINVALID},
		{"email with name", auth.NewUser{Username: "frank", Email: "Frank <f@example.com>"}, tandem.EINVALID},
		{"bad role", auth.NewUser{Username: "frank", Email: "f@example.com", Role: "root"}, tandem.EINVALID},
		{"name taken, other case", auth.NewUser{Username: "ERIN", Email: "other@example.com"}, tandem.ECONFLICT},
		{"email taken, other case", auth.NewUser{Username: "frank", Email: "Erin@Example.com"}, tandem.ECONFLICT},
		{"weak temporary password", auth.NewUser{Username: "frank", Email: "f@example.com", TemporaryPassword: "password"}, tandem.EINVALID},
	} {
		_, _, err := s.CreateUser(ctx, tt.n)
		wantCode(t, tt.name, err, tt.code)
	}
	if _, temp, err := s.CreateUser(ctx, auth.NewUser{Username: "zed-1", Email: "z@example.com", TemporaryPassword: goodPassword}); err != nil || temp != goodPassword {
		t.Fatalf("a chosen temporary password: %q, %v", temp, err)
	}
	if res, err := s.Login(ctx, "zed-1", goodPassword, ""); err != nil || res.Challenge == nil {
		t.Fatalf("sign in with a chosen temporary password: %+v, %v", res, err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Username != "erin" || users[0].Role != auth.RoleUser {
		t.Fatalf("users = %+v, %v", users, err)
	}
	if b, _ := json.Marshal(users[0]); strings.Contains(string(b), "argon2") {
		t.Fatalf("a user's JSON holds the password hash: %s", b)
	}
}

func TestSignUp(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	_, err := s.SignUp(ctx, "gina", "gina@example.com", goodPassword)
	wantCode(t, "sign-up while off", err, tandem.EFORBIDDEN)
	s.AllowSignup = true
	_, err = s.SignUp(ctx, "gina", "gina@example.com", "weak")
	wantCode(t, "sign-up with a weak password", err, tandem.EINVALID)
	u, err := s.SignUp(ctx, "gina", "gina@example.com", goodPassword)
	if err != nil || u.Role != auth.RoleUser || u.Status != auth.StatusConfirmed {
		t.Fatalf("sign-up: %+v, %v", u, err)
	}
	if res, err := s.Login(ctx, "gina", goodPassword, ""); err != nil || res.Tokens == nil {
		t.Fatalf("sign in after sign-up: %+v, %v", res, err)
	}
}

func TestClientCredentials(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	c, secret, err := s.CreateClient(ctx, "todo-app", "api/upsert-delete api/read")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.IssueClientToken(ctx, c.ID, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token = %+v", tok)
	}
	claims, err := s.Authenticate(context.Background(), tok.AccessToken)
	if err != nil || claims.ClientID != c.ID || !claims.HasScope("api/upsert-delete") || claims.Username != "" || claims.Role != "" {
		t.Fatalf("client claims = %+v, %v", claims, err)
	}
	tok, err = s.IssueClientToken(ctx, c.ID, secret, "api/read")
	if claims, _ := s.Authenticate(context.Background(), tok.AccessToken); err != nil || claims.HasScope("api/upsert-delete") {
		t.Fatalf("narrowed scope: %+v, %v", claims, err)
	}
	_, err = s.IssueClientToken(ctx, c.ID, secret, "api/admin")
	wantCode(t, "a scope not granted", err, tandem.EINVALID)
	_, unknown := s.IssueClientToken(ctx, "nobody", secret, "")
	_, wrong := s.IssueClientToken(ctx, c.ID, secret+"x", "")
	if tandem.ErrorCode(unknown) != tandem.EUNAUTHORIZED || unknown.Error() != wrong.Error() {
		t.Fatalf("unknown client: %v; wrong secret: %v; want the same 401", unknown, wrong)
	}
	for _, bad := range []string{"", "a b\x00", strings.Repeat("x", 65), "api/<script>"} {
		_, _, err := s.CreateClient(ctx, "x", bad)
		wantCode(t, "scope "+bad, err, tandem.EINVALID)
	}
	clients, err := s.ListClients(ctx)
	if err != nil || len(clients) != 1 || clients[0].Scope != "api/upsert-delete api/read" {
		t.Fatalf("clients = %+v, %v", clients, err)
	}

	// Deleting the client revokes it: no new token, and the one it holds
	// (verified before) is refused.
	if err := s.DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, tok.AccessToken)
	wantCode(t, "the token of a deleted client", err, tandem.EUNAUTHORIZED)
	_, err = s.IssueClientToken(ctx, c.ID, secret, "")
	wantCode(t, "a token for a deleted client", err, tandem.EUNAUTHORIZED)
	wantCode(t, "deleting it twice", s.DeleteClient(ctx, c.ID), tandem.ENOTFOUND)
}

func TestSigningKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	peerKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	peer := &auth.Issuer{Key: peerKey, Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience}
	confirmedUser(t, s, "hal9", auth.RoleUser)
	hal, err := s.FindUser(ctx, "hal9")
	if err != nil {
		t.Fatal(err)
	}
	c := auth.Claims{TokenUse: auth.TokenUseAccess, Username: "hal9", Role: auth.RoleUser}
	c.Subject = hal.ID
	token, err := peer.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(context.Background(), token); err == nil {
		t.Fatal("a token of an unknown key was accepted")
	}
	j, _ := peerKey.PublicJWK()
	bad := j
	bad.Kid = "chosen-kid"
	wantCode(t, "a kid that is not the thumbprint", s.PublishKey(ctx, "ap-northeast-1", bad), tandem.EINVALID)
	for i := 0; i < 2; i++ {
		if err := s.PublishKey(ctx, "ap-northeast-1", j); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PublishOwnKey(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the reload interval after the miss above
	if _, err := s.Authenticate(context.Background(), token); err != nil {
		t.Fatalf("a published key's token: %v", err)
	}
	set, err := s.JWKS(ctx)
	if err != nil || len(set.Keys) != 2 {
		t.Fatalf("jwks = %+v, %v; want this region's key and the peer's", set, err)
	}
}

func TestRemoteKeySet(t *testing.T) {
	keyA, _ := auth.GenerateKey()
	keyB, _ := auth.GenerateKey()
	var served atomic.Value
	serve := func(keys ...auth.Key) {
		var set auth.JWKS
		for _, k := range keys {
			j, _ := k.PublicJWK()
			set.Keys = append(set.Keys, j)
		}
		b, _ := json.Marshal(set)
		served.Store(b)
	}
	serve(keyA)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(served.Load().([]byte))
	}))
	defer srv.Close()
	rks := &auth.RemoteKeySet{URLs: func() []string { return []string{srv.URL, "http://127.0.0.1:1"} }, MinRefresh: 100 * time.Millisecond}
	if _, ok := rks.Lookup(keyA.ID); !ok {
		t.Fatal("key A not found")
	}
	if _, ok := rks.Lookup(keyB.ID); ok {
		t.Fatal("key B found before it is served")
	}
	if _, ok := rks.Lookup(keyA.ID); !ok || fetches.Load() != 1 {
		t.Fatalf("fetches = %d after lookups within MinRefresh, want 1", fetches.Load())
	}
	serve(keyB)
	time.Sleep(150 * time.Millisecond)
	if _, ok := rks.Lookup(keyB.ID); !ok {
		t.Fatal("key B not found after a refresh")
	}
	if _, ok := rks.Lookup(keyA.ID); !ok {
		t.Fatal("key A forgotten when its region stopped serving it")
	}
}

// FuzzParseJWKS checks that a JWKS read from the network never panics and
// that every key it accepts is a valid P-256 key named by its thumbprint.
func FuzzParseJWKS(f *testing.F) {
	k, _ := auth.GenerateKey()
	j, _ := k.PublicJWK()
	good, _ := json.Marshal(auth.JWKS{Keys: []auth.PublicJWK{j}})
	f.Add(good)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","kid":"a"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, keys, err := auth.ParseJWKS(data)
		if err != nil {
			return
		}
		if len(keys) != len(set.Keys) {
			t.Fatalf("%d keys parsed from %d", len(keys), len(set.Keys))
		}
		for _, j := range set.Keys {
			if j.Kid != j.Thumbprint() || keys[j.Kid] == nil {
				t.Fatalf("accepted key %+v", j)
			}
		}
	})
}

// TestAuthenticateExpiresRemembered: a token verified once is still refused
// once it has expired, and a forged copy of it is refused all along.
func TestAuthenticateExpiresRemembered(t *testing.T) {
	ctx := context.Background()
	s, now := newService(t)
	tokens := confirmedUser(t, s, "fred", auth.RoleUser)
	for range 2 {
		if _, err := s.Authenticate(ctx, tokens.AccessToken); err != nil {
			t.Fatalf("a fresh token: %v", err)
		}
	}
	if _, err := s.Authenticate(ctx, tokens.AccessToken+"x"); err == nil {
		t.Fatal("a tampered copy of a verified token was accepted")
	}
	*now = now.Add(auth.DefaultTokenTTL + auth.DefaultLeeway + time.Second)
	_, err := s.Authenticate(ctx, tokens.AccessToken)
	wantCode(t, "an expired token verified before", err, tandem.EUNAUTHORIZED)
}

// TestSetRole: a role change refuses the tokens that name the old role; a
// refresh gives tokens with the new one.
func TestSetRole(t *testing.T) {
	ctx := context.Background()
	s, now := newService(t)
	tokens := confirmedUser(t, s, "gina", auth.RoleAdmin)
	if c, err := s.Authenticate(ctx, tokens.AccessToken); err != nil || c.Role != auth.RoleAdmin {
		t.Fatalf("before: %+v, %v", c, err)
	}
	*now = now.Add(time.Second)
	_, err := s.SetRole(ctx, "gina", auth.RoleUser)
	wantCode(t, "demoting the last admin", err, tandem.ECONFLICT)
	_, err = s.DisableUser(ctx, "gina")
	wantCode(t, "disabling the last admin", err, tandem.ECONFLICT)
	mustCreateUser(t, s, "ivy-2", auth.RoleAdmin)
	u, err := s.SetRole(ctx, "gina", auth.RoleUser)
	if err != nil || u.Role != auth.RoleUser {
		t.Fatalf("set role: %+v, %v", u, err)
	}
	_, err = s.Authenticate(ctx, tokens.AccessToken)
	wantCode(t, "a token naming the old role", err, tandem.EUNAUTHORIZED)
	fresh, err := s.Refresh(ctx, tokens.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Authenticate(ctx, fresh.AccessToken); err != nil || c.Role != auth.RoleUser {
		t.Fatalf("after a refresh: %+v, %v", c, err)
	}
	for _, bad := range []string{"", "root", "Admin"} {
		_, err := s.SetRole(ctx, "gina", bad)
		wantCode(t, "role "+bad, err, tandem.EINVALID)
	}
	_, err = s.SetRole(ctx, "nobody", auth.RoleAdmin)
	wantCode(t, "an unknown user", err, tandem.ENOTFOUND)
	if u, err := s.FindUser(ctx, "gina"); err != nil || u.Role != auth.RoleUser {
		t.Fatalf("refused changes changed the user: %+v, %v", u, err)
	}
}

// TestResetRefusesTokensOfTheSameSecond: a token issued in the second of a
// reset is refused, before and after the user has chosen a new password.
func TestResetRefusesTokensOfTheSameSecond(t *testing.T) {
	ctx := context.Background()
	s, now := newService(t)
	tokens := confirmedUser(t, s, "hank", auth.RoleUser)
	*now = now.Add(time.Second).Truncate(time.Second) // a fresh second
	stolen, err := s.Refresh(ctx, tokens.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(500 * time.Millisecond) // the same second
	_, temp, err := s.ResetPassword(ctx, "hank")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, stolen.AccessToken)
	wantCode(t, "a token of the reset's second, before the new password", err, tandem.EUNAUTHORIZED)
	*now = now.Add(2 * time.Second)
	res, err := s.Login(ctx, "hank", temp, "")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.RespondNewPassword(ctx, res.Challenge.Session, goodPassword+"2")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, stolen.AccessToken)
	wantCode(t, "a token of the reset's second, after the new password", err, tandem.EUNAUTHORIZED)
	if _, err := s.Authenticate(ctx, fresh.AccessToken); err != nil {
		t.Fatalf("the new password's token: %v", err)
	}
	if _, err := s.Refresh(ctx, fresh.RefreshToken); err != nil {
		t.Fatalf("the new password's refresh token: %v", err)
	}
}
