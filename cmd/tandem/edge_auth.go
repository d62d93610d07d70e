package main

import (
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
)

// adminConfirmTTL is how long the controller trusts a region's answer about
// an admin's token: disabling an admin closes the controller to their
// tokens within this long.
const adminConfirmTTL = 5 * time.Second

// adminTokenCheck returns the controller's check of an operator's token. The
// controller keeps no users: it accepts an admin's access or ID token signed
// by a key in some region's JWKS (fetched from the regions the snapshot
// names, cached, and fetched again for a key ID it does not know), which a
// region confirms is still good (see adminConfirmer).
func adminTokenCheck(snapshot func() tandem.Snapshot, logger *slog.Logger) func(token string) error {
	keys := &auth.RemoteKeySet{
		URLs: func() []string {
			var urls []string
			for _, r := range snapshot().Regions {
				urls = append(urls, strings.TrimRight(r.URL, "/")+auth.JWKSPath)
			}
			return urls
		},
		Client: &http.Client{Timeout: 2 * time.Second},
		Logger: logger,
	}
	v := &auth.Verifier{Keys: keys.Lookup, Issuer: auth.DefaultIssuer, Audience: auth.DefaultAudience, Leeway: auth.DefaultLeeway}
	confirm := &adminConfirmer{snapshot: snapshot, client: &http.Client{Timeout: time.Second}, logger: logger}
	return func(token string) error {
		c, err := v.Verify(token)
		if err != nil {
			return err
		}
		if !c.IsAPIToken() {
			return tandem.Errorf(tandem.EUNAUTHORIZED, "invalid token")
		}
		if err := auth.RequireRole(c, auth.RoleAdmin); err != nil {
			return err
		}
		return confirm.check(token)
	}
}

// adminConfirmer asks the regions, writer first, whether a well-signed
// token is still good: a region checks it against its user store (a
// disabled user, a password reset since). A refusal from a region is
// final. When no region answers, the signature stands, so an operator can
// still fail over a deployment whose regions are down. Answers are cached
// for adminConfirmTTL.
type adminConfirmer struct {
	snapshot func() tandem.Snapshot
	client   *http.Client
	logger   *slog.Logger

	mu    sync.Mutex
	cache map[[32]byte]confirmed
}

type confirmed struct {
	err   error
	until time.Time
}

func (a *adminConfirmer) check(token string) error {
	key := sha256.Sum256([]byte(token))
	a.mu.Lock()
	if c, ok := a.cache[key]; ok && time.Now().Before(c.until) {
		a.mu.Unlock()
		return c.err
	}
	a.mu.Unlock()
	answered, err := a.ask(token)
	if !answered {
		return nil // not cached: the next call asks again
	}
	a.mu.Lock()
	if a.cache == nil || len(a.cache) > 1000 {
		a.cache = map[[32]byte]confirmed{}
	}
	a.cache[key] = confirmed{err: err, until: time.Now().Add(adminConfirmTTL)}
	a.mu.Unlock()
	return err
}

// ask calls /api/auth/me with the token on each region in route order
// until one answers; it reports whether one did, and its refusal.
func (a *adminConfirmer) ask(token string) (bool, error) {
	snap := a.snapshot()
	regions := snap.Routes()
	for _, r := range snap.Regions { // regions routed off still know their users
		if !snap.Routing[r.Name] {
			regions = append(regions, r)
		}
	}
	for _, r := range regions {
		req, err := http.NewRequest(http.MethodGet, strings.TrimRight(r.URL, "/")+"/api/auth/me", nil)
		if err != nil {
			continue
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := a.client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return true, nil
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			a.logger.Warn("a region refused an admin token the controller was shown", "region", r.Name, "status", resp.StatusCode)
			return true, tandem.Errorf(tandem.EUNAUTHORIZED, "the token is no longer valid (region %s refused it): sign in again", r.Name)
		}
	}
	return false, nil
}
