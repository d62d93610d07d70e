// Package pgserver runs a PostgreSQL server as a child process: initdb into
// a directory the first time, then postgres on a loopback port. `tandem up
// --store postgres` runs one per region with it, and the tests of the
// PostgreSQL store a throwaway one.
package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// ErrNotInstalled says the PostgreSQL programs are not installed.
var ErrNotInstalled = errors.New("PostgreSQL is not installed: initdb and postgres are on neither PATH nor /usr/lib/postgresql/*/bin")

// User is the database user the server is initialised with (trust
// authentication, loopback only).
const User = "tandem"

// Server is a running PostgreSQL server.
type Server struct {
	// Dir is the cluster's data directory, Port its loopback port.
	Dir  string
	Port int

	cmd     *exec.Cmd
	done    chan struct{} // closed once the server process has exited
	cleanup bool
}

// Options tune a server.
type Options struct {
	// Port is the loopback port; 0 picks a free one.
	Port int
	// Fast turns durability off (fsync, full page writes), for tests.
	Fast bool
	// Log receives the server's output; nil discards it.
	Log io.Writer
	// Start starts the server process, which asks for SIGKILL when its
	// parent dies (exec.Cmd.Start if nil). The signal comes when the thread
	// that started it ends, so a long-running program passes a function
	// that starts children from a thread that never ends.
	Start func(*exec.Cmd) error
}

// Binary returns the path of a PostgreSQL program (initdb, postgres).
func Binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", ErrNotInstalled
	}
	return matches[len(matches)-1], nil
}

// Start starts a server on the cluster in dir, initialising it first when
// dir holds none; an empty dir means a new temporary one, removed by Stop.
// PostgreSQL refuses to run as root, so as root it runs as the user
// postgres, which must be able to reach dir.
func Start(dir string, o Options) (*Server, error) {
	initdb, err := Binary("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := Binary("postgres")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Port: o.Port}
	if dir == "" {
		if s.Dir, err = os.MkdirTemp("", "tandem-pg-"); err != nil {
			return nil, err
		}
		s.cleanup = true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cred, err := credential(s.Dir)
	if err != nil {
		s.Stop()
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "PG_VERSION")); err != nil {
		cmd := exec.Command(initdb, "-D", s.Dir, "-U", User, "--auth=trust", "-E", "UTF8")
		if o.Fast {
			cmd.Args = append(cmd.Args, "--no-sync")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			s.Stop()
			return nil, fmt.Errorf("initdb %s: %v\n%s", s.Dir, err, out)
		}
	}
	if s.Port == 0 {
		if s.Port, err = FreePort(); err != nil {
			s.Stop()
			return nil, err
		}
	}
	args := []string{"-D", s.Dir, "-p", strconv.Itoa(s.Port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", "-c", "max_connections=200"}
	if o.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.cmd = exec.Command(postgres, args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	s.cmd.Stdout, s.cmd.Stderr = o.Log, o.Log
	start := o.Start
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if err := start(s.cmd); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err = db.Ping(); err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			s.Stop()
			return nil, fmt.Errorf("postgres on port %d exited at start (is the port in use?): %v", s.Port, err)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("postgres on port %d did not accept connections within 30s: %v", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// credential returns the user to run PostgreSQL as (nil: this process's)
// and gives it dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL cannot run as root, and there is no user postgres to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// FreePort returns a loopback port nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns the URL of database name on the server.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.Port, name)
}

// CreateDatabase creates database name unless it exists, and returns its
// DSN.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		return "", err
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return s.DSN(name), nil
}

// Done is closed once the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// PID is the server process's id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop stops the server (a fast shutdown) and removes a temporary
// directory.
func (s *Server) Stop() {
	if s.done != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.cleanup {
		os.RemoveAll(s.Dir)
	}
}
