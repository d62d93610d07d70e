package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestUp drives `tandem up` as a user would: signing in as the admin it
// created, the reference curl flow through the edge, reads from the standby,
// users and OAuth clients from the CLI, fencing, a standby killed and
// restarted, a writer killed with reads failing over, and a restart of
// everything, after which the same token still works.
func TestUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	up := startUp(t, dir, base, "--auto-failover=false") // the killed writer is restarted, not failed over
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	writer := fmt.Sprintf("http://127.0.0.1:%d", base+1)
	standby := fmt.Sprintf("http://127.0.0.1:%d", base+2)
	appID := strings.TrimSpace(readFile(t, filepath.Join(dir, "app-id")))

	// The reference state calls, through the edge: public.
	if r := call(t, "GET", edge+"/api/state/"+appID, ""); r.status != 200 || r.body != `{"state":"active"}` {
		t.Fatalf("state: %+v", r)
	}
	if r := call(t, "GET", edge+"/api/state/not-an-app", ""); r.body != `{}` {
		t.Fatalf("unknown app state: %+v", r)
	}

	// up created an admin, showed its temporary password once and kept it
	// in the data directory for its owner only. Comments need a token: sign
	// in as the admin, through the forced password change.
	credsPath := filepath.Join(dir, adminCredentialsFile)
	if fi, err := os.Stat(credsPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin credentials: %v, %v", fi, err)
	}
	creds, err := readAdminCredentials(credsPath)
	if err != nil || !strings.Contains(up.out.String(), "temporary password "+creds.Password) {
		t.Fatalf("admin credentials %+v (%v) not shown by up", creds, err)
	}
	if r := call(t, "POST", edge+"/api/comments/photo-1", commentJSON("no-token")); r.status != 401 {
		t.Fatalf("a comment without a token: %+v", r)
	}
	token := signInThroughChallenge(t, edge, creds, "Up-Test-Pass-1")
	if r := postCommentAs(t, edge, token, "c1"); r.status != 201 || r.region != "us-east-1" || !strings.Contains(r.body, `"user":"admin"`) {
		t.Fatalf("post comment: %+v", r)
	}
	waitComments(t, edge, 1)
	waitComments(t, standby, 1)
	// The standby accepts the writer's token (its key replicated), and
	// still refuses the write.
	retry.Until(t, 50*time.Millisecond, 10*time.Second, func() error {
		if r := callWith(t, "GET", standby+"/api/auth/me", "", "Authorization", "Bearer "+token); r.status != 200 {
			return fmt.Errorf("the writer's token at the standby: %+v", r)
		}
		return nil
	})
	if r := postCommentAs(t, standby, token, "c-standby"); r.status != 503 || !strings.Contains(r.body, "standby") {
		t.Fatalf("a write at the standby: %+v", r)
	}
	testUsersAndClients(t, dir, edge, standby)

	// Fenced: writes refused, nothing stored.
	if out := cli(t, "state", "set", "fenced", "--dir", dir); !strings.Contains(out, "fenced") {
		t.Fatalf("state set: %s", out)
	}
	retry.Until(t, 20*time.Millisecond, 10*time.Second, func() error {
		if r := call(t, "GET", writer+"/api/state/"+appID, ""); r.body != `{"state":"fenced"}` {
			return fmt.Errorf("writer's state: %s", r.body)
		}
		return nil
	})
	r := postCommentAs(t, edge, token, "c-fenced")
	if want := `{"message":"` + httpapi.FencedCommentMessage + `"}`; r.status != 503 || r.body != want {
		t.Fatalf("post while fenced: %+v, want 503 %s", r, want)
	}
	if out, err := execOutput(binary, "state", "set", "sleeping", "--dir", dir); err == nil || !strings.Contains(out, "valid states are active, fenced, failover") {
		t.Fatalf("invalid state: %v %s", err, out)
	}
	// The controller takes an admin's token as well as the cluster secret.
	if r := callWith(t, "PUT", edge+"/control/v1/state", `{"state":"active"}`, "Authorization", "Bearer "+token); r.status != 200 {
		t.Fatalf("unfence with the admin's token: %+v", r)
	}
	retry.Until(t, 20*time.Millisecond, 10*time.Second, func() error {
		r := postCommentAs(t, edge, token, "c2")
		if r.status != 201 {
			return fmt.Errorf("post after unfencing: %+v", r)
		}
		return nil
	})
	waitComments(t, edge, 2) // c-fenced was never stored

	// kill -9 the standby; writes go on; up restarts it and it catches up.
	killed := readPID(t, dir, "ap-northeast-1")
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if r := postCommentAs(t, edge, token, fmt.Sprintf("k%02d", i)); r.status != 201 {
			t.Fatalf("write while the standby is down: %+v", r)
		}
	}
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if pid := readPID(t, dir, "ap-northeast-1"); pid == killed {
			return fmt.Errorf("standby not restarted yet")
		}
		return nil
	})
	waitComments(t, standby, 52)
	retry.Until(t, 50*time.Millisecond, 10*time.Second, func() error {
		st := status(t, dir)
		w, s := st.Regions[0].Status, st.Regions[1].Status
		if w == nil || s == nil {
			return fmt.Errorf("a region is down: %+v", st.Regions)
		}
		if s.Replication.Lag.Entries != 0 || s.Position.LSN != w.Position.LSN {
			return fmt.Errorf("standby at %d, writer at %d, lag %d", s.Position.LSN, w.Position.LSN, s.Replication.Lag.Entries)
		}
		if w.Checksums["comments"] == "" || w.Checksums["comments"] != s.Checksums["comments"] {
			return fmt.Errorf("checksums differ: %v vs %v", w.Checksums, s.Checksums)
		}
		return nil
	})
	if out := cli(t, "status", "--dir", dir, "--checksums"); !strings.Contains(out, "tables equal in every region") || !strings.Contains(out, "writer") {
		t.Fatalf("status output:\n%s", out)
	}

	// kill -9 the writer: reads through the edge fail over to the standby.
	if err := syscall.Kill(readPID(t, dir, "us-east-1"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := call(t, "GET", edge+"/api/comments/photo-1", ""); r.status != 200 || r.region != "ap-northeast-1" || !strings.Contains(r.body, "k49") {
		t.Fatalf("read with the writer down: %+v", r)
	}
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if r := postCommentAs(t, edge, token, "after-writer-restart"); r.status != 201 {
			return fmt.Errorf("write after the writer restarted: %+v", r)
		}
		return nil
	})
	waitComments(t, standby, 53)

	// Stop everything and start again: all data is kept.
	up.stop(t)
	startUp(t, dir, base)
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "app-id"))); got != appID {
		t.Fatalf("app id changed across restarts: %s → %s", appID, got)
	}
	waitComments(t, edge, 53)
	waitComments(t, standby, 53)
	// Keys live in the data directories: the token from before still works.
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if r := postCommentAs(t, edge, token, "after-restart"); r.status != 201 {
			return fmt.Errorf("the old token after a restart: %+v", r)
		}
		return nil
	})
	retry.Until(t, 50*time.Millisecond, 10*time.Second, func() error {
		if r := call(t, "GET", edge+"/.well-known/jwks.json", ""); r.status != 200 || strings.Count(r.body, `"kid"`) != 2 {
			return fmt.Errorf("jwks: %+v, want both regions' keys", r)
		}
		return nil
	})
}

// testUsersAndClients manages users and OAuth clients with the CLI, signs a
// new user in at the standby, and gets a client token with the reference
// ToDo API's curl shape.
func testUsersAndClients(t *testing.T, dir, edge, standby string) {
	t.Helper()
	out := cli(t, "users", "add", "ana-1", "--email", "ana@example.com", "--dir", dir)
	m := regexp.MustCompile(`temporary password: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "FORCE_CHANGE_PASSWORD") {
		t.Fatalf("users add:\n%s", out)
	}
	if out := cli(t, "users", "list", "--dir", dir); !strings.Contains(out, "ana-1") || !regexp.MustCompile(`admin\s+admin@localhost\s+admin\s+CONFIRMED`).MatchString(out) {
		t.Fatalf("users list:\n%s", out)
	}
	if out := cli(t, "users", "role", "ana-1", "admin", "--dir", dir); !strings.Contains(out, "ana-1 (ana@example.com, admin)") {
		t.Fatalf("users role:\n%s", out)
	}
	if out, err := execOutput(binary, "users", "role", "ana-1", "root", "--dir", dir); err == nil || !strings.Contains(out, "role must be") {
		t.Fatalf("users role root: %v\n%s", err, out)
	}
	// A user created at the writer signs in at the standby once replicated.
	login := fmt.Sprintf(`{"username":"ana-1","password":%q}`, m[1])
	retry.Until(t, 50*time.Millisecond, 10*time.Second, func() error {
		if r := call(t, "POST", standby+"/api/auth/login", login); r.status != 200 || !strings.Contains(r.body, "NEW_PASSWORD_REQUIRED") {
			return fmt.Errorf("ana at the standby: %+v", r)
		}
		return nil
	})
	out = cli(t, "clients", "add", "todo", "--scope", "api/upsert-delete", "--dir", dir)
	id := regexp.MustCompile(`client id:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client secret:\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("clients add:\n%s", out)
	}
	// curl -X POST $BASE/oauth2/token -H "Content-Type: application/x-www-form-urlencoded" -u id:secret -d "grant_type=client_credentials"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id[1]+":"+secret[1]))
	r := callWith(t, "POST", edge+"/api/oauth2/token", "grant_type=client_credentials", "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic)
	if r.status != 200 || !strings.Contains(r.body, `"token_type":"Bearer"`) || !strings.Contains(r.body, `"expires_in":3600`) {
		t.Fatalf("client token: %+v", r)
	}
	// The admin's password changed over HTTP, so the file is stale: token
	// says so rather than failing obscurely.
	if out, err := execOutput(binary, "token", "--dir", dir); err == nil || !strings.Contains(out, adminCredentialsFile) {
		t.Fatalf("token with a stale password: %v\n%s", err, out)
	}
}

// signInThroughChallenge signs in with the admin's temporary password,
// answers the new-password challenge with password and returns the access
// token, all over HTTP through the edge.
func signInThroughChallenge(t *testing.T, edge string, creds adminCredentials, password string) string {
	t.Helper()
	r := call(t, "POST", edge+"/api/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, creds.Username, creds.Password))
	var challenge auth.Challenge
	if r.status != 200 || json.Unmarshal([]byte(r.body), &challenge) != nil || challenge.Name != auth.ChallengeNewPassword {
		t.Fatalf("first sign-in: %+v", r)
	}
	r = call(t, "POST", edge+"/api/auth/respond", fmt.Sprintf(`{"challengeName":%q,"session":%q,"newPassword":%q}`, challenge.Name, challenge.Session, password))
	var tokens auth.Tokens
	if r.status != 200 || json.Unmarshal([]byte(r.body), &tokens) != nil || tokens.AccessToken == "" {
		t.Fatalf("new password: %+v", r)
	}
	return tokens.AccessToken
}

// postCommentAs posts the comment id to photo-1 at base with token.
func postCommentAs(t *testing.T, base, token, id string) response {
	t.Helper()
	return callWith(t, "POST", base+"/api/comments/photo-1", commentJSON(id), "Authorization", "Bearer "+token)
}

func TestUpRefusesSecondInstanceAndBadFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startUp(t, dir, freePortBase(t))
	out, err := execOutput(binary, "up", "--dir", dir, "--port-base", fmt.Sprint(freePortBase(t)))
	if err == nil || !strings.Contains(out, "in use by another") {
		t.Fatalf("second up on one dir: %v\n%s", err, out)
	}
	out, err = execOutput(binary, "up", "--dir", dir, "--port-base", fmt.Sprint(freePortBase(t)), "--store", "postgres")
	if err == nil || !strings.Contains(out, "holds regions on sqlite") {
		t.Fatalf("up with another store on a sqlite dir: %v\n%s", err, out)
	}
	out, err = execOutput(binary, "up", "--port-base", "70000")
	if err == nil || !strings.Contains(out, "port-base") {
		t.Fatalf("bad port base: %v\n%s", err, out)
	}
	out, err = execOutput(binary, "status", "--dir", filepath.Join(t.TempDir(), "nothing"))
	if err == nil || !strings.Contains(out, "no deployment found") {
		t.Fatalf("status without a deployment: %v\n%s", err, out)
	}
}

// TestUpRemembersTheStore: the first run that could be prepared records its
// store; later runs without --store use it, and another --store is refused.
// A first run that fails records nothing.
func TestUpRemembersTheStore(t *testing.T) {
	dir := t.TempDir()
	if _, err := prepareDeployment(upOptions{dir: dir, portBase: 30000, store: "mysql", storeSet: true}); err == nil || !strings.Contains(err.Error(), "sqlite or postgres") {
		t.Fatalf("--store mysql: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); !os.IsNotExist(err) {
		t.Fatalf("a failed first run recorded a store: %v", err)
	}
	if _, err := prepareDeployment(upOptions{dir: dir, portBase: 30000, store: "sqlite", storeSet: true}); err != nil {
		t.Fatal(err)
	}
	if got, first, err := rememberedStore(upOptions{dir: dir, store: "postgres"}); err != nil || got != "sqlite" || first {
		t.Fatalf("second run without --store: %q %v, %v; want sqlite", got, first, err)
	}
	if _, _, err := rememberedStore(upOptions{dir: dir, store: "postgres", storeSet: true}); err == nil || !strings.Contains(err.Error(), "--store sqlite") {
		t.Fatalf("second run with --store postgres: %v", err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
