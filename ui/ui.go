// Package ui serves tandem's web app: plain HTML, CSS and JavaScript embedded
// in the binary, with nothing to build. It talks to the API through the same
// origin, so it works wherever the API is served.
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/tandemhq/tandem/internal/httpjson"
)

// Prefix is the path the app is served under.
const Prefix = "/ui/"

//go:embed static
var static embed.FS

// Config is what the pages need to know of the deployment, served as
// /ui/config.json: the app id for the state API, the regions' names, the
// writer region, and the region serving the app when a region serves it
// directly rather than the edge.
type Config struct {
	AppID   string   `json:"appId"`
	Regions []string `json:"regions"`
	Writer  string   `json:"writer"`
	Region  string   `json:"region,omitempty"`
}

// ContentSecurityPolicy lets the app load and call only its own origin: no
// inline script or style, no plugins, no framing by another site.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// asset is one embedded file, with its ETag computed once.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

// Handler serves the app under Prefix. config is called for every request of
// config.json, so the pages always see the current deployment.
type Handler struct {
	Config func() Config
	assets map[string]asset
}

// NewHandler returns a handler of the embedded files.
func NewHandler(config func() Config) *Handler {
	h := &Handler{Config: config, assets: map[string]asset{}}
	sub, _ := fs.Sub(static, "static")
	fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[name] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, contentType: ct}
		return nil
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "config.json" {
		setSecurityHeaders(w.Header())
		httpjson.Write(w, http.StatusOK, h.Config())
		return
	}
	if name == "" {
		name = "index.html"
	}
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", a.contentType)
	setSecurityHeaders(w.Header())
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(a.body)
}
