package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/internal/pgserver"
)

// postgresDir is where `up --store postgres` keeps a region's PostgreSQL
// cluster.
func postgresDir(dir, region string) string { return filepath.Join(dir, "postgres", region) }

// postgresStoreConfig returns the store configuration of a region whose
// store is a PostgreSQL server that up runs, on a loopback port chosen the
// first time and kept in DIR/postgres/REGION.port.
func postgresStoreConfig(dir, region string) (StoreConfig, error) {
	if _, err := pgserver.Binary("postgres"); err != nil {
		return StoreConfig{}, fmt.Errorf("--store postgres: %w; install PostgreSQL or use --store sqlite", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "postgres"), 0o700); err != nil {
		return StoreConfig{}, err
	}
	var perr error
	port, err := ensureFile(filepath.Join(dir, "postgres", region+".port"), func() string {
		p, err := pgserver.FreePort()
		perr = err
		return strconv.Itoa(p)
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return StoreConfig{}, err
	}
	return StoreConfig{Type: "postgres", DSN: fmt.Sprintf("postgres://%s@127.0.0.1:%s/tandem?sslmode=disable", pgserver.User, port)}, nil
}

// postgresProcess is the PostgreSQL server of one region, as up runs it.
type postgresProcess struct {
	name string // "postgres-REGION": its log, pid and hold files
	dir  string
	port int

	mu  sync.Mutex
	srv *pgserver.Server
}

// startPostgres starts each region's PostgreSQL server (initialising its
// cluster the first time), creates the database tandem in it, and restarts
// it like the other components whenever it dies, until ctx ends. The
// returned function stops them.
func (d *deployment) startPostgres(ctx context.Context) (func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var procs []*postgresProcess
	var wg sync.WaitGroup
	stop := func() {
		cancel()
		wg.Wait()
		for _, p := range procs {
			p.mu.Lock()
			if p.srv != nil {
				p.srv.Stop()
			}
			p.mu.Unlock()
		}
	}
	if os.Geteuid() == 0 {
		// PostgreSQL runs as the user postgres, which must reach its
		// directory inside this one.
		for _, p := range []string{d.opts.dir, filepath.Join(d.opts.dir, "postgres")} {
			if err := os.Chmod(p, 0o711); err != nil {
				return stop, err
			}
		}
	}
	for _, c := range d.components {
		if c.name == "edge" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d.opts.dir, "postgres", c.name+".port"))
		if err != nil {
			return stop, err
		}
		port, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return stop, fmt.Errorf("postgres port of %s: %w", c.name, err)
		}
		p := &postgresProcess{name: "postgres-" + c.name, dir: postgresDir(d.opts.dir, c.name), port: port}
		if err := d.startPostgresProcess(p); err != nil {
			return stop, fmt.Errorf("PostgreSQL of %s: %w (if the user postgres cannot reach %s, run up in a directory it can traverse)", c.name, err, d.opts.dir)
		}
		procs = append(procs, p)
		fmt.Printf("tandem: PostgreSQL for %s on 127.0.0.1:%d (%s)\n", c.name, port, p.dir)
		wg.Add(1)
		go func() { defer wg.Done(); d.supervisePostgres(ctx, p) }()
	}
	return stop, nil
}

// startPostgresProcess starts p's server, makes sure the database tandem
// exists, and writes its pid file.
func (d *deployment) startPostgresProcess(p *postgresProcess) error {
	logf, err := os.OpenFile(filepath.Join(d.opts.dir, "logs", p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	srv, err := pgserver.Start(p.dir, pgserver.Options{Port: p.port, Log: logf, Start: startWithDeathSignal})
	logf.Close()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.CreateDatabase(ctx, "tandem"); err != nil {
		srv.Stop()
		return err
	}
	writePIDFile(d.opts.dir, p.name, srv.PID())
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	return nil
}

// supervisePostgres restarts p's server after the restart delay whenever it
// exits, until ctx ends. A server killed hard may leave its shared memory
// in use for a moment, so a failed start is tried again.
func (d *deployment) supervisePostgres(ctx context.Context, p *postgresProcess) {
	for {
		p.mu.Lock()
		done := p.srv.Done()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-done:
		}
		if d.opts.restartDelay <= 0 {
			fmt.Printf("tandem: %s exited; not restarting\n", p.name)
			return
		}
		fmt.Printf("tandem: %s exited; restarting in %v\n", p.name, d.opts.restartDelay)
		for attempt := 1; ; attempt++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d.opts.restartDelay):
			}
			if !d.waitHold(ctx, p.name) {
				return
			}
			err := d.startPostgresProcess(p)
			if err == nil {
				break
			}
			fmt.Printf("tandem: restart %s (attempt %d): %v\n", p.name, attempt, err)
		}
		if ctx.Err() != nil {
			return // stop() stops the server just started
		}
		fmt.Printf("tandem: %s restarted (pid %d)\n", p.name, p.srv.PID())
	}
}
