package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/sqlite"
)

const (
	secret      = "cluster-secret-for-tests"
	strongPass  = "Correct-Horse-7"
	formType    = "application/x-www-form-urlencoded"
	writerName  = "us-east-1"
	standbyName = "ap-northeast-1"
)

// newIdentity returns an identity service with a new key over st.
func newIdentity(tb testing.TB, st tandem.Store, region string) *auth.Service {
	tb.Helper()
	key, err := auth.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	id := auth.NewService(st, key, region)
	if err := id.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return id
}

// mustSignIn creates a user in id, answers the new-password challenge with
// strongPass and returns the tokens.
func mustSignIn(tb testing.TB, id *auth.Service, name, role string) auth.Tokens {
	tb.Helper()
	ctx := context.Background()
	_, temp, err := id.CreateUser(ctx, auth.NewUser{Username: name, Email: name + "@example.com", Role: role})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := id.Login(ctx, name, temp, "")
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := id.RespondNewPassword(ctx, res.Challenge.Session, strongPass)
	if err != nil {
		tb.Fatal(err)
	}
	return tokens
}

// region is one region of an in-process cluster: a store, an identity
// service and the HTTP API.
type region struct {
	name     string
	store    *sqlite.Store
	identity *auth.Service
	srv      *httptest.Server
}

// cluster is a writer and a standby that follows it over the replication
// stream, sharing one control snapshot.
type cluster struct {
	mu              sync.Mutex
	snap            tandem.Snapshot
	writer, standby *region
	follower        *replication.Follower
	stopFollow      func()
}

func (c *cluster) snapshot() tandem.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{snap: tandem.Snapshot{Version: 1, AppID: "app-1", State: tandem.StateActive, Writer: writerName, Epoch: 1}}
	c.writer = c.newRegion(t, writerName, true)
	c.standby = c.newRegion(t, standbyName, false)
	c.snap.Regions = []tandem.RegionInfo{{Name: writerName, URL: c.writer.srv.URL}, {Name: standbyName, URL: c.standby.srv.URL}}
	c.follower = &replication.Follower{
		Store: c.standby.store, Region: standbyName, Secret: secret, HeartbeatInterval: 50 * time.Millisecond,
		Source: func() (string, bool) {
			snap := c.snapshot()
			if snap.Writer == standbyName {
				return "", false
			}
			w, ok := snap.WriterInfo()
			return w.URL, ok
		},
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.follower.Run(runCtx); close(done) }()
	var once sync.Once
	c.stopFollow = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(c.stopFollow)

	// What a writer's key publisher does: record its own key and its peer's.
	ctx := context.Background()
	if err := c.writer.identity.PublishOwnKey(ctx); err != nil {
		t.Fatal(err)
	}
	j, _ := c.standby.identity.PublicJWK()
	if err := c.writer.identity.PublishKey(ctx, standbyName, j); err != nil {
		t.Fatal(err)
	}
	c.waitReplicated(t)
	return c
}

func (c *cluster) newRegion(t *testing.T, name string, writer bool) *region {
	t.Helper()
	ctx := context.Background()
	st := sqlite.New(filepath.Join(t.TempDir(), name+".db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SetRole(ctx, tandem.Role{Writer: writer, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	comments := photos.NewService(st)
	if err := comments.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := &region{name: name, store: st, identity: newIdentity(t, st, name)}
	api := &httpapi.Server{
		Region:     name,
		Comments:   comments,
		Identity:   r.identity,
		Snapshot:   c.snapshot,
		CheckWrite: func(context.Context) error { return c.snapshot().CheckWrite(name) },
		Status:     func(context.Context, bool) tandem.RegionStatus { return tandem.RegionStatus{Region: name} },
		Health:     func(context.Context) tandem.Health { return tandem.Health{OK: true} },
		Stream:     &replication.Server{Store: st, Secret: secret, HeartbeatInterval: 50 * time.Millisecond},
		Secret:     secret,
	}
	r.srv = httptest.NewServer(api)
	t.Cleanup(func() {
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

// waitReplicated waits until the standby has applied the writer's head.
func (c *cluster) waitReplicated(t *testing.T) {
	t.Helper()
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		w, _ := c.writer.store.Position(context.Background())
		s, _ := c.standby.store.Position(context.Background())
		if s.LSN != w.LSN {
			return fmt.Errorf("standby at %d, writer at %d", s.LSN, w.LSN)
		}
		return nil
	})
}

// failover makes the standby the writer of epoch 2, as if the writer died:
// its server is closed and the standby stops following.
func (c *cluster) failover(t *testing.T) {
	t.Helper()
	c.writer.srv.CloseClientConnections()
	c.writer.srv.Close()
	c.stopFollow()
	c.mu.Lock()
	c.snap.Writer, c.snap.Epoch, c.snap.Version = standbyName, 2, c.snap.Version+1
	c.mu.Unlock()
	if err := c.standby.store.SetRole(context.Background(), tandem.Role{Writer: true, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
}

// reply is an HTTP response, read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

// decode unmarshals the body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// send makes a request with the given headers (name, value pairs).
func send(t *testing.T, method, url, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, strings.TrimSpace(string(b))}
}

func postJSON(t *testing.T, url string, v any, headers ...string) reply {
	t.Helper()
	b, _ := json.Marshal(v)
	return send(t, "POST", url, string(b), append([]string{"Content-Type", jsonType}, headers...)...)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// createUser creates a user through the admin API with the cluster secret
// and returns the temporary password.
func createUser(t *testing.T, base, name, role string) string {
	t.Helper()
	r := postJSON(t, base+"/api/admin/users", auth.NewUser{Username: name, Email: name + "@example.com", Role: role}, bearer(secret)...)
	if r.status != 201 {
		t.Fatalf("create user %s: %d %s", name, r.status, r.body)
	}
	var u httpapi.UserResponse
	r.decode(t, &u)
	if u.User.Username != name || u.User.Status != auth.StatusForceChangePassword || u.TemporaryPassword == "" {
		t.Fatalf("created user = %+v", u)
	}
	return u.TemporaryPassword
}

// login signs in over HTTP and returns the result.
func login(t *testing.T, base, name, password string) (reply, auth.LoginResult) {
	t.Helper()
	r := postJSON(t, base+"/api/auth/login", httpapi.LoginRequest{Username: name, Password: password})
	var res auth.LoginResult
	if r.status == 200 {
		r.decode(t, &res)
	}
	return r, res
}

// signIn creates a user at the writer and signs in through the new-password
// challenge, over HTTP.
func signIn(t *testing.T, base, name, role string) auth.Tokens {
	t.Helper()
	r, res := login(t, base, name, createUser(t, base, name, role))
	if r.status != 200 || res.Challenge == nil {
		t.Fatalf("first sign-in: %d %s", r.status, r.body)
	}
	r = postJSON(t, base+"/api/auth/respond", httpapi.RespondRequest{ChallengeName: res.Challenge.Name, Session: res.Challenge.Session, NewPassword: strongPass})
	if r.status != 200 {
		t.Fatalf("respond: %d %s", r.status, r.body)
	}
	var tokens auth.Tokens
	r.decode(t, &tokens)
	return tokens
}

func postComment(t *testing.T, base, id string, headers ...string) reply {
	t.Helper()
	return postJSON(t, base+"/api/comments/p1", map[string]string{"commentId": id, "user": "mallory", "message": "hello " + id}, headers...)
}

func TestTemporaryPasswordFlowHTTP(t *testing.T) {
	c := newCluster(t)
	base := c.writer.srv.URL
	temp := createUser(t, base, "ana-1", auth.RoleUser)

	r, res := login(t, base, "ana-1", temp)
	if r.status != 200 || res.Tokens != nil || res.Challenge == nil || res.Challenge.Name != "NEW_PASSWORD_REQUIRED" {
		t.Fatalf("first sign-in: %d %s, want a NEW_PASSWORD_REQUIRED challenge", r.status, r.body)
	}
	if strings.Contains(r.body, "accessToken") {
		t.Fatalf("a challenge came with tokens: %s", r.body)
	}
	respond := func(pw string) reply {
		return postJSON(t, base+"/api/auth/respond", httpapi.RespondRequest{ChallengeName: res.Challenge.Name, Session: res.Challenge.Session, NewPassword: pw})
	}
	r = respond("password")
	if want := `{"message":"password must have an uppercase letter, a digit and a symbol"}`; r.status != 400 || r.body != want {
		t.Fatalf("weak password: %d %s, want 400 %s", r.status, r.body, want)
	}
	r = respond(strongPass)
	if r.status != 200 {
		t.Fatalf("respond: %d %s", r.status, r.body)
	}
	var tokens auth.Tokens
	r.decode(t, &tokens)
	if tokens.AccessToken == "" || tokens.IDToken == "" || tokens.RefreshToken == "" || tokens.TokenType != "Bearer" || tokens.ExpiresIn != 3600 {
		t.Fatalf("tokens = %s", r.body)
	}
	if r := respond(strongPass); r.status != 401 {
		t.Fatalf("answering the challenge twice: %d %s", r.status, r.body)
	}
	if r, _ := login(t, base, "ana-1", temp); r.status != 401 {
		t.Fatalf("the temporary password after the change: %d %s", r.status, r.body)
	}

	// The comment's author is the token's user, whatever the body says; the
	// reference ID token works as well as the access token, bare or Bearer.
	if r := postComment(t, base, "c1", bearer(tokens.AccessToken)...); r.status != 201 || !strings.Contains(r.body, `"user":"ana-1"`) {
		t.Fatalf("post with the access token: %d %s", r.status, r.body)
	}
	if r := postComment(t, base, "c2", "Authorization", tokens.IDToken); r.status != 201 {
		t.Fatalf("post with a bare ID token: %d %s", r.status, r.body)
	}
	r = send(t, "GET", base+"/api/comments/p1", "")
	if want := `{"comments":[{"commentId":"c1","user":"ana-1","message":"hello c1"},{"commentId":"c2","user":"ana-1","message":"hello c2"}]}`; r.body != want {
		t.Fatalf("comments = %s, want %s", r.body, want)
	}
	r = send(t, "GET", base+"/api/auth/me", "", bearer(tokens.AccessToken)...)
	if r.status != 200 || !strings.Contains(r.body, `"username":"ana-1"`) || !strings.Contains(r.body, `"role":"user"`) {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
}

func TestUserCreatedAtWriterSignsInAtStandby(t *testing.T) {
	c := newCluster(t)
	w, s := c.writer.srv.URL, c.standby.srv.URL
	temp := createUser(t, w, "bob-1", auth.RoleUser)
	c.waitReplicated(t)

	// The standby signs in (reads only) but cannot save a new password.
	r, res := login(t, s, "bob-1", temp)
	if r.status != 200 || res.Challenge == nil {
		t.Fatalf("sign-in at the standby: %d %s", r.status, r.body)
	}
	respond := httpapi.RespondRequest{Session: res.Challenge.Session, NewPassword: strongPass}
	if r := postJSON(t, s+"/api/auth/respond", respond); r.status != 503 {
		t.Fatalf("respond at the standby: %d %s, want 503", r.status, r.body)
	}
	// The standby's session is good at the writer, which knows its key.
	if r := postJSON(t, w+"/api/auth/respond", respond); r.status != 200 {
		t.Fatalf("respond at the writer with the standby's session: %d %s", r.status, r.body)
	}
	c.waitReplicated(t)
	r, res = login(t, s, "bob-1", strongPass)
	if r.status != 200 || res.Tokens == nil {
		t.Fatalf("sign-in at the standby with the new password: %d %s", r.status, r.body)
	}
	// A token from the standby is good at the writer, and one from the
	// writer at the standby.
	if r := postComment(t, w, "c1", bearer(res.Tokens.AccessToken)...); r.status != 201 {
		t.Fatalf("the standby's token at the writer: %d %s", r.status, r.body)
	}
	_, fromWriter := login(t, w, "bob-1", strongPass)
	if r := send(t, "GET", s+"/api/auth/me", "", bearer(fromWriter.Tokens.AccessToken)...); r.status != 200 {
		t.Fatalf("the writer's token at the standby: %d %s", r.status, r.body)
	}
	if r := postComment(t, s, "c2", bearer(fromWriter.Tokens.AccessToken)...); r.status != 503 || !strings.Contains(r.body, "standby") {
		t.Fatalf("a comment at the standby with a good token: %d %s, want 503", r.status, r.body)
	}
	// Every region lists every region's key.
	for _, base := range []string{w, s} {
		var set auth.JWKS
		r := send(t, "GET", base+auth.JWKSPath, "")
		r.decode(t, &set)
		if r.status != 200 || len(set.Keys) != 2 {
			t.Fatalf("jwks at %s: %d %s, want both regions' keys", base, r.status, r.body)
		}
	}
}

func TestRevokedRefreshTokenRefusedInBothRegions(t *testing.T) {
	c := newCluster(t)
	w, s := c.writer.srv.URL, c.standby.srv.URL
	tokens := signIn(t, w, "carol", auth.RoleUser)
	c.waitReplicated(t)
	refresh := func(base string) reply {
		return postJSON(t, base+"/api/auth/refresh", httpapi.RefreshRequest{RefreshToken: tokens.RefreshToken})
	}
	for _, base := range []string{w, s} {
		r := refresh(base)
		var fresh auth.Tokens
		r.decode(t, &fresh)
		if r.status != 200 || fresh.AccessToken == "" || fresh.RefreshToken != "" {
			t.Fatalf("refresh at %s: %d %s", base, r.status, r.body)
		}
	}
	logout := httpapi.RefreshRequest{RefreshToken: tokens.RefreshToken}
	if r := postJSON(t, s+"/api/auth/logout", logout); r.status != 503 {
		t.Fatalf("sign-out at the standby: %d %s, want 503 (it writes)", r.status, r.body)
	}
	if r := postJSON(t, w+"/api/auth/logout", logout); r.status != 204 {
		t.Fatalf("sign-out: %d %s", r.status, r.body)
	}
	c.waitReplicated(t)
	for _, base := range []string{w, s} {
		if r := refresh(base); r.status != 401 || !strings.Contains(r.body, "sign in again") {
			t.Fatalf("refresh with a revoked token at %s: %d %s", base, r.status, r.body)
		}
	}
}

func TestFailoverKeepsSessions(t *testing.T) {
	c := newCluster(t)
	tokens := signIn(t, c.writer.srv.URL, "dave", auth.RoleUser)
	c.waitReplicated(t)
	c.failover(t)
	s := c.standby.srv.URL

	// No new sign-in: the old writer's tokens work at the new writer.
	if r := postComment(t, s, "after-failover", bearer(tokens.AccessToken)...); r.status != 201 {
		t.Fatalf("the old writer's access token at the new writer: %d %s", r.status, r.body)
	}
	r := postJSON(t, s+"/api/auth/refresh", httpapi.RefreshRequest{RefreshToken: tokens.RefreshToken})
	if r.status != 200 {
		t.Fatalf("the old writer's refresh token at the new writer: %d %s", r.status, r.body)
	}
	if r := postJSON(t, s+"/api/auth/logout", httpapi.RefreshRequest{RefreshToken: tokens.RefreshToken}); r.status != 204 {
		t.Fatalf("sign-out at the new writer: %d %s", r.status, r.body)
	}
	if r := postJSON(t, s+"/api/auth/refresh", httpapi.RefreshRequest{RefreshToken: tokens.RefreshToken}); r.status != 401 {
		t.Fatalf("refresh after sign-out at the new writer: %d %s", r.status, r.body)
	}
}

// TestClientCredentialsReferenceCurl follows the reference ToDo API's curl:
//
//	curl -X POST $BASE/oauth2/token -H "Content-Type: application/x-www-form-urlencoded" \
//	  -u id:secret -d "grant_type=client_credentials"
func TestClientCredentialsReferenceCurl(t *testing.T) {
	c := newCluster(t)
	w, s := c.writer.srv.URL, c.standby.srv.URL
	r := postJSON(t, w+"/api/admin/clients", httpapi.NewClientRequest{Name: "todo", Scope: "api/upsert-delete"}, bearer(secret)...)
	if r.status != 201 {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	var created httpapi.ClientResponse
	r.decode(t, &created)
	id, sec := created.Client.ID, created.ClientSecret
	c.waitReplicated(t)

	basic := func(id, sec string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec))
	}
	tokenAt := func(base, body string, headers ...string) reply {
		return send(t, "POST", base+"/api/oauth2/token", body, headers...)
	}
	for _, base := range []string{w, s} {
		r := tokenAt(base, "grant_type=client_credentials", "Content-Type", formType, "Authorization", basic(id, sec))
		var got map[string]any
		r.decode(t, &got)
		if r.status != 200 || len(got) != 3 || got["token_type"] != "Bearer" || got["expires_in"] != 3600.0 || got["access_token"] == "" {
			t.Fatalf("token at %s: %d %s", base, r.status, r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q", cc)
		}
		claims, err := c.writer.identity.Authenticate(context.Background(), got["access_token"].(string))
		if err != nil || !claims.HasScope("api/upsert-delete") || claims.ClientID != id {
			t.Fatalf("client token claims %+v, %v", claims, err)
		}
		// A client is no user: it cannot comment.
		if r := postComment(t, w, "by-client", bearer(got["access_token"].(string))...); r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Fatalf("a client's comment: %d %s", r.status, r.body)
		}
	}
	for _, tt := range []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"wrong secret", "grant_type=client_credentials", []string{"Content-Type", formType, "Authorization", basic(id, sec+"x")}, 401, "invalid_client"},
		{"unknown client", "grant_type=client_credentials", []string{"Content-Type", formType, "Authorization", basic("nobody", sec)}, 401, "invalid_client"},
		{"no client auth", "grant_type=client_credentials", []string{"Content-Type", formType}, 401, "invalid_client"},
		{"bearer instead of basic", "grant_type=client_credentials", []string{"Content-Type", formType, "Authorization", "Bearer " + sec}, 401, "invalid_client"},
		{"other grant", "grant_type=password&username=a&password=b", []string{"Content-Type", formType, "Authorization", basic(id, sec)}, 400, "unsupported_grant_type"},
		{"no grant", "", []string{"Content-Type", formType, "Authorization", basic(id, sec)}, 400, "invalid_request"},
		{"grant twice", "grant_type=client_credentials&grant_type=client_credentials", []string{"Content-Type", formType, "Authorization", basic(id, sec)}, 400, "invalid_request"},
		{"json body", `{"grant_type":"client_credentials"}`, []string{"Content-Type", jsonType, "Authorization", basic(id, sec)}, 400, "invalid_request"},
		{"scope not granted", "grant_type=client_credentials&scope=api/admin", []string{"Content-Type", formType, "Authorization", basic(id, sec)}, 400, "invalid_scope"},
		{"bad form", "grant_type=%zz", []string{"Content-Type", formType, "Authorization", basic(id, sec)}, 400, "invalid_request"},
	} {
		r := tokenAt(w, tt.body, tt.headers...)
		var got map[string]string
		json.Unmarshal([]byte(r.body), &got)
		if r.status != tt.status || got["error"] != tt.code || got["message"] == "" {
			t.Errorf("%s: %d %s, want %d %s", tt.name, r.status, r.body, tt.status, tt.code)
		}
		if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: WWW-Authenticate %q", tt.name, r.header.Get("WWW-Authenticate"))
		}
	}
	if r := send(t, "GET", w+"/api/admin/clients", "", bearer(secret)...); r.status != 200 || strings.Contains(r.body, sec) || !strings.Contains(r.body, id) {
		t.Fatalf("list clients: %d %s", r.status, r.body)
	}

	// Deleting the client needs an admin, and revokes its tokens in both
	// regions once replicated.
	r = tokenAt(w, "grant_type=client_credentials", "Content-Type", formType, "Authorization", basic(id, sec))
	var held map[string]any
	r.decode(t, &held)
	token := held["access_token"].(string)
	if r := send(t, "GET", s+"/api/auth/me", "", bearer(token)...); r.status != 200 {
		t.Fatalf("the client's token before: %d %s", r.status, r.body)
	}
	if r := send(t, "DELETE", w+"/api/admin/clients/"+id, "", bearer(token)...); r.status != 403 {
		t.Fatalf("a client deleting itself: %d %s", r.status, r.body)
	}
	if r := send(t, "DELETE", w+"/api/admin/clients/"+id, "", bearer(secret)...); r.status != 204 {
		t.Fatalf("delete the client: %d %s", r.status, r.body)
	}
	if r := send(t, "DELETE", w+"/api/admin/clients/"+id, "", bearer(secret)...); r.status != 404 {
		t.Fatalf("delete it again: %d %s", r.status, r.body)
	}
	c.waitReplicated(t)
	for _, base := range []string{w, s} {
		if r := send(t, "GET", base+"/api/auth/me", "", bearer(token)...); r.status != 401 {
			t.Fatalf("the deleted client's token at %s: %d %s", base, r.status, r.body)
		}
	}
}

// craft signs a token by hand, for headers and claims Issue never makes.
func craft(t *testing.T, header, claims map[string]any, sign func(string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign(input)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestBadTokensAtCommentEndpoint(t *testing.T) {
	c := newCluster(t)
	base := c.writer.srv.URL
	tokens := signIn(t, base, "erin", auth.RoleUser)
	erin, err := c.writer.identity.FindUser(context.Background(), "erin")
	if err != nil {
		t.Fatal(err)
	}
	key := c.writer.identity.Key
	subject := erin.ID
	issue := func(iss *auth.Issuer, use string) string {
		cl := auth.Claims{TokenUse: use, Username: "erin", Role: auth.RoleUser}
		cl.Subject = subject
		s, err := iss.Issue(cl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := auth.Issuer{Key: key, Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience}
	expired := good
	expired.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	future := good
	future.Now = func() time.Time { return time.Now().Add(time.Hour) }
	otherAud := good
	otherAud.Audience = "other-service"
	otherIss := good
	otherIss.Issuer = "https://evil.example"
	strangerKey, _ := auth.GenerateKey()
	stranger := good
	stranger.Key = strangerKey
	claims := map[string]any{"iss": auth.DefaultIssuer, "aud": auth.DefaultAudience, "sub": erin.ID, "username": "erin", "token_use": "access",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	pub, _ := key.Private.PublicKey.Bytes()
	hs256 := func(input string) []byte {
		sig, _ := jwt.SigningMethodHS256.Sign(input, pub)
		return sig
	}
	subject = "no-such-user"
	unknownUser := issue(&good, auth.TokenUseAccess)
	subject = erin.ID
	valid := issue(&good, auth.TokenUseAccess)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	for _, tt := range []struct {
		name, header string
	}{
		{"no header", ""},
		{"blank", "   "},
		{"basic", "Basic ZXJpbjpwdw=="},
		{"two tokens", "Bearer " + valid + " " + valid},
		{"bearer alone", "Bearer"},
		{"not a jwt", "Bearer not-a-token"},
		{"expired", "Bearer " + issue(&expired, auth.TokenUseAccess)},
		{"not yet valid", "Bearer " + issue(&future, auth.TokenUseAccess)},
		{"wrong audience", "Bearer " + issue(&otherAud, auth.TokenUseAccess)},
		{"wrong issuer", "Bearer " + issue(&otherIss, auth.TokenUseAccess)},
		{"unknown key", "Bearer " + issue(&stranger, auth.TokenUseAccess)},
		{"alg none", "Bearer " + craft(t, map[string]any{"alg": "none", "kid": key.ID}, claims, nil)},
		{"HS256 with the public key", "Bearer " + craft(t, map[string]any{"alg": "HS256", "kid": key.ID}, claims, hs256)},
		{"tampered signature", "Bearer " + tampered},
		{"refresh token", "Bearer " + tokens.RefreshToken},
		{"challenge session", "Bearer " + issue(&good, auth.TokenUseChallenge)},
		{"well signed, unknown user", "Bearer " + unknownUser},
	} {
		r := postComment(t, base, "c-"+tt.name, "Authorization", tt.header)
		challenge := r.header.Get("WWW-Authenticate")
		if r.status != 401 || !strings.HasPrefix(challenge, `Bearer realm="tandem"`) || !strings.HasPrefix(r.body, `{"message":`) {
			t.Errorf("%s: %d %q %s, want 401 with a Bearer challenge", tt.name, r.status, challenge, r.body)
		}
		if tt.header != "" && strings.TrimSpace(tt.header) != "" && !strings.Contains(challenge, `error="invalid_token"`) {
			t.Errorf("%s: challenge %q has no invalid_token", tt.name, challenge)
		}
	}
	r := postComment(t, base, "c-expired", "Authorization", "Bearer "+issue(&expired, auth.TokenUseAccess))
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error_description="token has expired"`) {
		t.Errorf("expired: challenge %q", r.header.Get("WWW-Authenticate"))
	}
	if p, _ := c.writer.store.Position(context.Background()); true {
		before := p.LSN
		if r := postComment(t, base, "ok", "Authorization", "bearer "+valid); r.status != 201 {
			t.Fatalf("a valid token, lowercase scheme: %d %s", r.status, r.body)
		}
		if p, _ := c.writer.store.Position(context.Background()); p.LSN != before+1 {
			t.Fatalf("refused requests wrote: head %d, want %d", p.LSN, before+1)
		}
	}
	// Reads stay public.
	if r := send(t, "GET", base+"/api/comments/p1", ""); r.status != 200 {
		t.Fatalf("public read: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", base+"/api/state/app-1", ""); r.status != 200 {
		t.Fatalf("public state: %d %s", r.status, r.body)
	}
}

func TestAdminEndpointsNeedTheAdminRole(t *testing.T) {
	c := newCluster(t)
	base := c.writer.srv.URL
	user := signIn(t, base, "frank", auth.RoleUser)
	admin := signIn(t, base, "grace", auth.RoleAdmin)
	list := base + "/api/admin/users"
	if r := send(t, "GET", list, ""); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", list, "", bearer(user.AccessToken)...); r.status != 403 || !strings.Contains(r.body, "admin") {
		t.Fatalf("a user's token: %d %s", r.status, r.body)
	}
	if r := postJSON(t, list, auth.NewUser{Username: "henry", Email: "h@example.com"}, bearer(user.AccessToken)...); r.status != 403 {
		t.Fatalf("a user creating a user: %d %s", r.status, r.body)
	}
	r := send(t, "GET", list, "", bearer(admin.AccessToken)...)
	if r.status != 200 || !strings.Contains(r.body, `"username":"frank"`) || strings.Contains(r.body, "argon2") {
		t.Fatalf("an admin's list: %d %s", r.status, r.body)
	}
	if r := send(t, "POST", base+"/api/admin/users/frank/disable", "", bearer(admin.AccessToken)...); r.status != 200 || !strings.Contains(r.body, "DISABLED") {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := postJSON(t, base+"/api/auth/refresh", httpapi.RefreshRequest{RefreshToken: user.RefreshToken}); r.status != 401 {
		t.Fatalf("a disabled user's refresh: %d %s", r.status, r.body)
	}
	r = send(t, "POST", base+"/api/admin/users/frank/reset", "", "Authorization", secret)
	var reset httpapi.UserResponse
	r.decode(t, &reset)
	if r.status != 200 || reset.TemporaryPassword == "" || reset.User.Status != auth.StatusForceChangePassword {
		t.Fatalf("reset with the bare cluster secret: %d %s", r.status, r.body)
	}
	if r := send(t, "POST", base+"/api/admin/users/nobody/reset", "", bearer(secret)...); r.status != 404 {
		t.Fatalf("reset of an unknown user (admins may know): %d %s", r.status, r.body)
	}

	// Roles: only an admin sets them, only to user or admin; a demoted
	// admin's token stops opening the admin endpoints at once.
	other := signIn(t, base, "heidi", auth.RoleAdmin)
	role := base + "/api/admin/users/heidi/role"
	if r := postJSON(t, role, httpapi.RoleRequest{Role: auth.RoleUser}, bearer(user.AccessToken)...); r.status != 401 && r.status != 403 {
		t.Fatalf("a user setting a role: %d %s", r.status, r.body)
	}
	for _, bad := range []string{`{"role":"root"}`, `{}`, `{"role":`, `{"role":["admin"]}`} {
		if r := send(t, "POST", role, bad, append(bearer(admin.AccessToken), "Content-Type", jsonType)...); r.status != 400 {
			t.Fatalf("role body %s: %d %s", bad, r.status, r.body)
		}
	}
	if r := send(t, "GET", list, "", bearer(other.AccessToken)...); r.status != 200 {
		t.Fatalf("heidi, an admin: %d %s", r.status, r.body)
	}
	if r := postJSON(t, role, httpapi.RoleRequest{Role: auth.RoleUser}, bearer(admin.AccessToken)...); r.status != 200 || !strings.Contains(r.body, `"role":"user"`) {
		t.Fatalf("demote heidi: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", list, "", bearer(other.AccessToken)...); r.status != 401 {
		t.Fatalf("heidi's admin token after the demotion: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", base+httpapi.SigningKeyPath, ""); r.status != 401 {
		t.Fatalf("the internal key endpoint without the secret: %d", r.status)
	}
}

func TestSignInRevealsNoUsernames(t *testing.T) {
	c := newCluster(t)
	base := c.writer.srv.URL
	signIn(t, base, "ivan", auth.RoleUser)
	unknown, _ := login(t, base, "nobody", "Wrong-Pass-1")
	wrong, _ := login(t, base, "ivan", "Wrong-Pass-1")
	if unknown.status != 401 || unknown.status != wrong.status || unknown.body != wrong.body {
		t.Fatalf("unknown user %d %s; wrong password %d %s; want the same 401", unknown.status, unknown.body, wrong.status, wrong.body)
	}
	var last [2]reply
	for i, name := range []string{"nobody", "ivan"} {
		for range auth.DefaultFreeAttempts {
			last[i], _ = login(t, base, name, "Wrong-Pass-1")
		}
	}
	if last[0].status != 429 || last[1].status != 429 || last[0].header.Get("Retry-After") == "" ||
		strings.ReplaceAll(last[0].body, "nobody", "ivan") != last[1].body {
		t.Fatalf("throttled: unknown %d %s; known %d %s", last[0].status, last[0].body, last[1].status, last[1].body)
	}
	if r := postJSON(t, base+"/api/auth/signup", httpapi.SignUpRequest{Username: "judy", Email: "j@example.com", Password: strongPass}); r.status != 403 {
		t.Fatalf("sign-up while off: %d %s", r.status, r.body)
	}
}

// FuzzClientToken checks that the token endpoint answers any request with
// 200 or an OAuth error, never a server error.
func FuzzClientToken(f *testing.F) {
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("id:secret")), formType, "grant_type=client_credentials")
	f.Add("Basic !!!", formType, "grant_type=client_credentials&scope=api/upsert-delete")
	f.Add("", jsonType, `{"grant_type":"client_credentials"}`)
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("%zz:%")), formType+"; charset=utf-8", "grant_type=client_credentials&grant_type=x")
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, authz, ctype, body string) {
		req, err := http.NewRequest("POST", fx.srv.URL+"/api/oauth2/token", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", authz)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // a header value net/http refuses to send
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got map[string]any
		if json.Unmarshal(b, &got) != nil || (resp.StatusCode != 400 && resp.StatusCode != 401) || got["error"] == nil {
			t.Fatalf("%q %q %q: %d %s", authz, ctype, body, resp.StatusCode, b)
		}
	})
}

// FuzzCommentAuthorization checks that no Authorization header but the
// fixture's own token gets a comment stored.
func FuzzCommentAuthorization(f *testing.F) {
	fx := newFixture(f)
	f.Add("Bearer " + fx.token)
	f.Add(fx.token)
	f.Add("Bearer " + fx.token + "x")
	f.Add("Basic " + fx.token)
	f.Add("Bearer eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, authz string) {
		req, err := http.NewRequest("POST", fx.srv.URL+"/api/comments/p1", strings.NewReader(`{"commentId":"c","message":"m"}`))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("Authorization", authz)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		resp.Body.Close()
		token, ok := auth.ParseAuthorization(authz)
		switch {
		case resp.StatusCode == 201 && !(ok && token == fx.token):
			t.Fatalf("Authorization %q stored a comment", authz)
		case resp.StatusCode != 201 && resp.StatusCode != 401:
			t.Fatalf("Authorization %q: %d", authz, resp.StatusCode)
		}
	})
}
