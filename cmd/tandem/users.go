package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/control"
	"github.com/tandemhq/tandem/httpapi"
)

// adminCredentialsFile is where `tandem up` keeps the admin it created.
const adminCredentialsFile = "admin-credentials"

// apiTarget is how the users, clients and token commands reach a
// deployment's API: through the edge, which sends the admin endpoints to the
// writer. With --dir, the edge of that deployment and the cluster secret in
// it; remotely, --url (or the controller URL, which under an embedded
// controller is the edge) with the cluster secret in TANDEM_SECRET, or an
// admin's token in TANDEM_TOKEN.
type apiTarget struct {
	target
	url string
}

func (t *apiTarget) flags(fs *flag.FlagSet) {
	t.target.flags(fs)
	fs.StringVar(&t.url, "url", os.Getenv("TANDEM_URL"), "edge `URL` of a remote deployment (env TANDEM_URL; default: the controller URL)")
}

// connect returns a client of the API (see client) and a context that ends
// after timeout; the caller calls cancel.
func (t *apiTarget) connect(timeout time.Duration) (*control.Client, context.Context, context.CancelFunc, error) {
	return connectWith(t.client, timeout)
}

// client returns a client of the API that authenticates with TANDEM_TOKEN
// when it is set, else with the cluster secret.
func (t *apiTarget) client() (*control.Client, error) {
	token := os.Getenv("TANDEM_TOKEN")
	if remote := cmp.Or(t.url, t.controller); remote != "" && token != "" {
		return &control.Client{URL: remote, Secret: token, HTTP: &http.Client{Timeout: 30 * time.Second}}, nil
	}
	c, err := t.target.client()
	if err != nil {
		return nil, err
	}
	c.URL = cmp.Or(t.url, c.URL)
	c.Secret = cmp.Or(token, c.Secret)
	c.HTTP = &http.Client{Timeout: 30 * time.Second}
	return c, nil
}

// runUsers is `tandem users add|list|disable|reset`.
func runUsers(args []string) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	var t apiTarget
	t.flags(fs)
	email := fs.String("email", "", "the new user's email `address`")
	admin := fs.Bool("admin", false, "give the new user the admin role")
	if err := parse(fs, args, `Usage: tandem users add NAME --email ADDRESS [--admin]
       tandem users list
       tandem users disable NAME
       tandem users reset NAME
       tandem users role NAME admin|user

Manages the users who sign in. add prints a temporary password, which the user
must replace at the first sign-in (within 7 days); reset gives a new one (and
enables a disabled user); disable stops a user signing in and refuses the
tokens they hold; role changes a user's role, refusing their tokens until they
sign in or refresh again.

`); err != nil {
		return err
	}
	rest := fs.Args()
	switch {
	case len(rest) == 2 && rest[0] == "add" && *email != "":
	case len(rest) == 1 && rest[0] == "list":
	case len(rest) == 2 && (rest[0] == "disable" || rest[0] == "reset"):
	case len(rest) == 3 && rest[0] == "role":
	default:
		fs.Usage()
		return errUsage
	}
	c, ctx, cancel, err := t.connect(30 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	var resp httpapi.UserResponse
	switch rest[0] {
	case "add":
		role := auth.RoleUser
		if *admin {
			role = auth.RoleAdmin
		}
		err = c.Do(ctx, http.MethodPost, "/api/admin/users", auth.NewUser{Username: rest[1], Email: *email, Role: role}, &resp)
	case "list":
		var list struct{ Users []auth.User }
		if err := c.Do(ctx, http.MethodGet, "/api/admin/users", nil, &list); err != nil {
			return err
		}
		printUsers(os.Stdout, list.Users)
		return nil
	case "role":
		err = c.Do(ctx, http.MethodPost, "/api/admin/users/"+url.PathEscape(rest[1])+"/role", httpapi.RoleRequest{Role: rest[2]}, &resp)
	default:
		err = c.Do(ctx, http.MethodPost, "/api/admin/users/"+url.PathEscape(rest[1])+"/"+rest[0], nil, &resp)
	}
	if err != nil {
		return err
	}
	u := resp.User
	fmt.Printf("%s (%s, %s): %s\n", u.Username, u.Email, u.Role, u.Status)
	if resp.TemporaryPassword != "" {
		fmt.Printf("temporary password: %s\n(to be replaced at the first sign-in, within %d days)\n", resp.TemporaryPassword, int(auth.TemporaryPasswordTTL.Hours()/24))
	}
	return nil
}

func printUsers(w io.Writer, users []auth.User) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tEMAIL\tROLE\tSTATUS\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Email, u.Role, u.Status, u.Created.Format(time.RFC3339))
	}
	tw.Flush()
}

// scopeList is a repeatable --scope flag.
type scopeList []string

func (s *scopeList) String() string     { return strings.Join(*s, " ") }
func (s *scopeList) Set(v string) error { *s = append(*s, strings.Fields(v)...); return nil }

// runClients is `tandem clients add|list|delete`.
func runClients(args []string) error {
	fs := flag.NewFlagSet("clients", flag.ContinueOnError)
	var t apiTarget
	t.flags(fs)
	var scopes scopeList
	fs.Var(&scopes, "scope", "a `scope` the client may ask for, such as api/upsert-delete (repeatable)")
	if err := parse(fs, args, `Usage: tandem clients add NAME --scope SCOPE [--scope SCOPE...]
       tandem clients list
       tandem clients delete CLIENT_ID

Manages OAuth2 clients, which get access tokens with HTTP Basic and
grant_type=client_credentials at /api/oauth2/token. add prints the client's
id and secret: the secret is shown this once. delete revokes a client: it
gets no new token and the tokens it holds are refused at once.

`); err != nil {
		return err
	}
	rest := fs.Args()
	switch {
	case len(rest) == 2 && rest[0] == "add" && len(scopes) > 0:
	case len(rest) == 1 && rest[0] == "list":
	case len(rest) == 2 && rest[0] == "delete":
	default:
		fs.Usage()
		return errUsage
	}
	c, ctx, cancel, err := t.connect(30 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	if rest[0] == "list" {
		var list struct{ Clients []auth.Client }
		if err := c.Do(ctx, http.MethodGet, "/api/admin/clients", nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCLIENT ID\tSCOPE\tCREATED")
		for _, cl := range list.Clients {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cl.Name, cl.ID, cl.Scope, cl.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	if rest[0] == "delete" {
		if err := c.Do(ctx, http.MethodDelete, "/api/admin/clients/"+url.PathEscape(rest[1]), nil, nil); err != nil {
			return err
		}
		fmt.Printf("client %s deleted; its tokens are refused from now on\n", rest[1])
		return nil
	}
	var resp httpapi.ClientResponse
	if err := c.Do(ctx, http.MethodPost, "/api/admin/clients", httpapi.NewClientRequest{Name: rest[1], Scope: scopes.String()}, &resp); err != nil {
		return err
	}
	fmt.Printf("client id:     %s\nclient secret: %s\nscope:         %s\n(the secret is shown this once)\n", resp.Client.ID, resp.ClientSecret, resp.Client.Scope)
	return nil
}

// adminCredentials is the admin user `tandem up` created, as kept in its
// data directory: a file a shell can source.
type adminCredentials struct {
	Username, Password string
}

func readAdminCredentials(path string) (adminCredentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return adminCredentials{}, err
	}
	var c adminCredentials
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch k {
		case "TANDEM_ADMIN_USER":
			c.Username = v
		case "TANDEM_ADMIN_PASSWORD":
			c.Password = v
		}
	}
	if c.Username == "" || c.Password == "" {
		return c, fmt.Errorf("%s has no TANDEM_ADMIN_USER and TANDEM_ADMIN_PASSWORD", path)
	}
	return c, nil
}

// write saves the credentials at path (mode 0600). Passwords tandem makes
// need no quoting in a shell.
func (c adminCredentials) write(path string) error {
	return writeFileAtomic(path, fmt.Appendf(nil, `# The admin user 'tandem up' created. Source this file for the two variables;
# 'tandem token' signs in with them (replacing a temporary password with a
# new one it writes here).
TANDEM_ADMIN_USER=%s
TANDEM_ADMIN_PASSWORD=%s
`, c.Username, c.Password))
}

// ensureAdmin creates the admin user on the first run of up, through the
// edge with the cluster secret, and keeps its temporary password in the data
// directory. It returns that password when it has just created it.
//
// The writer may need a moment to take its lease, so a refusal (503) is
// retried for a while. Such a refusal may still have committed (a write the
// standby did not confirm in time, in sync mode), and the retry then finds
// the admin exists: up chooses the temporary password itself so that it can
// tell, by signing in with it, that the admin is the one it created.
func (d *deployment) ensureAdmin() (string, error) {
	path := filepath.Join(d.opts.dir, adminCredentialsFile)
	if _, err := os.Stat(path); err == nil {
		return "", nil
	}
	secret, err := readSecret(filepath.Join(d.opts.dir, "secret"))
	if err != nil {
		return "", err
	}
	c := &control.Client{URL: d.edgeURL, Secret: secret, HTTP: &http.Client{Timeout: 10 * time.Second}}
	creds := adminCredentials{Username: "admin", Password: auth.NewTemporaryPassword()}
	req := auth.NewUser{Username: creds.Username, Email: "admin@localhost", Role: auth.RoleAdmin, TemporaryPassword: creds.Password}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var resp httpapi.UserResponse
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = c.Do(ctx, http.MethodPost, "/api/admin/users", req, &resp)
		if tandem.ErrorCode(err) == tandem.ECONFLICT && signsIn(ctx, c, creds) {
			err = nil
		}
		cancel()
		if err == nil || tandem.ErrorCode(err) != tandem.EUNAVAILABLE || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if tandem.ErrorCode(err) == tandem.ECONFLICT {
		return "", fmt.Errorf("an admin user exists but %s is missing: 'tandem users reset admin --dir %s' gives it a new temporary password", path, d.opts.dir)
	}
	if err != nil {
		return "", fmt.Errorf("create the admin user: %w", err)
	}
	if err := creds.write(path); err != nil {
		return "", fmt.Errorf("keep the admin's credentials: %w", err)
	}
	return creds.Password, nil
}

// loginResult is the answer to a sign-in: tokens or a challenge.
type loginResult struct {
	auth.Tokens
	auth.Challenge
}

func login(ctx context.Context, c *control.Client, creds adminCredentials) (loginResult, error) {
	var res loginResult
	err := c.Do(ctx, http.MethodPost, "/api/auth/login", httpapi.LoginRequest{Username: creds.Username, Password: creds.Password}, &res)
	return res, err
}

// signsIn reports whether creds sign in (to a challenge or tokens).
func signsIn(ctx context.Context, c *control.Client, creds adminCredentials) bool {
	_, err := login(ctx, c, creds)
	return err == nil
}

// runToken is `tandem token`: it signs in as the admin `up` created and
// prints an access token, for curl's Authorization header.
func runToken(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	var t apiTarget
	t.flags(fs)
	idToken := fs.Bool("id", false, "print the ID token instead of the access token")
	if err := parse(fs, args, `Usage: tandem token [--dir DIR] [--id]

Signs in as the admin user that 'tandem up' created, with the credentials it
keeps in DIR/admin-credentials, and prints an access token. The first time,
it answers the new-password challenge with a new random password, which it
writes to that file.

`); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		fs.Usage()
		return errUsage
	}
	c, err := t.client()
	if err != nil {
		return err
	}
	path := filepath.Join(t.dir, adminCredentialsFile)
	creds, err := readAdminCredentials(path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tokens, err := signIn(ctx, c, creds, path)
	if err != nil {
		return err
	}
	if *idToken {
		fmt.Println(tokens.IDToken)
	} else {
		fmt.Println(tokens.AccessToken)
	}
	return nil
}

// signIn signs in with creds. A new-password challenge is answered with a
// new random password, saved at path before it is sent, and the old one put
// back if the answer fails, so the file always holds a password that works.
// A refused answer may still have been saved (a write the standby did not
// confirm in time, in sync mode), so the new password is tried first.
func signIn(ctx context.Context, c *control.Client, creds adminCredentials, path string) (auth.Tokens, error) {
	res, err := login(ctx, c, creds)
	if err != nil {
		return auth.Tokens{}, fmt.Errorf("sign in as %s with the password in %s: %w", creds.Username, path, err)
	}
	if res.Challenge.Name == "" {
		return res.Tokens, nil
	}
	if res.Challenge.Name != auth.ChallengeNewPassword {
		return auth.Tokens{}, fmt.Errorf("sign in: unexpected challenge %q", res.Challenge.Name)
	}
	next := adminCredentials{Username: creds.Username, Password: auth.NewTemporaryPassword()}
	if err := next.write(path); err != nil {
		return auth.Tokens{}, err
	}
	var tokens auth.Tokens
	req := httpapi.RespondRequest{ChallengeName: res.Challenge.Name, Session: res.Challenge.Session, NewPassword: next.Password}
	if err := c.Do(ctx, http.MethodPost, "/api/auth/respond", req, &tokens); err != nil {
		if res, lerr := login(ctx, c, next); lerr == nil && res.Challenge.Name == "" {
			return res.Tokens, nil
		}
		return auth.Tokens{}, fmt.Errorf("set a new password: %w", errors.Join(err, creds.write(path)))
	}
	fmt.Fprintf(os.Stderr, "tandem: the admin's temporary password was replaced; the new one is in %s\n", path)
	return tokens, nil
}
