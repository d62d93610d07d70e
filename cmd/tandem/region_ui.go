package main

import (
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
	"github.com/tandemhq/tandem/ui"
)

// passedHeader marks a request a region passed on to the controller.
const passedHeader = "X-Tandem-Passed-By"

// handler is what the region serves: its API, the web app under /ui/ (so the
// app works without the edge), and /control/ passed to the controller for
// the app's operations console. The region adds no credentials of its own
// to what it passes on: the controller checks the caller's admin token.
func (g *Region) handler() (http.Handler, error) {
	controller, err := url.Parse(g.Config.Controller)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+ui.Prefix, ui.NewHandler(func() ui.Config {
		c := uiConfig(g.snapshot())
		c.Region = g.Config.Name
		return c
	}))
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(controller)
			r.Out.Host = controller.Host
			r.Out.Header.Set(passedHeader, g.Config.Name)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.Logger.Warn("cannot reach the controller for the console", "region", g.Config.Name, "path", r.URL.Path, "err", err)
			httpjson.Error(w, r, nil, tandem.Errorf(tandem.EUNAVAILABLE, "region %s cannot reach the controller", g.Config.Name))
		},
	}
	mux.HandleFunc("/control/", func(w http.ResponseWriter, r *http.Request) {
		if by := r.Header.Get(passedHeader); by != "" {
			// The controller URL leads back to a region (an edge without a
			// controller of its own): passing it on again would loop.
			g.Logger.Error("the controller URL leads back to a region", "region", g.Config.Name, "passed_by", by, "controller", g.Config.Controller)
			httpjson.Write(w, http.StatusLoopDetected, httpjson.Message{Message: "the controller URL of region " + by + " leads back to a region, not to the controller"})
			return
		}
		proxy.ServeHTTP(w, r)
	})
	mux.Handle("/", g.api)
	return mux, nil
}
