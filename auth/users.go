package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tandemhq/tandem"
)

// UserStatus is where a user account stands.
type UserStatus string

// The user statuses, named as in the reference user pool.
const (
	// StatusForceChangePassword: the user has a temporary password and must
	// choose a new one at the next sign-in.
	StatusForceChangePassword UserStatus = "FORCE_CHANGE_PASSWORD"
	StatusConfirmed           UserStatus = "CONFIRMED"
	StatusDisabled            UserStatus = "DISABLED"
)

// MaxEmailLength is the longest email address accepted (RFC 5321's path limit).
const MaxEmailLength = 254

// User is a user account as admins see it. The password hash never leaves
// the service.
type User struct {
	ID       string     `json:"userId"`
	Username string     `json:"username"`
	Email    string     `json:"email"`
	Role     string     `json:"role"`
	Status   UserStatus `json:"status"`
	Created  time.Time  `json:"created"`
	Updated  time.Time  `json:"updated"`

	passwordHash string
	passwordSet  time.Time // when the current password was set
	tokensAfter  time.Time // refresh and challenge tokens issued before are refused
}

// NewUser is what an admin gives to create a user.
type NewUser struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Role     string `json:"role"` // RoleUser if empty
	// TemporaryPassword is the password the user must replace at the first
	// sign-in; one is made if it is empty. A caller that chooses it can tell,
	// after a create whose answer it did not get, whether it took effect.
	TemporaryPassword string `json:"temporaryPassword,omitempty"`
}

// normalizeUsername returns the form a username is stored and looked up in:
// usernames are case-insensitive.
func normalizeUsername(name string) string { return strings.ToLower(name) }

// validateEmail checks an email address and returns its stored form: a bare
// address, lowercased.
func validateEmail(email string) (string, error) {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > MaxEmailLength {
		return "", tandem.Errorf(tandem.EINVALID, "email must be a plain address such as ana@example.com")
	}
	return strings.ToLower(email), nil
}

func validateRole(role string) (string, error) {
	switch role {
	case "":
		return RoleUser, nil
	case RoleUser, RoleAdmin:
		return role, nil
	}
	return "", tandem.Errorf(tandem.EINVALID, "role must be %s or %s", RoleUser, RoleAdmin)
}

func (n NewUser) validate() (NewUser, error) {
	if err := ValidateUsername(n.Username); err != nil {
		return n, err
	}
	email, err := validateEmail(n.Email)
	if err != nil {
		return n, err
	}
	role, err := validateRole(n.Role)
	if err != nil {
		return n, err
	}
	return NewUser{Username: normalizeUsername(n.Username), Email: email, Role: role}, nil
}

// CreateUser creates a user with a temporary password, which it returns: the
// user must choose a new password at the first sign-in, within
// TemporaryPasswordTTL. Returns EINVALID for a bad username, email, role or
// temporary password and ECONFLICT if the username or email is taken.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (User, string, error) {
	temp := n.TemporaryPassword
	if temp == "" {
		temp = NewTemporaryPassword()
	} else if err := ValidatePassword(temp); err != nil {
		return User{}, "", err
	}
	n, err := n.validate()
	if err != nil {
		return User{}, "", err
	}
	u, err := s.insertUser(ctx, n, temp, StatusForceChangePassword)
	return u, temp, err
}

// SignUp creates a user with the user role and the password they chose.
// Returns EFORBIDDEN unless AllowSignup is set, EINVALID for a bad username,
// email or password, and ECONFLICT if the username or email is taken: unlike
// sign-in, sign-up cannot help telling that a name is in use, which is one
// reason it is off by default.
func (s *Service) SignUp(ctx context.Context, username, email, password string) (User, error) {
	if !s.AllowSignup {
		return User{}, tandem.Errorf(tandem.EFORBIDDEN, "sign-up is turned off: an admin creates users")
	}
	n, err := NewUser{Username: username, Email: email, Role: RoleUser}.validate()
	if err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	return s.insertUser(ctx, n, password, StatusConfirmed)
}

func (s *Service) insertUser(ctx context.Context, n NewUser, password string, status UserStatus) (User, error) {
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{
		ID: uuid.NewString(), Username: n.Username, Email: n.Email, Role: n.Role, Status: status,
		Created: now, Updated: now, passwordHash: hash, passwordSet: now, tokensAfter: now,
	}
	err = s.Store.Update(ctx, func(tx tandem.Tx) error {
		var taken string
		err := tx.QueryRow(ctx, `SELECT CASE WHEN username = ? THEN 'username' ELSE 'email' END FROM users WHERE username = ? OR email = ? LIMIT 1`,
			u.Username, u.Username, u.Email).Scan(&taken)
		switch {
		case err == nil:
			return tandem.Errorf(tandem.ECONFLICT, "that %s is already in use", taken)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO users (user_id, username, email, role, status, password_hash, password_set_us, tokens_after_us, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, u.Email, u.Role, string(u.Status), u.passwordHash, now.UnixMicro(), now.UnixMicro(), now.UnixMicro(), now.UnixMicro())
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

const userColumns = `user_id, username, email, role, status, password_hash, password_set_us, tokens_after_us, created_us, updated_us`

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (User, error) {
	var u User
	var status string
	var set, after, created, updated int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Role, &status, &u.passwordHash, &set, &after, &created, &updated); err != nil {
		return User{}, err
	}
	u.Status = UserStatus(status)
	u.passwordSet, u.tokensAfter = time.UnixMicro(set).UTC(), time.UnixMicro(after).UTC()
	u.Created, u.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return u, nil
}

// findUser reads the user whose username or email is name, in tx.
func findUser(ctx context.Context, tx tandem.Tx, name string) (User, error) {
	col := "username"
	if strings.Contains(name, "@") {
		col = "email"
	}
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+col+` = ?`, strings.ToLower(name)))
	return u, notFound(err, "no such user")
}

// FindUser returns the user whose username or email is name. Returns
// ENOTFOUND if there is none.
func (s *Service) FindUser(ctx context.Context, name string) (User, error) {
	var u User
	err := s.Store.View(ctx, func(tx tandem.Tx) (err error) {
		u, err = findUser(ctx, tx, name)
		return err
	})
	return u, err
}

func (s *Service) findUserByID(ctx context.Context, id string) (User, error) {
	var u User
	err := s.Store.View(ctx, func(tx tandem.Tx) (err error) {
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE user_id = ?`, id))
		return notFound(err, "no such user")
	})
	return u, err
}

// ListUsers returns every user, by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	out := []User{}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// DisableUser stops a user from signing in and refreshing tokens; the access
// and ID tokens already issued are refused from then on (Authenticate checks
// the store). Returns ENOTFOUND if there is no such user.
func (s *Service) DisableUser(ctx context.Context, name string) (User, error) {
	return s.updateUserChecked(ctx, name, func(ctx context.Context, tx tandem.Tx, u User) error {
		return lastAdmin(ctx, tx, u, "disabled")
	}, func(u *User, now time.Time) {
		u.Status, u.tokensAfter = StatusDisabled, now
	})
}

// lastAdmin refuses, with ECONFLICT, to take the admin role from the last
// enabled admin: people could then manage users only with the cluster
// secret.
func lastAdmin(ctx context.Context, tx tandem.Tx, u User, what string) error {
	if u.Role != RoleAdmin || u.Status == StatusDisabled {
		return nil
	}
	var others int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = ? AND status <> ? AND user_id <> ?`, RoleAdmin, string(StatusDisabled), u.ID).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return tandem.Errorf(tandem.ECONFLICT, "%s is the last enabled admin and cannot be %s: make another admin first", u.Username, what)
	}
	return nil
}

// ResetPassword gives a user a new temporary password, which it returns, and
// refuses every refresh token issued before. It also enables a disabled user.
// Returns ENOTFOUND if there is no such user.
func (s *Service) ResetPassword(ctx context.Context, name string) (User, string, error) {
	temp := NewTemporaryPassword()
	hash, err := HashPassword(temp)
	if err != nil {
		return User{}, "", err
	}
	u, err := s.updateUser(ctx, name, func(u *User, now time.Time) {
		u.Status, u.passwordHash, u.passwordSet, u.tokensAfter = StatusForceChangePassword, hash, now, now
	})
	return u, temp, err
}

// SetRole gives a user the role user or admin. Their tokens name the old
// role, so they are refused from then on (see Authenticate) and the user
// refreshes or signs in again. Returns EINVALID for another role and
// ENOTFOUND if there is no such user.
func (s *Service) SetRole(ctx context.Context, name, role string) (User, error) {
	if role == "" {
		return User{}, tandem.Errorf(tandem.EINVALID, "missing field: role (%s or %s)", RoleUser, RoleAdmin)
	}
	role, err := validateRole(role)
	if err != nil {
		return User{}, err
	}
	return s.updateUserChecked(ctx, name, func(ctx context.Context, tx tandem.Tx, u User) error {
		if role == RoleAdmin {
			return nil
		}
		return lastAdmin(ctx, tx, u, "made a user")
	}, func(u *User, now time.Time) { u.Role = role })
}

// updateUser reads the user name, lets change alter it and writes it back.
func (s *Service) updateUser(ctx context.Context, name string, change func(u *User, now time.Time)) (User, error) {
	return s.updateUserChecked(ctx, name, nil, change)
}

// updateUserChecked is updateUser that first lets check (if not nil)
// refuse the change, in the same transaction.
func (s *Service) updateUserChecked(ctx context.Context, name string, check func(context.Context, tandem.Tx, User) error, change func(u *User, now time.Time)) (User, error) {
	var u User
	err := s.Store.Update(ctx, func(tx tandem.Tx) (err error) {
		if u, err = findUser(ctx, tx, name); err != nil {
			return err
		}
		if check != nil {
			if err := check(ctx, tx, u); err != nil {
				return err
			}
		}
		return writeUser(ctx, tx, &u, s.now(), change)
	})
	if err != nil {
		return User{}, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}

// writeUser applies change to u and writes the fields a change may touch.
func writeUser(ctx context.Context, tx tandem.Tx, u *User, now time.Time, change func(u *User, now time.Time)) error {
	change(u, now)
	u.Updated = now
	_, err := tx.Exec(ctx, `UPDATE users SET role = ?, status = ?, password_hash = ?, password_set_us = ?, tokens_after_us = ?, updated_us = ? WHERE user_id = ?`,
		u.Role, string(u.Status), u.passwordHash, u.passwordSet.UnixMicro(), u.tokensAfter.UnixMicro(), now.UnixMicro(), u.ID)
	return err
}

// issuedBefore reports whether a token issued at iat predates t. Token times
// have whole seconds, so a token from the same second as t counts as after:
// the tokens issued right after a password change must be valid.
func issuedBefore(iat, t time.Time) bool {
	return iat.Unix() < t.Unix()
}
