package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// TestAdminTokenCheck: the controller accepts a well-signed admin token
// that a region confirms, refuses one any region refuses (a disabled
// admin), and falls back to the signature when no region answers.
func TestAdminTokenCheck(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := key.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	var me atomic.Int32 // what the region answers to /api/auth/me
	var asked atomic.Int32
	region := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case auth.JWKSPath:
			httpjson.Write(w, http.StatusOK, auth.JWKS{Keys: []auth.PublicJWK{jwk}})
		case "/api/auth/me":
			asked.Add(1)
			w.WriteHeader(int(me.Load()))
		default:
			http.NotFound(w, r)
		}
	}))
	defer region.Close()
	var lagging atomic.Int32 // what a second region answers, when it is asked
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := lagging.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer second.Close()
	snap := tandem.Snapshot{Version: 1, Writer: "a", Regions: []tandem.RegionInfo{{Name: "a", URL: region.URL}, {Name: "b", URL: second.URL}}, Routing: map[string]bool{"a": true, "b": true}}
	check := adminTokenCheck(func() tandem.Snapshot { return snap }, slog.Default())
	issuer := &auth.Issuer{Key: key, Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience}
	token := func(subject, role string) string {
		c := auth.Claims{TokenUse: auth.TokenUseAccess, Username: subject, Role: role}
		c.Subject = subject
		s, err := issuer.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	me.Store(http.StatusOK)
	good := token("boss", auth.RoleAdmin)
	if err := check(good); err != nil {
		t.Fatalf("a confirmed admin: %v", err)
	}
	if err := check(good); err != nil || asked.Load() != 1 {
		t.Fatalf("again: %v after %d questions, want the cached answer", err, asked.Load())
	}
	if err := check(token("pleb", auth.RoleUser)); tandem.ErrorCode(err) != tandem.EFORBIDDEN {
		t.Fatalf("a user's token: %v, want forbidden", err)
	}
	me.Store(http.StatusUnauthorized)
	if err := check(token("disabled", auth.RoleAdmin)); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Fatalf("an admin the region refuses: %v, want unauthorized", err)
	}
	me.Store(http.StatusBadGateway)
	if err := check(token("alone", auth.RoleAdmin)); err != nil {
		t.Fatalf("no region answers: %v, want the signature to stand", err)
	}
	me.Store(http.StatusOK)
	lagging.Store(http.StatusUnauthorized)
	if err := check(token("split", auth.RoleAdmin)); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Fatalf("one region confirms, the other refuses: %v, want the refusal", err)
	}
	if err := check(good + "x"); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Fatalf("a forged token: %v", err)
	}
}
