package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/postgres"
	"github.com/tandemhq/tandem/store/sqlite"
)

// regionStore is what a region needs of its store: the store, and the hooks
// that put its write gate and synchronous replication at every commit.
type regionStore interface {
	tandem.Store
	SetGuard(tandem.WriteGuard)
	SetCommitHook(tandem.CommitHook)
}

var (
	_ regionStore = (*sqlite.Store)(nil)
	_ regionStore = (*postgres.Store)(nil)
)

// DSNEnv, when set, is the PostgreSQL store's DSN, instead of store.dsn (so
// a password need not be in the configuration file).
const DSNEnv = "TANDEM_STORE_DSN"

func (c *StoreConfig) validate() error {
	switch c.Type {
	case "":
		c.Type = "sqlite"
	case "sqlite":
	case "postgres":
		if c.dsn() == "" {
			return fmt.Errorf("store.type postgres needs store.dsn (or %s), such as postgres://user@host:5432/db", DSNEnv)
		}
	default:
		return fmt.Errorf("store.type %q is not supported; use sqlite or postgres", c.Type)
	}
	return nil
}

func (c *StoreConfig) dsn() string {
	if v := os.Getenv(DSNEnv); v != "" {
		return v
	}
	return c.DSN
}

// openStore opens the region store the configuration names, and returns it
// with a description for the logs (a file, or a DSN without its password).
func openStore(cfg RegionConfig) (regionStore, string, error) {
	if cfg.Store.Type == "postgres" {
		s := postgres.New(cfg.Store.dsn())
		if err := s.Open(); err != nil {
			return nil, "", err
		}
		return s, redact(cfg.Store.dsn()), nil
	}
	path := cfg.Store.Path
	if path == "" {
		path = filepath.Join(cfg.DataDir, "region.db")
	}
	s := sqlite.New(path)
	if cfg.Store.Synchronous != "" {
		s.Synchronous = cfg.Store.Synchronous
	}
	if err := s.Open(); err != nil {
		return nil, "", err
	}
	return s, path, nil
}

// redact returns a DSN URL without its password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return "postgres"
	}
	return u.Redacted()
}
