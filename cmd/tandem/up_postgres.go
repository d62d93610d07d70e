package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// startPostgres starts each region's PostgreSQL server (initialising its
// cluster the first time) and creates the database tandem in it. The
// returned function stops them.
func (d *deployment) startPostgres() (func(), error) {
	var servers []*pgserver.Server
	stop := func() {
		for _, s := range servers {
			s.Stop()
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
		logf, err := os.OpenFile(filepath.Join(d.opts.dir, "logs", "postgres-"+c.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return stop, err
		}
		s, err := pgserver.Start(postgresDir(d.opts.dir, c.name), pgserver.Options{Port: port, Log: logf})
		logf.Close()
		if err != nil {
			return stop, fmt.Errorf("PostgreSQL of %s: %w (if the user postgres cannot reach %s, run up in a directory it can traverse)", c.name, err, d.opts.dir)
		}
		servers = append(servers, s)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = s.CreateDatabase(ctx, "tandem")
		cancel()
		if err != nil {
			return stop, err
		}
		fmt.Printf("tandem: PostgreSQL for %s on 127.0.0.1:%d (%s)\n", c.name, s.Port, s.Dir)
	}
	return stop, nil
}
