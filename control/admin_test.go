package control_test

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
)

// TestAdminToken checks that an admin's token stands in for the cluster
// secret on operators' endpoints only, and that other tokens are refused
// with 401 or 403.
func TestAdminToken(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "control.db"))
	srv := httptest.NewServer(&control.Handler{Controller: c, Secret: secret, AdminToken: func(token string) error {
		switch token {
		case "admin-token":
			return nil
		case "user-token":
			return tandem.Errorf(tandem.EFORBIDDEN, "requires the admin role")
		}
		return tandem.Errorf(tandem.EUNAUTHORIZED, "invalid token")
	}})
	defer srv.Close()
	const state = `{"state":"fenced"}`
	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		contains                       string
	}{
		{"admin sets state", "PUT", "/control/v1/state", "Bearer admin-token", state, 200, "fenced"},
		{"admin reads status", "GET", "/control/v1/events", "Bearer admin-token", "", 200, "events"},
		{"admin reads the dashboard", "GET", "/control/v1/dashboard", "Bearer admin-token", "", 200, `"regions"`},
		{"user reads the dashboard", "GET", "/control/v1/dashboard", "Bearer user-token", "", 403, "admin"},
		{"user sets state", "PUT", "/control/v1/state", "Bearer user-token", state, 403, "admin"},
		{"bad token", "PUT", "/control/v1/state", "Bearer forged", state, 401, "invalid token"},
		{"admin watches snapshot", "GET", "/control/v1/snapshot", "Bearer admin-token", "", 401, "secret"},
		{"admin renews lease", "POST", "/control/v1/lease", "Bearer admin-token", `{"region":"us-east-1","epoch":1}`, 401, "secret"},
		{"secret still works", "PUT", "/control/v1/routing/us-east-1", "Bearer " + secret, `{"on":true}`, 200, "routing"},
	} {
		ctype := ""
		if tc.body != "" {
			ctype = "application/json"
		}
		status, body := do(t, tc.method, srv.URL+tc.path, tc.auth, ctype, tc.body)
		if status != tc.status || !strings.Contains(body, tc.contains) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, status, body, tc.status, tc.contains)
		}
	}
	if got := c.Snapshot().State; got != tandem.StateFenced {
		t.Fatalf("state = %s, want fenced by the admin", got)
	}
}
