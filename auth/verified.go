package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxVerifiedTokens bounds the cache of verified tokens; when it is full
// it starts again empty.
const maxVerifiedTokens = 10000

// verifiedTokens remembers the claims of API tokens whose signature and
// claims checked out, until they expire, so a token presented again is not
// verified again: an ECDSA verification was a seventh of a writer's CPU
// under load, every request presenting the same few tokens. Only what the
// signature proves is cached; the user-store check runs every time.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[32]byte]*Claims
}

// get returns a copy of token's claims if it was verified and has not
// expired at now.
func (v *verifiedTokens) get(token string, now time.Time) (*Claims, bool) {
	key := sha256.Sum256([]byte(token))
	v.mu.Lock()
	c, ok := v.m[key]
	v.mu.Unlock()
	if !ok {
		return nil, false
	}
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) || (c.NotBefore != nil && now.Before(c.NotBefore.Time.Add(-DefaultLeeway))) {
		return nil, false
	}
	cp := *c
	return &cp, true
}

// put remembers token's verified claims.
func (v *verifiedTokens) put(token string, c *Claims) {
	key := sha256.Sum256([]byte(token))
	cp := *c
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerifiedTokens {
		v.m = make(map[[32]byte]*Claims)
	}
	v.m[key] = &cp
}
