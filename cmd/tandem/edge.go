package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/edge"
	"github.com/tandemhq/tandem/ui"
)

// Edge is the running edge: the proxy in front of the regions and, when
// embedded, the controller.
type Edge struct {
	Config EdgeConfig
	Secret string
	Logger *slog.Logger

	controller *control.Controller // nil when the controller runs elsewhere
	view       *control.View
	ln         net.Listener
	server     *http.Server
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// Open starts the controller (when embedded) and the edge's listener.
func (e *Edge) Open() error {
	if e.Logger == nil {
		e.Logger = slog.Default()
	}
	cfg := e.Config
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	snapshot := func() tandem.Snapshot { return e.view.Snapshot() }
	if cfg.Controller.URL == "" {
		e.controller = control.New(cfg.Controller.Path)
		e.controller.Logger = e.Logger.With("component", "controller")
		e.controller.Secret = e.Secret
		e.controller.ProbeURL = "http://" + cfg.Listen
		if cfg.Controller.LeaseTTL > 0 {
			e.controller.LeaseTTL = cfg.Controller.LeaseTTL
		}
		configureMonitoring(e.controller, cfg.Controller)
		e.controller.Metrics = control.NewMetrics(reg)
		e.controller.EdgeRequests = edgeRequests(reg)
		e.controller.Gatherer = reg
		init := tandem.Snapshot{AppID: cfg.Controller.AppID}
		for _, r := range cfg.Controller.Regions {
			init.Regions = append(init.Regions, tandem.RegionInfo{Name: r.Name, URL: r.URL})
		}
		if err := e.controller.Open(init); err != nil {
			return err
		}
		mux.Handle("/control/", &control.Handler{Controller: e.controller, Secret: e.Secret, Logger: e.Logger,
			AdminToken: adminTokenCheck(e.controller.Snapshot, e.Logger.With("component", "controller"))})
		snapshot = e.controller.Snapshot
	} else {
		e.view = control.NewView(&control.Client{URL: cfg.Controller.URL, Secret: e.Secret, HTTP: &http.Client{Timeout: 35 * time.Second}}, "")
		e.view.Logger = e.Logger
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.view.Run(ctx) }()
	}

	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET "+ui.Prefix, ui.NewHandler(func() ui.Config { return uiConfig(snapshot()) }))
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	mux.Handle("/", &edge.Proxy{
		Snapshot:     snapshot,
		Logger:       e.Logger.With("component", "edge"),
		MaxBodyBytes: cfg.MaxBodyBytes,
		Metrics:      edge.NewMetrics(reg),
	})
	var err error
	if e.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	e.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.server.Serve(e.ln); !errors.Is(err, http.ErrServerClosed) {
			e.Logger.Error("edge server stopped", "err", err)
		}
	}()
	e.Logger.Info("edge started", "listen", e.ln.Addr().String(), "embedded_controller", e.controller != nil)
	return nil
}

// Addr is the address the edge listens on.
func (e *Edge) Addr() string { return e.ln.Addr().String() }

// Close stops the edge and the embedded controller.
func (e *Edge) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.cancel()
	e.server.Shutdown(ctx)
	e.server.Close()
	e.wg.Wait()
	if e.controller != nil {
		return e.controller.Close()
	}
	return nil
}

// runEdge is `tandem edge`.
func runEdge(args []string) error {
	var cfg EdgeConfig
	return runComponent("edge", "Runs the edge: the proxy that sends traffic to the writer region, and the\ncontroller unless the configuration names a separate one.", args, &cfg,
		func() string { return cfg.SecretFile },
		func(secret string) (service, error) {
			e := &Edge{Config: cfg, Secret: secret, Logger: newLogger()}
			return e, e.Open()
		})
}

// uiConfig is what the web app needs of the deployment: the app id for the
// state API, the regions' names and the writer.
func uiConfig(snap tandem.Snapshot) ui.Config {
	c := ui.Config{AppID: snap.AppID, Regions: []string{}, Writer: snap.Writer}
	for _, r := range snap.Regions {
		c.Regions = append(c.Regions, r.Name)
	}
	return c
}
