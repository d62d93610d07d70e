package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/httpapi"
)

// openIdentity gives the region's API its identity service: it loads the
// region's signing key (creating it on first start), migrates the identity
// tables and sets how client addresses are told for throttling.
func (g *Region) openIdentity(api *httpapi.Server) error {
	cfg := g.Config.Auth
	keyFile := cfg.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(g.Config.DataDir, "signing-key.pem")
	}
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return err
	}
	trusted := httpapi.DefaultTrustedProxies
	if len(cfg.TrustedProxies) > 0 {
		trusted = nil
		for _, s := range cfg.TrustedProxies {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("auth.trusted_proxies: %q is not a CIDR prefix such as 10.0.0.0/8", s)
			}
			trusted = append(trusted, p)
		}
	}
	id := auth.NewService(g.store, key, g.Config.Name)
	id.AllowSignup = cfg.AllowSignup
	id.Logger = g.Logger.With("region", g.Config.Name)
	if err := id.Migrate(context.Background()); err != nil {
		return err
	}
	api.Identity, api.ClientAddr = id, httpapi.ClientAddr(trusted)
	g.Logger.Info("signing key loaded", "region", g.Config.Name, "kid", key.ID, "file", keyFile)
	return nil
}

// loadOrCreateKey reads the signing key at path, or creates one there. The
// file must be readable by its owner only: whoever reads it can sign tokens
// every region accepts.
func loadOrCreateKey(path string) (auth.Key, error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			return auth.Key{}, fmt.Errorf("signing key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return auth.Key{}, fmt.Errorf("read signing key: %w", err)
		}
		return auth.ParseKeyPEM(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return auth.Key{}, fmt.Errorf("read signing key: %w", err)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		return auth.Key{}, err
	}
	b, err := auth.MarshalKeyPEM(key)
	if err != nil {
		return auth.Key{}, err
	}
	if err := writeFileAtomic(path, b); err != nil {
		return auth.Key{}, fmt.Errorf("write signing key: %w", err)
	}
	return key, nil
}

// writeFileAtomic writes data to path (mode 0600) through a synced
// temporary file and a rename, so path holds all of data or nothing.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// publishKeys keeps the replicated signing_keys table complete while the
// region is the writer: its own public key, and each peer's, fetched from
// the peer's SigningKeyPath with the cluster secret. That is what lets every
// region accept every region's tokens, and a new writer accept, after a
// failover, the tokens its predecessor issued. Until every key is recorded
// it tries again after 200 ms, backing off to 5 s while a peer cannot be
// reached, and at every new snapshot; then every minute, as a region's key
// changes only if its data directory is lost. A standby checks every 200 ms
// whether it has become the writer.
func (g *Region) publishKeys(ctx context.Context) {
	const minWait, maxWait = 200 * time.Millisecond, 5 * time.Second
	client := &http.Client{Timeout: 3 * time.Second}
	var lastErr string
	backoff := minWait
	for {
		// The region acts on a new snapshot a moment after the view has it,
		// so a change is noticed by the view's signal or the next tick.
		changed := g.view.Changed()
		wait := time.After(minWait)
		// The write gate is checked first, without locks, so that a region
		// that only believes it is the writer (a restarted old writer acting
		// on its cached snapshot) does not start a write while it changes role.
		if snap := g.snapshot(); snap.Version > 0 && snap.Writer == g.Config.Name && g.checkWrite(ctx) == nil {
			err := g.publishAllKeys(ctx, snap, client)
			switch {
			case err == nil:
				wait, backoff = time.After(time.Minute), minWait
			case ctx.Err() != nil:
				return
			default:
				wait, backoff = time.After(backoff), min(2*backoff, maxWait)
			}
			if msg := fmt.Sprint(err); err != nil && msg != lastErr {
				g.Logger.Warn("publish signing keys", "region", g.Config.Name, "err", err)
			}
			lastErr = fmt.Sprint(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			backoff = minWait
		case <-wait:
		}
	}
}

func (g *Region) publishAllKeys(ctx context.Context, snap tandem.Snapshot, client *http.Client) error {
	id := g.api.Identity
	if err := id.PublishOwnKey(ctx); err != nil {
		return err
	}
	var errs []error
	for _, r := range snap.Regions {
		if r.Name == g.Config.Name {
			continue
		}
		set, _, err := auth.FetchJWKS(ctx, client, strings.TrimRight(r.URL, "/")+httpapi.SigningKeyPath, g.Secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("key of %s: %w", r.Name, err))
			continue
		}
		for _, j := range set.Keys {
			if err := id.PublishKey(ctx, r.Name, j); err != nil {
				errs = append(errs, fmt.Errorf("key of %s: %w", r.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
