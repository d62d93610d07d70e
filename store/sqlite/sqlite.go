// Package sqlite implements tandem.Store on an embedded SQLite database in WAL
// mode. Row changes are captured by triggers that the store generates for
// every application table, so they land in the changelog in the same
// transaction as the change itself.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ tandem.Store = (*Store)(nil)

// DefaultSynchronous is SQLite's synchronous setting for the store. FULL
// syncs the WAL at every commit, so an acknowledged write survives a power
// loss as well as a crash of the process.
const DefaultSynchronous = "FULL"

// Store is a region store on one SQLite file.
type Store struct {
	// Path is the database file.
	Path string

	// Synchronous is SQLite's synchronous pragma: FULL or NORMAL. NORMAL
	// survives a process crash but may lose the last commits on power loss.
	Synchronous string

	// Now returns the commit time stamped on changelog entries.
	Now func() time.Time

	wdb *sql.DB // the single writer connection
	rdb *sql.DB // readers
	// wstmts and rstmts keep the statements run on wdb and rdb prepared.
	wstmts, rstmts *stmtCache

	writer atomic.Bool

	mu      sync.Mutex
	schema  map[string]*table // application tables, nil until read
	commits sqlstore.Commits
}

// New returns a store on the file at path. Call Open before use.
func New(path string) *Store {
	return &Store{Path: path, Synchronous: DefaultSynchronous, Now: time.Now}
}

// Open opens the database, creating it and the changelog when new.
func (s *Store) Open() error {
	if s.Synchronous != "FULL" && s.Synchronous != "NORMAL" {
		return fmt.Errorf("open store: synchronous must be FULL or NORMAL, not %q", s.Synchronous)
	}
	pragmas := url.Values{}
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "busy_timeout(10000)")
	pragmas.Add("_pragma", "synchronous("+s.Synchronous+")")
	var err error
	if s.wdb, err = sql.Open("sqlite", "file:"+s.Path+"?"+pragmas.Encode()+"&_txlock=immediate"); err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	pragmas.Add("_pragma", "query_only(1)")
	if s.rdb, err = sql.Open("sqlite", "file:"+s.Path+"?"+pragmas.Encode()); err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.rdb.SetMaxOpenConns(8)
	s.wstmts, s.rstmts = newStmtCache(s.wdb), newStmtCache(s.rdb)
	if _, err := s.wdb.Exec(schema); err != nil {
		return fmt.Errorf("create changelog: %w", err)
	}
	role, err := s.Role(context.Background())
	if err != nil {
		return err
	}
	s.writer.Store(role.Writer)
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	if s.wstmts != nil {
		s.wstmts.close()
		s.rstmts.close()
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

const schema = `
CREATE TABLE IF NOT EXISTS _tandem_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	writer     INTEGER NOT NULL DEFAULT 0,
	epoch      INTEGER NOT NULL DEFAULT 0,
	applying   INTEGER NOT NULL DEFAULT 0,
	tx_time_us INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO _tandem_state (id) VALUES (1);
CREATE TABLE IF NOT EXISTS _tandem_changelog (
	lsn     INTEGER PRIMARY KEY,
	epoch   INTEGER NOT NULL,
	time_us INTEGER NOT NULL,
	tbl     TEXT NOT NULL,
	key     TEXT NOT NULL,
	op      TEXT NOT NULL,
	before  TEXT,
	after   TEXT
);
CREATE INDEX IF NOT EXISTS _tandem_changelog_by_epoch ON _tandem_changelog (epoch, lsn);
CREATE TABLE IF NOT EXISTS _tandem_migrations (
	app        TEXT NOT NULL,
	name       TEXT NOT NULL,
	applied_us INTEGER NOT NULL,
	PRIMARY KEY (app, name)
);
`

// Changed returns a channel closed at the next commit.
func (s *Store) Changed() <-chan struct{} { return s.commits.Changed() }

// Update runs fn in a write transaction; see tandem.Store.
func (s *Store) Update(ctx context.Context, fn func(tandem.Tx) error) error {
	if !s.writer.Load() {
		return tandem.Errorf(tandem.ENOTWRITER, "this region's store is a follower; writes go to the writer")
	}
	err := s.update(ctx, fn)
	s.wstmts.prepareNoted(ctx)
	return err
}

func (s *Store) update(ctx context.Context, fn func(tandem.Tx) error) error {
	btx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer btx.Rollback()
	tx := sqlTx{btx, s.wstmts}
	if _, err := tx.Exec(ctx, `UPDATE _tandem_state SET tx_time_us = ? WHERE id = 1`, s.Now().UnixMicro()); err != nil {
		return fmt.Errorf("stamp transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	return s.commits.Commit(ctx, tx, func() {})
}

// View runs fn in a read transaction.
func (s *Store) View(ctx context.Context, fn func(tandem.Tx) error) error {
	err := s.view(ctx, fn)
	s.rstmts.prepareNoted(ctx)
	return err
}

func (s *Store) view(ctx context.Context, fn func(tandem.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(sqlTx{tx, s.rstmts})
}

// SetRole makes the store the writer of an epoch, or a follower.
func (s *Store) SetRole(ctx context.Context, role tandem.Role) error {
	w := 0
	if role.Writer {
		w = 1
	}
	if _, err := s.wdb.ExecContext(ctx, `UPDATE _tandem_state SET writer = ?, epoch = ? WHERE id = 1`, w, role.Epoch); err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	s.writer.Store(role.Writer)
	return nil
}

// Role returns the store's role.
func (s *Store) Role(ctx context.Context) (tandem.Role, error) { return sqlstore.Role(ctx, s.rstmts) }

// Position returns the head of the changelog.
func (s *Store) Position(ctx context.Context) (tandem.Position, error) {
	return sqlstore.Position(ctx, s.rstmts)
}

// SetGuard sets the write guard called before every Update commits.
func (s *Store) SetGuard(g tandem.WriteGuard) { s.commits.SetGuard(g) }

// SetCommitHook sets the hook called after every Update commits.
func (s *Store) SetCommitHook(h tandem.CommitHook) { s.commits.SetCommitHook(h) }
