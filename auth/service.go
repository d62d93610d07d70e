package auth

import (
	"context"
	"crypto/ecdsa"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemhq/tandem"
)

// AppName is the name the identity migrations are recorded under.
const AppName = "auth"

// Service defaults.
const (
	// DefaultRefreshTTL is how long a refresh token is valid.
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// DefaultChallengeTTL is how long a sign-in may take to answer a
	// challenge.
	DefaultChallengeTTL = 5 * time.Minute
	// TemporaryPasswordTTL is how long an unused temporary password works.
	TemporaryPasswordTTL = 7 * 24 * time.Hour
	// keyReloadInterval bounds how often an unknown key ID makes the service
	// read the signing_keys table again.
	keyReloadInterval = 250 * time.Millisecond
)

// Migrations create the identity tables. All of them replicate: users with
// their password hashes, clients with their secret hashes, revoked refresh
// tokens and every region's public signing key. Private keys are never
// stored here.
var Migrations = []tandem.Migration{
	{Name: "001_identity", SQL: `
CREATE TABLE users (
	user_id         TEXT PRIMARY KEY,
	username        TEXT NOT NULL UNIQUE,
	email           TEXT NOT NULL UNIQUE,
	role            TEXT NOT NULL,
	status          TEXT NOT NULL,
	password_hash   TEXT NOT NULL,
	password_set_us INTEGER NOT NULL,
	tokens_after_us INTEGER NOT NULL,
	created_us      INTEGER NOT NULL,
	updated_us      INTEGER NOT NULL
);
CREATE TABLE clients (
	client_id   TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	scope       TEXT NOT NULL,
	created_us  INTEGER NOT NULL
);
CREATE TABLE revoked_tokens (
	token_id   TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	expires_us INTEGER NOT NULL,
	revoked_us INTEGER NOT NULL
);
CREATE TABLE signing_keys (
	kid      TEXT PRIMARY KEY,
	region   TEXT NOT NULL,
	jwk      TEXT NOT NULL,
	added_us INTEGER NOT NULL
);
`},
}

// Service is a region's identity service over its store: users, OAuth
// clients, sign-in, tokens, and the public keys tokens are checked with.
//
// Signing in, answering a client-credentials request and refreshing only
// read the store, so a standby does them as well as the writer; creating
// users, changing a password and signing out write, so they need the writer.
// Because the tables replicate, a user created at the writer signs in at the
// standby, and a refresh token revoked at the writer is refused at both.
//
// Create one with NewService; its fields must not change once in use.
type Service struct {
	Store  tandem.Store
	Key    Key    // this region's signing key
	Region string // this region's name, recorded with its public key
	// Throttle slows down password guessing; nil means no throttling.
	Throttle *Throttle
	// AllowSignup lets anyone create a user account with SignUp.
	AllowSignup  bool
	TokenTTL     time.Duration // ID and access tokens
	RefreshTTL   time.Duration
	ChallengeTTL time.Duration
	Now          func() time.Time
	Logger       *slog.Logger

	dummyOnce sync.Once
	dummy     string // a hash checked for unknown users, for equal timing

	ownKeyRecorded atomic.Bool

	mu         sync.Mutex
	keys       KeySet // public keys read from signing_keys
	keysLoaded time.Time

	verified verifiedTokens // API tokens whose signature checked out
}

// NewService returns a service over store that signs with key.
func NewService(store tandem.Store, key Key, region string) *Service {
	return &Service{
		Store: store, Key: key, Region: region,
		Throttle:     NewThrottle(),
		TokenTTL:     DefaultTokenTTL,
		RefreshTTL:   DefaultRefreshTTL,
		ChallengeTTL: DefaultChallengeTTL,
		Now:          time.Now,
	}
}

// Migrate creates or updates the identity tables.
func (s *Service) Migrate(ctx context.Context) error {
	return s.Store.Migrate(ctx, AppName, Migrations)
}

func (s *Service) now() time.Time { return nowFunc(s.Now)() }

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// issuer returns an Issuer of tokens of the given lifetime.
func (s *Service) issuer(ttl time.Duration) *Issuer {
	return &Issuer{Key: s.Key, Issuer: DefaultIssuer, Audience: DefaultAudience, TTL: ttl, Now: s.Now}
}

// verifier returns a Verifier of tokens of the given use ("" for any) that
// accepts every region's keys.
func (s *Service) verifier(use string) *Verifier {
	return &Verifier{Keys: s.LookupKey, Issuer: DefaultIssuer, Audience: DefaultAudience, TokenUse: use, Now: s.Now, Leeway: DefaultLeeway}
}

// Authenticate checks a token presented to an API: an access or ID token
// signed by any region, valid now, and, for a user's token, of a user who
// still exists, is not disabled, and has neither had their password reset
// nor their role changed since it was issued; for an OAuth client's, of a
// client that still exists.
// Returns EUNAUTHORIZED otherwise.
func (s *Service) Authenticate(ctx context.Context, token string) (*Claims, error) {
	c, ok := s.verified.get(token, s.now())
	if !ok {
		var err error
		if c, err = s.verifier("").Verify(token); err != nil {
			return nil, err
		}
		if !c.IsAPIToken() {
			return nil, errInvalidToken()
		}
		s.verified.put(token, c)
	}
	if c.Username == "" { // an OAuth client's
		switch ok, err := s.clientExists(ctx, c.ClientID); {
		case err != nil:
			return nil, fmt.Errorf("authenticate: %w", err)
		case !ok:
			return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "the token's OAuth client no longer exists")
		}
		return c, nil
	}
	u, err := s.findUserByID(ctx, c.Subject)
	switch {
	case tandem.ErrorCode(err) == tandem.ENOTFOUND:
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "the token's user no longer exists")
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	case u.Status == StatusDisabled:
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "the user is disabled")
	case u.Status != StatusConfirmed:
		// Reset and not yet changed: every token predates the reset, even
		// one from the reset's own second.
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "the password was reset: sign in again")
	case issuedBefore(c.IssuedAt.Time, u.tokensAfter):
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "the token was issued before the password was reset: sign in again")
	case u.Role != c.Role:
		return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "the user's role has changed since the token was issued: sign in again")
	}
	return c, nil
}

// PublicJWK returns this region's public key.
func (s *Service) PublicJWK() (PublicJWK, error) { return s.Key.PublicJWK() }

// LookupKey returns the public key with the given ID: this region's own, or
// one from the signing_keys table. An ID it does not know makes it read the
// table again (at most every keyReloadInterval), so a key that has just
// replicated is found at once.
func (s *Service) LookupKey(kid string) (*ecdsa.PublicKey, bool) {
	if kid == s.Key.ID && s.Key.Private != nil {
		return &s.Key.Private.PublicKey, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[kid]; ok {
		return k, true
	}
	if time.Since(s.keysLoaded) < keyReloadInterval {
		return nil, false
	}
	s.keysLoaded = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	keys, err := s.readKeys(ctx)
	if err != nil {
		s.logger().Warn("read signing keys", "err", err)
		return nil, false
	}
	set := make(KeySet, len(keys))
	for _, j := range keys {
		pub, err := j.PublicKey()
		if err != nil {
			s.logger().Warn("skip a bad signing key", "kid", j.Kid, "err", err)
			continue
		}
		set[j.Kid] = pub
	}
	s.keys = set
	k, ok := set[kid]
	return k, ok
}

// readKeys returns the keys in the signing_keys table, by key ID.
func (s *Service) readKeys(ctx context.Context) ([]PublicJWK, error) {
	var out []PublicJWK
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT jwk FROM signing_keys ORDER BY kid`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var raw string
			if err := rows.Scan(&raw); err != nil {
				return err
			}
			var j PublicJWK
			if err := json.Unmarshal([]byte(raw), &j); err != nil {
				return fmt.Errorf("signing key %q: %w", raw, err)
			}
			out = append(out, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	return out, nil
}

// JWKS returns every region's public keys: this region's own and those in the
// signing_keys table, ordered by key ID.
func (s *Service) JWKS(ctx context.Context) (JWKS, error) {
	own, err := s.PublicJWK()
	if err != nil {
		return JWKS{}, err
	}
	keys, err := s.readKeys(ctx)
	if err != nil {
		return JWKS{}, err
	}
	set := JWKS{Keys: []PublicJWK{own}}
	for _, j := range keys {
		if j.Kid != own.Kid {
			set.Keys = append(set.Keys, j)
		}
	}
	sort.Slice(set.Keys, func(a, b int) bool { return set.Keys[a].Kid < set.Keys[b].Kid })
	return set, nil
}

// PublishKey records region's public key in the replicated signing_keys
// table, so that every region accepts the tokens it signs. The key ID must be
// the key's thumbprint. It writes only when the key is missing, so the writer
// may call it as often as it likes; at a standby it returns ENOTWRITER.
func (s *Service) PublishKey(ctx context.Context, region string, j PublicJWK) error {
	if _, err := j.PublicKey(); err != nil {
		return tandem.Errorf(tandem.EINVALID, "signing key of %s: %v", region, err)
	}
	if j.Thumbprint() != j.Kid {
		return tandem.Errorf(tandem.EINVALID, "signing key of %s: kid %q is not the key's thumbprint", region, j.Kid)
	}
	if ok, err := s.hasKey(ctx, j.Kid); err != nil || ok {
		return err
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx tandem.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM signing_keys WHERE kid = ?`, j.Kid).Scan(&n); err != nil || n > 0 {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, region, jwk, added_us) VALUES (?, ?, ?, ?)`, j.Kid, region, string(raw), s.now().UnixMicro())
		return err
	})
}

// PublishOwnKey records this region's own public key; see PublishKey.
func (s *Service) PublishOwnKey(ctx context.Context) error {
	j, err := s.PublicJWK()
	if err != nil {
		return err
	}
	return s.PublishKey(ctx, s.Region, j)
}

func (s *Service) hasKey(ctx context.Context, kid string) (bool, error) {
	var n int
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM signing_keys WHERE kid = ?`, kid).Scan(&n)
	})
	return n > 0, err
}

// notFound turns sql.ErrNoRows into ENOTFOUND with msg.
func notFound(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return tandem.Errorf(tandem.ENOTFOUND, "%s", msg)
	}
	return err
}
