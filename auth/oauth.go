package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
)

// Limits on OAuth client fields.
const (
	MaxClientNameLength = 64
	MaxScopeLength      = 64
	MaxScopes           = 16
)

// Client is an OAuth2 client as admins see it. Its secret is kept only as a
// hash and shown once, when the client is created.
type Client struct {
	ID      string    `json:"clientId"`
	Name    string    `json:"name"`
	Scope   string    `json:"scope"` // space-separated
	Created time.Time `json:"created"`
}

// ClientToken is the client-credentials grant's answer, in RFC 6749's shape.
type ClientToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// ParseScope splits a space-separated scope list and checks every scope: 1
// to MaxScopeLength characters of letters, digits and "/_-.:", such as
// api/upsert-delete. Returns EINVALID otherwise.
func ParseScope(scope string) ([]string, error) {
	scopes := strings.Fields(scope)
	if len(scopes) == 0 || len(scopes) > MaxScopes {
		return nil, tandem.Errorf(tandem.EINVALID, "scope must list 1 to %d scopes, such as api/upsert-delete", MaxScopes)
	}
	for _, sc := range scopes {
		ok := len(sc) <= MaxScopeLength
		for i := 0; ok && i < len(sc); i++ {
			c := sc[i]
			ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/_-.:", c) >= 0
		}
		if !ok {
			return nil, tandem.Errorf(tandem.EINVALID, "scope %q must be 1 to %d letters, digits or /_-.:", sc, MaxScopeLength)
		}
	}
	return scopes, nil
}

// CreateClient creates an OAuth2 client with the given scopes and returns it
// with its secret, which is not kept and cannot be shown again. Returns
// EINVALID for a bad name or scope.
func (s *Service) CreateClient(ctx context.Context, name, scope string) (Client, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxClientNameLength {
		return Client{}, "", tandem.Errorf(tandem.EINVALID, "client name must be 1 to %d characters", MaxClientNameLength)
	}
	scopes, err := ParseScope(scope)
	if err != nil {
		return Client{}, "", err
	}
	id, secret := NewClientCredentials()
	c := Client{ID: id, Name: name, Scope: strings.Join(scopes, " "), Created: s.now()}
	err = s.Store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO clients (client_id, name, secret_hash, scope, created_us) VALUES (?, ?, ?, ?, ?)`,
			c.ID, c.Name, HashClientSecret(secret), c.Scope, c.Created.UnixMicro())
		return err
	})
	if err != nil {
		return Client{}, "", fmt.Errorf("create client: %w", err)
	}
	return c, secret, nil
}

// ListClients returns every OAuth2 client, by name.
func (s *Service) ListClients(ctx context.Context) ([]Client, error) {
	out := []Client{}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT client_id, name, scope, created_us FROM clients ORDER BY name, client_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Client
			var created int64
			if err := rows.Scan(&c.ID, &c.Name, &c.Scope, &created); err != nil {
				return err
			}
			c.Created = time.UnixMicro(created).UTC()
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// DeleteClient deletes an OAuth2 client: it gets no new token, and the
// tokens it holds are refused from then on (see Authenticate). Returns
// ENOTFOUND if there is no such client.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	return s.Store.Update(ctx, func(tx tandem.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM clients WHERE client_id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete client: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete client: %w", err)
		} else if n == 0 {
			return tandem.Errorf(tandem.ENOTFOUND, "no such client %q", id)
		}
		return nil
	})
}

// clientExists reports whether the OAuth2 client id exists.
func (s *Service) clientExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM clients WHERE client_id = ?`, id).Scan(&n)
	})
	return n > 0, err
}

// IssueClientToken is the OAuth2 client-credentials grant: it checks the
// client's ID and secret and returns an access token with the scopes asked
// for (all of the client's when scope is empty). It only reads, so any region
// can answer. Returns EUNAUTHORIZED for an unknown client or a wrong secret,
// alike, and EINVALID for a scope the client does not have.
func (s *Service) IssueClientToken(ctx context.Context, id, secret, scope string) (ClientToken, error) {
	var hash, granted string
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		return tx.QueryRow(ctx, `SELECT secret_hash, scope FROM clients WHERE client_id = ?`, id).Scan(&hash, &granted)
	})
	err = notFound(err, "no such client")
	switch code := tandem.ErrorCode(err); {
	case code == tandem.ENOTFOUND:
		hash = clientSecretHashPrefix // never matches; the check still runs
	case err != nil:
		return ClientToken{}, fmt.Errorf("client token: %w", err)
	}
	if !CheckClientSecret(hash, secret) || err != nil {
		return ClientToken{}, tandem.Errorf(tandem.EUNAUTHORIZED, "invalid client credentials")
	}
	if scope == "" {
		scope = granted
	}
	scopes, err := ParseScope(scope)
	if err != nil {
		return ClientToken{}, err
	}
	have := strings.Fields(granted)
	for _, sc := range scopes {
		if !slices.Contains(have, sc) {
			return ClientToken{}, tandem.Errorf(tandem.EINVALID, "scope %q is not granted to this client", sc)
		}
	}
	claims := Claims{TokenUse: TokenUseAccess, ClientID: id, Scope: strings.Join(scopes, " "), RegisteredClaims: subject(id)}
	token, err := s.sign(ctx, ttlOr(s.TokenTTL, DefaultTokenTTL), claims)
	if err != nil {
		return ClientToken{}, err
	}
	return ClientToken{AccessToken: token, TokenType: "Bearer", ExpiresIn: int(ttlOr(s.TokenTTL, DefaultTokenTTL).Seconds())}, nil
}
