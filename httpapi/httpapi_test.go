package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/store/sqlite"
)

type fixture struct {
	srv   *httptest.Server
	store *sqlite.Store
	snap  tandem.Snapshot
	// token is the access token of the user jerome, which do sends.
	token string
	// base is the changelog head once jerome is signed in.
	base uint64
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st := sqlite.New(filepath.Join(t.TempDir(), "r.db"))
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	svc := photos.NewService(st)
	if err := svc.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, snap: tandem.Snapshot{Version: 1, AppID: "app-1", State: tandem.StateActive, Writer: "us-east-1", Epoch: 1}}
	identity := newIdentity(t, st, "us-east-1")
	f.token = mustSignIn(t, identity, "jerome", auth.RoleUser).AccessToken
	if p, err := st.Position(ctx); err == nil {
		f.base = p.LSN
	}
	api := &httpapi.Server{
		Identity:   identity,
		Region:     "us-east-1",
		Comments:   svc,
		Snapshot:   func() tandem.Snapshot { return f.snap },
		CheckWrite: func(context.Context) error { return f.snap.CheckWrite("us-east-1") },
		Status:     func(context.Context, bool) tandem.RegionStatus { return tandem.RegionStatus{Region: "us-east-1"} },
		Health:     func(context.Context) tandem.Health { return tandem.Health{OK: true} },
		Secret:     "secret",
		Registry:   prometheus.NewRegistry(),
	}
	f.srv = httptest.NewServer(api)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func (f *fixture) head(t *testing.T) uint64 {
	t.Helper()
	p, err := f.store.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p.LSN - f.base
}

const jsonType = "application/json"

func TestReferenceCommentFlow(t *testing.T) {
	f := newFixture(t)
	if status, body := f.do(t, "GET", "/api/comments/p1", "", ""); status != 200 || body != `{"comments":[]}` {
		t.Fatalf("empty list: %d %s", status, body)
	}
	data := `{"commentId":"abca91a3-b331-4ae8-a9fa-da371a712a7c", "message":"message 23632", "photoId":"p1", "user":"jerome"}`
	for i := 0; i < 2; i++ {
		if status, body := f.do(t, "POST", "/api/comments/p1", jsonType, data); status != 201 {
			t.Fatalf("post #%d: %d %s", i, status, body)
		}
	}
	status, body := f.do(t, "GET", "/api/comments/p1", "", "")
	want := `{"comments":[{"commentId":"abca91a3-b331-4ae8-a9fa-da371a712a7c","user":"jerome","message":"message 23632"}]}`
	if status != 200 || body != want {
		t.Fatalf("list: %d %s, want %s", status, body, want)
	}
	if got := f.head(t); got != 1 {
		t.Fatalf("the same commentId posted twice wrote %d entries", got)
	}
}

func TestState(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{"/api/state/app-1": `{"state":"active"}`, "/api/state/unknown": `{}`} {
		if status, body := f.do(t, "GET", path, "", ""); status != 200 || body != want {
			t.Errorf("%s: %d %s, want %s", path, status, body, want)
		}
	}
	f.snap.State = tandem.StateFenced
	if _, body := f.do(t, "GET", "/api/state/app-1", "", ""); body != `{"state":"fenced"}` {
		t.Errorf("fenced: %s", body)
	}
}

func TestBadCommentsWriteNothing(t *testing.T) {
	f := newFixture(t)
	big := `{"commentId":"c","user":"u","message":"` + strings.Repeat("x", 65<<10) + `"}`
	for _, tc := range []struct {
		name, path, ctype, body string
		status                  int
		contains                string
	}{
		{"malformed json", "/api/comments/p1", jsonType, `{"commentId":`, 400, "not valid JSON"},
		{"not an object", "/api/comments/p1", jsonType, `[1,2]`, 400, ""},
		{"two values", "/api/comments/p1", jsonType, `{"commentId":"c","user":"u","message":"m"}{}`, 400, "more than one"},
		{"empty body", "/api/comments/p1", jsonType, ``, 400, "empty"},
		{"oversized", "/api/comments/p1", jsonType, big, 413, "larger"},
		{"wrong content type", "/api/comments/p1", "application/x-www-form-urlencoded", `{"commentId":"c","user":"u","message":"m"}`, 415, "application/json"},
		{"missing commentId", "/api/comments/p1", jsonType, `{"user":"u","message":"m"}`, 400, "missing field: commentId"},
		{"missing message", "/api/comments/p1", jsonType, `{"commentId":"c","user":"u"}`, 400, "missing field: message"},
		{"blank message", "/api/comments/p1", jsonType, `{"commentId":"c","user":"u","message":"   "}`, 400, "missing field: message"},
		{"wrong type", "/api/comments/p1", jsonType, `{"commentId":1,"user":"u","message":"m"}`, 400, "commentId"},
		{"photo mismatch", "/api/comments/p1", jsonType, `{"commentId":"c","photoId":"p2","user":"u","message":"m"}`, 400, "differs"},
		{"long id", "/api/comments/p1", jsonType, `{"commentId":"` + strings.Repeat("c", 200) + `","user":"u","message":"m"}`, 400, "longer"},
	} {
		status, body := f.do(t, "POST", tc.path, tc.ctype, tc.body)
		if status != tc.status || !strings.Contains(body, tc.contains) || !strings.HasPrefix(body, `{"message":`) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, status, body, tc.status, tc.contains)
		}
	}
	if got := f.head(t); got != 0 {
		t.Fatalf("rejected requests wrote %d changelog entries", got)
	}
}

func TestWritesRefusedWhenFencedOrStandby(t *testing.T) {
	f := newFixture(t)
	post := `{"commentId":"c","user":"u","message":"m"}`
	f.snap.State = tandem.StateFenced
	status, body := f.do(t, "POST", "/api/comments/p1", jsonType, post)
	if want := `{"message":"` + httpapi.FencedCommentMessage + `"}`; status != 503 || body != want {
		t.Fatalf("fenced: %d %s, want 503 %s", status, body, want)
	}
	f.snap.State = tandem.StateActive
	f.snap.Writer = "ap-northeast-1"
	if status, body := f.do(t, "POST", "/api/comments/p1", jsonType, post); status != 503 || !strings.Contains(body, "standby") {
		t.Fatalf("standby: %d %s", status, body)
	}
	if got := f.head(t); got != 0 {
		t.Fatalf("refused writes wrote %d entries", got)
	}
	f.snap.Writer = "us-east-1"
	f.snap.State = tandem.StateFailover
	if status, body := f.do(t, "POST", "/api/comments/p1", jsonType, post); status != 201 {
		t.Fatalf("failover state allows writes: %d %s", status, body)
	}
}

func TestInternalNeedsSecretAndUnknownPaths(t *testing.T) {
	f := newFixture(t)
	if status, _ := f.do(t, "GET", "/internal/v1/status", "", ""); status != 401 {
		t.Fatalf("status without secret: %d", status)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/internal/v1/status", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status with secret: %d", resp.StatusCode)
	}
	if status, body := f.do(t, "GET", "/api/nope", "", ""); status != 404 || !strings.Contains(body, "no such endpoint") {
		t.Fatalf("unknown path: %d %s", status, body)
	}
	if status, _ := f.do(t, "DELETE", "/api/comments/p1", "", ""); status != 405 {
		t.Fatalf("wrong method: %d, want 405", status)
	}
}

func FuzzPostComment(f *testing.F) {
	f.Add(`{"commentId":"c","user":"u","message":"m"}`)
	f.Add(`{"commentId":"c","photoId":"p1","user":"u","message":"m"}`)
	f.Add(`{"commentId":"","user":null}`)
	f.Add(`not json`)
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", fx.srv.URL+"/api/comments/p1", strings.NewReader(body))
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("Authorization", "Bearer "+fx.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 && resp.StatusCode != 409 && (resp.StatusCode < 400 || resp.StatusCode >= 500 || !strings.HasPrefix(string(b), `{"message":`)) {
			t.Fatalf("body %q: %d %s", body, resp.StatusCode, b)
		}
	})
}
