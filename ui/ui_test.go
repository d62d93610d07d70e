package ui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/ui"
)

func TestHandler(t *testing.T) {
	h := ui.NewHandler(func() ui.Config { return ui.Config{AppID: "app-1", Regions: []string{"a", "b"}, Writer: "a"} })
	for _, tt := range []struct{ path, contentType, body string }{
		{"/ui/", "text/html", "<title>tandem</title>"},
		{"/ui/app.js", "javascript", "function route"},
		{"/ui/dom.js", "javascript", "function askDialog"},
		{"/ui/csp.js", "javascript", "securitypolicyviolation"},
		{"/ui/remittance.js", "javascript", `page("remittances"`},
		{"/ui/todo.js", "javascript", `page("todo"`},
		{"/ui/console.js", "javascript", `page("console"`},
		{"/ui/app.css", "text/css", "--accent"},
		{"/ui/config.json", "application/json", `{"appId":"app-1","regions":["a","b"],"writer":"a"}`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), tt.contentType) || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("GET %s: %d %q %.80q", tt.path, w.Code, w.Header().Get("Content-Type"), w.Body.String())
		}
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/app.js", nil))
	etag := w.Header().Get("ETag")
	r := httptest.NewRequest("GET", "/ui/app.js", nil)
	r.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if etag == "" || w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d", etag, w.Code)
	}

	for _, path := range []string{"/ui/", "/ui/config.json"} {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: security headers %v", path, w.Header())
		}
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/nope.js", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("missing file: %d", w.Code)
	}
}
