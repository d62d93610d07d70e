package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/replication"
)

// Region is one running region: its store, its view of the controller, its
// writer lease, its follower and its HTTP API.
type Region struct {
	Config RegionConfig
	Secret string
	Logger *slog.Logger

	store    regionStore
	view     *control.View
	lease    *control.LeaseKeeper
	follower *replication.Follower
	api      *httpapi.Server
	photos   regionPhotos
	ln       net.Listener
	server   *http.Server

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// writeMu is held shared by every write from its guard check to its
	// commit, and exclusively while the region changes the snapshot it acts
	// on, so no write admitted under an old snapshot commits after the
	// change is reported.
	writeMu sync.RWMutex
	actMu   sync.Mutex
	acting  tandem.Snapshot // the snapshot the region acts on

	acks       *replication.Acks // what the follower confirmed, when writer
	head       atomic.Uint64     // changelog head after the last commit
	degraded   atomic.Bool       // sync replication fell back to async
	roleSynced atomic.Bool       // the store's role matches the acting snapshot
}

// Open opens the store, starts listening and starts the region's loops.
func (g *Region) Open() error {
	cfg := g.Config
	if g.Logger == nil {
		g.Logger = slog.Default()
	}
	log := g.Logger.With("region", cfg.Name)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	var err error
	var where string
	if g.store, where, err = openStore(cfg); err != nil {
		return err
	}
	comments := photos.NewService(g.store)
	if err := comments.Migrate(context.Background()); err != nil {
		return err
	}
	quarantine := replication.NewQuarantine(g.store)
	if err := quarantine.Migrate(context.Background()); err != nil {
		return err
	}

	client := &control.Client{URL: cfg.Controller, Secret: g.Secret, HTTP: &http.Client{Timeout: 35 * time.Second}}
	g.view = control.NewView(client, filepath.Join(cfg.DataDir, "control-snapshot.json"))
	g.view.Logger = log
	if err := g.view.Load(); err != nil {
		return err
	}
	ttl := cfg.Lease.TTL
	if ttl == 0 {
		ttl = tandem.DefaultLeaseTTL
	}
	safety := cfg.Lease.Safety
	if safety == 0 {
		safety = tandem.DefaultLeaseSafety
	}
	g.lease = &control.LeaseKeeper{Client: client, Region: cfg.Name, Epoch: g.writerEpoch, Head: g.store.Position, TTL: ttl, Safety: safety, Logger: log}
	g.store.SetGuard(g.guardWrite)
	g.store.SetCommitHook(g.afterCommit)
	g.acks = replication.NewAcks()
	if pos, err := g.store.Position(context.Background()); err == nil {
		g.head.Store(pos.LSN)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	regionReg := prometheus.WrapRegistererWith(prometheus.Labels{"region": cfg.Name}, reg)
	g.registerGauges(regionReg)
	g.registerDurabilityGauges(regionReg)

	g.follower = &replication.Follower{
		Store: g.store, Region: cfg.Name, Source: g.source, Secret: g.Secret, Logger: log,
		Metrics: replication.NewMetrics(regionReg),
	}
	g.api = &httpapi.Server{
		Region:     cfg.Name,
		Comments:   comments,
		Snapshot:   g.snapshot,
		CheckWrite: g.checkWrite,
		Status:     g.status,
		Health:     g.health,
		Stream:     &replication.Server{Store: g.store, Quarantine: quarantine, Acks: g.acks, Secret: g.Secret, Logger: log},
		Quarantine: quarantine,
		Probe: func(ctx context.Context, id string) error {
			return replication.RecordProbe(ctx, g.store, id, cfg.Name, time.Now())
		},
		Secret:   g.Secret,
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Registry: regionReg,
		Logger:   log,
	}
	if err := g.openIdentity(g.api); err != nil {
		return err
	}
	if err := g.openPhotos(comments, regionReg, log); err != nil {
		return err
	}
	if err := g.openApps(); err != nil {
		return err
	}
	handler, err := g.handler()
	if err != nil {
		return fmt.Errorf("controller URL: %w", err)
	}
	if g.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	g.server = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.start(func() { g.view.Run(ctx) })
	g.start(func() { g.roleLoop(ctx) })
	g.start(func() { g.lease.Run(ctx) })
	g.start(func() { g.follower.Run(ctx) })
	g.start(func() { g.runPhotos(ctx) })
	g.start(func() { g.publishKeys(ctx) })
	g.start(func() {
		if err := g.server.Serve(g.ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("region server stopped", "err", err)
		}
	})
	log.Info("region started", "listen", g.ln.Addr().String(), "url", cfg.URL, "store", where)
	return nil
}

func (g *Region) start(fn func()) {
	g.wg.Add(1)
	go func() { defer g.wg.Done(); fn() }()
}

// Addr is the address the region listens on.
func (g *Region) Addr() string { return g.ln.Addr().String() }

// Close stops serving and closes the store.
func (g *Region) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.cancel()
	g.server.Shutdown(ctx)
	g.server.Close() // ends streams still open after the grace period
	g.wg.Wait()
	return g.store.Close()
}

func (g *Region) status(ctx context.Context, checksums bool) tandem.RegionStatus {
	role, _ := g.store.Role(ctx)
	pos, _ := g.store.Position(ctx)
	st := tandem.RegionStatus{
		Region: g.Config.Name, Writer: role.Writer, Epoch: role.Epoch, Position: pos,
		SnapshotVersion: g.snapshot().Version,
		Lease:           g.lease.Status(),
		Replication:     g.follower.Status(),
		Durability:      g.durability(),
		Blobs:           g.blobStatus(),
		Health:          g.health(ctx),
	}
	if checksums {
		if sums, err := g.store.Checksums(ctx); err == nil {
			st.Checksums = sums
		}
	}
	return st
}

// MinFreeDisk is the free space below which a region reports itself unhealthy.
const MinFreeDisk = 64 << 20

func (g *Region) health(ctx context.Context) tandem.Health {
	h := tandem.Health{OK: true, Checks: map[string]string{}}
	fail := func(name, msg string) { h.OK = false; h.Checks[name] = msg }
	pass := func(name string) { h.Checks[name] = "ok" }
	if _, err := g.store.Position(ctx); err != nil {
		fail("store", "store unreadable: "+err.Error())
	} else {
		pass("store")
	}
	snap := g.snapshot()
	if snap.Version == 0 {
		fail("control", "no control snapshot yet")
	} else {
		pass("control")
	}
	if snap.Writer == g.Config.Name {
		if err := g.lease.Check(snap.Epoch); err != nil {
			fail("lease", err.Error())
		} else {
			pass("lease")
		}
	} else if st := g.follower.Status(); !st.Connected {
		fail("replication", "not connected to the writer: "+st.LastError)
	} else {
		pass("replication")
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(g.Config.DataDir, &fs); err != nil {
		fail("disk", err.Error())
	} else if free := fs.Bavail * uint64(fs.Bsize); free < MinFreeDisk {
		fail("disk", fmt.Sprintf("only %d MiB free", free>>20))
	} else {
		pass("disk")
	}
	return h
}

func (g *Region) registerGauges(reg prometheus.Registerer) {
	ctx := context.Background()
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "store", Name: "head_lsn", Help: "LSN at the head of this region's changelog."},
			func() float64 { p, _ := g.store.Position(ctx); return float64(p.LSN) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "lease", Name: "held", Help: "1 while this region holds the writer lease."},
			func() float64 {
				if g.lease.Status().Held {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tandem", Subsystem: "control", Name: "epoch", Help: "Writer epoch in this region's view of the controller."},
			func() float64 { return float64(g.snapshot().Epoch) }),
	)
}

// runRegion is `tandem region`.
func runRegion(args []string) error {
	var cfg RegionConfig
	return runComponent("region", "Runs one region: its store, replication and HTTP API.", args, &cfg,
		func() string { return cfg.SecretFile },
		func(secret string) (service, error) {
			g := &Region{Config: cfg, Secret: secret, Logger: newLogger()}
			return g, g.Open()
		})
}
