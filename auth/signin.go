package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tandemhq/tandem"
)

// ChallengeNewPassword is the challenge of a sign-in with a temporary
// password: choose a new one.
const ChallengeNewPassword = "NEW_PASSWORD_REQUIRED"

// Tokens are what a successful sign-in returns. RefreshToken is left out
// when tokens are refreshed: a refresh token is used until it expires or is
// revoked, so refreshing writes nothing and works in every region.
type Tokens struct {
	IDToken      string `json:"idToken"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"` // seconds
}

// Challenge is what a sign-in returns instead of tokens when the user must do
// something first. Session goes back with the answer.
type Challenge struct {
	Name    string `json:"challengeName"`
	Session string `json:"session"`
}

// LoginResult holds either tokens or a challenge.
type LoginResult struct {
	*Tokens
	*Challenge
}

// RetryError is a refusal that says when to try again.
type RetryError struct {
	Err   *tandem.Error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// errBadCredentials is the one answer to an unknown user and a wrong
// password alike.
func errBadCredentials() error {
	return tandem.Errorf(tandem.EUNAUTHORIZED, "incorrect username or password")
}

// dummyHash returns a hash to check passwords of unknown users against, so
// that they take as long to refuse as a wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = HashPassword(NewTemporaryPassword())
	})
	return s.dummy
}

// Login signs in the user whose username or email is name, from the client
// address ip (for throttling). It returns tokens, or a challenge when the
// user has a temporary password.
//
// An unknown user and a wrong password give the same EUNAUTHORIZED error
// after the same work (a password hash check). Past the throttle's free
// attempts it returns a *RetryError with code ETOOMANY, whether or not the
// user exists. Only once the password is right does it tell a disabled
// account or an expired temporary password apart.
func (s *Service) Login(ctx context.Context, name, password, ip string) (LoginResult, error) {
	now := s.now()
	if s.Throttle != nil {
		if wait, ok := s.Throttle.Allow(name, ip, now); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			return LoginResult{}, &RetryError{
				Err:   tandem.Errorf(tandem.ETOOMANY, "too many failed sign-ins: try again in %d seconds", secs),
				After: wait,
			}
		}
	}
	u, err := s.FindUser(ctx, name)
	hash := u.passwordHash
	switch {
	case tandem.ErrorCode(err) == tandem.ENOTFOUND:
		hash = s.dummyHash()
	case err != nil:
		return LoginResult{}, fmt.Errorf("sign in: %w", err)
	}
	if !CheckPassword(hash, password) || err != nil {
		if s.Throttle != nil {
			s.Throttle.Failure(name, ip, now)
		}
		return LoginResult{}, errBadCredentials()
	}
	if s.Throttle != nil {
		s.Throttle.Success(name, ip)
	}
	switch u.Status {
	case StatusConfirmed:
		t, err := s.issueTokens(ctx, u, true)
		return LoginResult{Tokens: &t}, err
	case StatusForceChangePassword:
		if now.Sub(u.passwordSet) > TemporaryPasswordTTL {
			return LoginResult{}, tandem.Errorf(tandem.EUNAUTHORIZED, "the temporary password has expired: ask an admin to reset it")
		}
		session, err := s.sign(ctx, ttlOr(s.ChallengeTTL, DefaultChallengeTTL), Claims{TokenUse: TokenUseChallenge, Username: u.Username, RegisteredClaims: subject(u.ID)})
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{Challenge: &Challenge{Name: ChallengeNewPassword, Session: session}}, nil
	default:
		return LoginResult{}, tandem.Errorf(tandem.EUNAUTHORIZED, "this account is disabled")
	}
}

// RespondNewPassword answers a new-password challenge: it checks the session
// a Login returned and the password policy, sets the password and signs the
// user in. It writes, so it needs the writer. Returns EUNAUTHORIZED for a
// bad, expired or used session and EINVALID for a password the policy
// refuses.
func (s *Service) RespondNewPassword(ctx context.Context, session, newPassword string) (Tokens, error) {
	c, err := s.verifier(TokenUseChallenge).Verify(session)
	if err != nil {
		return Tokens{}, sessionError(err)
	}
	if err := ValidatePassword(newPassword); err != nil {
		return Tokens{}, err
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return Tokens{}, err
	}
	var u User
	err = s.Store.Update(ctx, func(tx tandem.Tx) (err error) {
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE user_id = ?`, c.Subject))
		if err != nil {
			return notFound(err, "no such user")
		}
		if u.Status != StatusForceChangePassword || issuedBefore(c.IssuedAt.Time, u.tokensAfter) {
			return tandem.Errorf(tandem.EUNAUTHORIZED, "the sign-in session is no longer valid: sign in again")
		}
		return writeUser(ctx, tx, &u, s.now(), func(u *User, now time.Time) {
			// Tokens from before the change stay refused once the user is
			// confirmed again; the ones issued now, in this second, are valid.
			u.Status, u.passwordHash, u.passwordSet, u.tokensAfter = StatusConfirmed, hash, now, now
		})
	})
	if err != nil {
		return Tokens{}, sessionError(err)
	}
	return s.issueTokens(ctx, u, true)
}

// sessionError makes a session the token checks refused, or whose user has
// gone, read as one error.
func sessionError(err error) error {
	switch tandem.ErrorCode(err) {
	case tandem.EUNAUTHORIZED, tandem.ENOTFOUND:
		return tandem.Errorf(tandem.EUNAUTHORIZED, "the sign-in session is not valid: sign in again")
	}
	return err
}

// Refresh returns new ID and access tokens for a refresh token that is valid,
// not revoked, and issued after the user's last password reset, to a user who
// is not disabled. It only reads, so any region can answer. Returns
// EUNAUTHORIZED otherwise.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	c, err := s.verifier(TokenUseRefresh).Verify(refreshToken)
	if err != nil {
		return Tokens{}, err
	}
	refused := tandem.Errorf(tandem.EUNAUTHORIZED, "the refresh token is no longer valid: sign in again")
	var u User
	var revoked int
	err = s.Store.View(ctx, func(tx tandem.Tx) (err error) {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM revoked_tokens WHERE token_id = ?`, c.ID).Scan(&revoked); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE user_id = ?`, c.Subject))
		return notFound(err, "no such user")
	})
	switch {
	case tandem.ErrorCode(err) == tandem.ENOTFOUND:
		return Tokens{}, refused
	case err != nil:
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	case revoked > 0 || u.Status != StatusConfirmed || issuedBefore(c.IssuedAt.Time, u.tokensAfter):
		return Tokens{}, refused
	}
	return s.issueTokens(ctx, u, false)
}

// Logout revokes a refresh token: no region will refresh with it again. It
// writes, so it needs the writer; the revocation replicates to the standby.
// Revoking a token twice, or one that has expired, is not an error. Returns
// EUNAUTHORIZED for a token that is not a valid refresh token.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	c, err := s.verifier(TokenUseRefresh).Verify(refreshToken)
	if err != nil {
		if errExpired(err) {
			return nil
		}
		return err
	}
	now := s.now()
	err = s.Store.Update(ctx, func(tx tandem.Tx) error {
		// Revocations of expired tokens have done their work.
		if _, err := tx.Exec(ctx, `DELETE FROM revoked_tokens WHERE expires_us < ?`, now.Add(-DefaultLeeway).UnixMicro()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM revoked_tokens WHERE token_id = ?`, c.ID).Scan(&n); err != nil || n > 0 {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (token_id, user_id, expires_us, revoked_us) VALUES (?, ?, ?, ?)`,
			c.ID, c.Subject, c.ExpiresAt.Time.UnixMicro(), now.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// issueTokens signs ID and access tokens for u, and a refresh token if asked.
func (s *Service) issueTokens(ctx context.Context, u User, withRefresh bool) (Tokens, error) {
	ttl := ttlOr(s.TokenTTL, DefaultTokenTTL)
	id, err := s.sign(ctx, ttl, Claims{TokenUse: TokenUseID, Username: u.Username, Email: u.Email, Role: u.Role, RegisteredClaims: subject(u.ID)})
	if err != nil {
		return Tokens{}, err
	}
	access, err := s.sign(ctx, ttl, Claims{TokenUse: TokenUseAccess, Username: u.Username, Role: u.Role, RegisteredClaims: subject(u.ID)})
	if err != nil {
		return Tokens{}, err
	}
	t := Tokens{IDToken: id, AccessToken: access, TokenType: "Bearer", ExpiresIn: int(ttl.Seconds())}
	if withRefresh {
		if t.RefreshToken, err = s.sign(ctx, ttlOr(s.RefreshTTL, DefaultRefreshTTL), Claims{TokenUse: TokenUseRefresh, RegisteredClaims: subject(u.ID)}); err != nil {
			return Tokens{}, err
		}
	}
	return t, nil
}

// sign issues a token of the given lifetime, once this region's key is
// recorded if it can be (see recordOwnKey).
func (s *Service) sign(ctx context.Context, ttl time.Duration, c Claims) (string, error) {
	s.recordOwnKey(ctx)
	return s.issuer(ttl).Issue(c)
}

// recordOwnKey makes sure this region's public key is in signing_keys before
// the region signs a token, when it can: at the writer it records the key
// (once), so that the key precedes in the changelog every write made with
// the token, and a standby that has any such write can check the token after
// a failover. A standby cannot write; it signs anyway, and its tokens are
// good elsewhere once the writer has fetched its key.
func (s *Service) recordOwnKey(ctx context.Context) {
	if s.ownKeyRecorded.Load() {
		return
	}
	if ok, err := s.hasKey(ctx, s.Key.ID); err == nil && ok {
		s.ownKeyRecorded.Store(true)
		return
	}
	if err := s.PublishOwnKey(ctx); err == nil {
		s.ownKeyRecorded.Store(true)
	}
}

func ttlOr(ttl, def time.Duration) time.Duration {
	if ttl <= 0 {
		return def
	}
	return ttl
}

func subject(id string) jwt.RegisteredClaims { return jwt.RegisteredClaims{Subject: id} }

// errExpired reports whether err is the verifier's expiry error.
func errExpired(err error) bool {
	var e *tandem.Error
	return errors.As(err, &e) && e.Message == "token has expired"
}
