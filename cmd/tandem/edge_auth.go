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
// tokens within this long. When no region answers, the signature alone is
// trusted for adminUnconfirmedTTL before the regions are asked again.
const (
	adminConfirmTTL     = 5 * time.Second
	adminUnconfirmedTTL = time.Second
)

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

// adminConfirmer asks every region at once whether a well-signed token is
// still good: a region checks it against its user store (a disabled user, a
// password reset or a role change since). A refusal from any region is
// final; an answer of 200 from one confirms it. When no region gives
// either (down, or failing with a 5xx), the signature stands, so an
// operator can still fail over a deployment whose regions are down.
// Answers are cached for adminConfirmTTL, the lack of one for
// adminUnconfirmedTTL.
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
	ttl := adminConfirmTTL
	if !answered {
		ttl = adminUnconfirmedTTL
	}
	a.mu.Lock()
	if a.cache == nil || len(a.cache) > 1000 {
		a.cache = map[[32]byte]confirmed{}
	}
	a.cache[key] = confirmed{err: err, until: time.Now().Add(ttl)}
	a.mu.Unlock()
	return err
}

// ask calls /api/auth/me with the token on every region at once (each
// within the client's timeout); it reports whether one confirmed or
// refused it, and the refusal.
func (a *adminConfirmer) ask(token string) (bool, error) {
	regions := a.snapshot().Regions
	codes := make(chan int, len(regions))
	for _, r := range regions {
		go func() { codes <- a.askRegion(r, token) }()
	}
	answered := false
	var refused error
	for range regions {
		switch code := <-codes; code {
		case http.StatusOK:
			answered = true
		case http.StatusUnauthorized, http.StatusForbidden:
			answered = true
			refused = tandem.Errorf(tandem.EUNAUTHORIZED, "the token is no longer valid (a region refused it): sign in again")
		}
	}
	if refused != nil {
		a.logger.Warn("a region refused an admin token the controller was shown")
	}
	return answered, refused
}

// askRegion returns the status region r answers /api/auth/me with for the
// token, or 0 when it does not answer.
func (a *adminConfirmer) askRegion(r tandem.RegionInfo, token string) int {
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(r.URL, "/")+"/api/auth/me", nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode
}
