// Package postgres implements tandem.Store on a PostgreSQL database. Row
// changes are captured by a trigger the store installs on every application
// table, so they land in the changelog in the same transaction as the change
// itself, as JSON row images of the same shape the SQLite store writes:
// replication is logical, and a PostgreSQL region can follow a SQLite one
// and the reverse.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

var _ tandem.Store = (*Store)(nil)

// Store is a region store on a PostgreSQL database (its current schema).
type Store struct {
	// DSN locates the database: a postgres:// URL or key=value pairs.
	DSN string

	// Now returns the commit time stamped on changelog entries.
	Now func() time.Time

	db *sql.DB

	// wmu runs write transactions one at a time, as SQLite's single writer
	// connection does; the state row's lock does the same across processes.
	wmu    sync.Mutex
	writer atomic.Bool

	mu      sync.Mutex
	schema  map[string]*table // application tables, nil until read
	commits sqlstore.Commits
}

// New returns a store on the database dsn names. Call Open before use.
func New(dsn string) *Store {
	return &Store{DSN: dsn, Now: time.Now}
}

// Open connects, and creates the changelog and the capture function when
// the database is new.
func (s *Store) Open() error {
	var err error
	if s.db, err = sql.Open("pgx", s.DSN); err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.db.SetMaxOpenConns(16)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("open store: connect to PostgreSQL: %w", err)
	}
	s.wmu.Lock()
	_, err = s.db.ExecContext(ctx, schema)
	s.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("create changelog: %w", err)
	}
	role, err := s.Role(ctx)
	if err != nil {
		return err
	}
	s.writer.Store(role.Writer)
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

const schema = `
CREATE TABLE IF NOT EXISTS _tandem_state (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	writer     INTEGER NOT NULL DEFAULT 0,
	epoch      BIGINT NOT NULL DEFAULT 0,
	applying   INTEGER NOT NULL DEFAULT 0,
	tx_time_us BIGINT NOT NULL DEFAULT 0
);
INSERT INTO _tandem_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS _tandem_changelog (
	lsn     BIGINT PRIMARY KEY,
	epoch   BIGINT NOT NULL,
	time_us BIGINT NOT NULL,
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
	applied_us BIGINT NOT NULL,
	PRIMARY KEY (app, name)
);
-- _tandem_capture records a row change in the changelog; its arguments are
-- the table's primary-key columns. It refuses the change unless the store
-- is the writer or is applying the writer's changelog (then it records
-- nothing: the applier copies the writer's entries).
CREATE OR REPLACE FUNCTION _tandem_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	st _tandem_state;
	b  jsonb;
	a  jsonb;
	k  jsonb;
BEGIN
	SELECT * INTO st FROM _tandem_state WHERE id = 1;
	IF st.applying = 1 THEN
		RETURN NULL;
	END IF;
	IF st.writer = 0 THEN
		RAISE EXCEPTION 'tandem: this store is not the writer';
	END IF;
	IF TG_OP <> 'INSERT' THEN b := to_jsonb(OLD); END IF;
	IF TG_OP <> 'DELETE' THEN a := to_jsonb(NEW); END IF;
	SELECT jsonb_object_agg(c, coalesce(b, a) -> c) INTO k FROM unnest(TG_ARGV) AS c;
	INSERT INTO _tandem_changelog (lsn, epoch, time_us, tbl, key, op, before, after)
	VALUES ((SELECT coalesce(max(lsn), 0) + 1 FROM _tandem_changelog), st.epoch, st.tx_time_us,
		TG_TABLE_NAME, k::text, lower(TG_OP), b::text, a::text);
	RETURN NULL;
END
$$;
`

// Changed returns a channel closed at the next commit.
func (s *Store) Changed() <-chan struct{} { return s.commits.Changed() }

// Update runs fn in a write transaction; see tandem.Store.
func (s *Store) Update(ctx context.Context, fn func(tandem.Tx) error) error {
	if !s.writer.Load() {
		return tandem.Errorf(tandem.ENOTWRITER, "this region's store is a follower; writes go to the writer")
	}
	s.wmu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			s.wmu.Unlock()
		}
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET tx_time_us = $1 WHERE id = 1`, s.Now().UnixMicro()); err != nil {
		return fmt.Errorf("stamp transaction: %w", err)
	}
	if err := fn(pgTx{tx}); err != nil {
		return err
	}
	return s.commits.Commit(ctx, tx, unlock)
}

// writeTx runs fn in a write transaction outside Update (migrations,
// applying the writer's changelog, rewinds), with capture off when
// captureOff is set.
func (s *Store) writeTx(ctx context.Context, captureOff bool, fn func(*sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if captureOff {
		if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 1 WHERE id = 1`); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if captureOff {
		if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 0 WHERE id = 1`); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// View runs fn in a read-only transaction over one snapshot.
func (s *Store) View(ctx context.Context, fn func(tandem.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(pgTx{tx})
}

// SetRole makes the store the writer of an epoch, or a follower.
func (s *Store) SetRole(ctx context.Context, role tandem.Role) error {
	w := 0
	if role.Writer {
		w = 1
	}
	s.wmu.Lock()
	_, err := s.db.ExecContext(ctx, `UPDATE _tandem_state SET writer = $1, epoch = $2 WHERE id = 1`, w, int64(role.Epoch))
	s.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	s.writer.Store(role.Writer)
	return nil
}

// Role returns the store's role.
func (s *Store) Role(ctx context.Context) (tandem.Role, error) { return sqlstore.Role(ctx, s.db) }

// Position returns the head of the changelog.
func (s *Store) Position(ctx context.Context) (tandem.Position, error) {
	return sqlstore.Position(ctx, s.db)
}

// SetGuard sets the write guard called before every Update commits.
func (s *Store) SetGuard(g tandem.WriteGuard) { s.commits.SetGuard(g) }

// SetCommitHook sets the hook called after every Update commits.
func (s *Store) SetCommitHook(h tandem.CommitHook) { s.commits.SetCommitHook(h) }

// pgTx adapts *sql.Tx to tandem.Tx, rewriting the ? placeholders of
// portable SQL as PostgreSQL's $1, $2, ….
type pgTx struct{ tx *sql.Tx }

func (t pgTx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, Rebind(q), args...)
}

func (t pgTx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, Rebind(q), args...)
}

func (t pgTx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, Rebind(q), args...)
}

// Rebind returns q with each ? placeholder outside quotes and comments
// replaced by $1, $2, … in order.
func Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end])
			i += end - 1
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
