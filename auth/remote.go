package auth

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// JWKSPath is where every region publishes the JWKS.
const JWKSPath = "/.well-known/jwks.json"

// maxJWKSSize bounds a JWKS read from the network.
const maxJWKSSize = 64 << 10

// DefaultMinRefresh is how often at most a RemoteKeySet fetches the key sets
// again because of a key ID it does not know.
const DefaultMinRefresh = 5 * time.Second

// ParseJWKS decodes a JWKS document of tandem's and parses every key in it.
// Every kid must be its key's thumbprint, as tandem's are, so that one kid
// can never name two different keys.
func ParseJWKS(data []byte) (JWKS, KeySet, error) {
	var set JWKS
	if err := json.Unmarshal(data, &set); err != nil {
		return JWKS{}, nil, fmt.Errorf("parse jwks: %w", err)
	}
	for _, j := range set.Keys {
		if j.Kid != j.Thumbprint() {
			return JWKS{}, nil, fmt.Errorf("parse jwks: kid %q is not the key's thumbprint", j.Kid)
		}
	}
	keys, err := set.KeySet()
	if err != nil {
		return JWKS{}, nil, err
	}
	return set, keys, nil
}

// FetchJWKS gets the JWKS at url, with bearer as the bearer token if it is
// not empty.
func FetchJWKS(ctx context.Context, client *http.Client, url, bearer string) (JWKS, KeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return JWKS{}, nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return JWKS{}, nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return JWKS{}, nil, fmt.Errorf("fetch jwks from %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return JWKS{}, nil, fmt.Errorf("fetch jwks: %w", err)
	}
	if len(data) > maxJWKSSize {
		return JWKS{}, nil, fmt.Errorf("fetch jwks from %s: larger than %d bytes", url, maxJWKSSize)
	}
	return ParseJWKS(data)
}

// RemoteKeySet is the union of the key sets other services publish, fetched
// over HTTP and cached. The controller uses one to check admins' tokens
// against the regions' JWKS without a user store of its own. Its Lookup
// method serves as a Verifier's Keys; it is safe for concurrent use.
type RemoteKeySet struct {
	// URLs returns the JWKS URLs to fetch, e.g. every region's JWKSPath.
	URLs   func() []string
	Client *http.Client
	// MinRefresh is how often at most an unknown key ID causes a fetch;
	// DefaultMinRefresh if zero.
	MinRefresh time.Duration
	Logger     *slog.Logger

	fetchMu sync.Mutex // one fetch at a time
	mu      sync.Mutex
	keys    KeySet
	fetched time.Time
}

// Lookup returns the key with the given ID. A key ID not in the cache makes
// it fetch every URL again, unless it did so less than MinRefresh ago; keys
// are only added, so a region that cannot be reached keeps its keys.
func (r *RemoteKeySet) Lookup(kid string) (*ecdsa.PublicKey, bool) {
	if k, ok := r.cached(kid); ok {
		return k, true
	}
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	if k, ok := r.cached(kid); ok { // another caller fetched meanwhile
		return k, true
	}
	r.mu.Lock()
	recent := time.Since(r.fetched) < ttlOr(r.MinRefresh, DefaultMinRefresh)
	r.mu.Unlock()
	if recent {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r.Refresh(ctx)
	return r.cached(kid)
}

// Refresh fetches every URL and adds the keys found to the cache.
func (r *RemoteKeySet) Refresh(ctx context.Context) {
	found := KeySet{}
	for _, url := range r.URLs() {
		_, keys, err := FetchJWKS(ctx, r.Client, url, "")
		if err != nil {
			r.logger().Warn("fetch jwks", "url", url, "err", err)
			continue
		}
		for kid, k := range keys {
			found[kid] = k
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetched = time.Now()
	merged := make(KeySet, len(r.keys)+len(found))
	for kid, k := range r.keys {
		merged[kid] = k
	}
	for kid, k := range found {
		merged[kid] = k
	}
	r.keys = merged
}

func (r *RemoteKeySet) cached(kid string) (*ecdsa.PublicKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[kid]
	return k, ok
}

func (r *RemoteKeySet) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}
