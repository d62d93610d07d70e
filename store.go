package tandem

import (
	"context"
	"database/sql"
)

// Store is a region's relational store. Every row change an application makes
// through Update is captured in the changelog in the same transaction; the
// application never writes the changelog itself, and a table added by a
// migration is replicated without further work.
//
// SQL given to a Tx uses ? placeholders and the portable subset of SQL that
// both SQLite and PostgreSQL accept; a store rewrites placeholders as needed.
type Store interface {
	// Migrate applies the named migrations that have not run yet, in order,
	// and starts capturing changes of every table they create.
	Migrate(ctx context.Context, app string, migrations []Migration) error

	// Update runs fn in a write transaction. The store's WriteGuard is called
	// just before commit; if it or fn fails, nothing is written. Returns
	// ENOTWRITER when the store is not the writer.
	Update(ctx context.Context, fn func(Tx) error) error

	// View runs fn in a read-only transaction over a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error

	// Position returns the head of the changelog.
	Position(ctx context.Context) (Position, error)

	// ReadChanges returns up to limit changelog entries after LSN after, in
	// LSN order.
	ReadChanges(ctx context.Context, after uint64, limit int) ([]Change, error)

	// ApplyChanges applies entries of the writer's changelog in one
	// transaction: the row images, the entries themselves, and so the applied
	// position. Entries at or below the head are skipped, so applying twice
	// is harmless. Returns EINVALID if the entries leave a gap.
	ApplyChanges(ctx context.Context, changes []Change) error

	// Changed returns a channel that is closed at the next commit.
	Changed() <-chan struct{}

	// SetRole makes the store the writer for epoch, or a follower.
	SetRole(ctx context.Context, role Role) error

	// Role returns the store's role.
	Role(ctx context.Context) (Role, error)

	// Checksums returns a checksum of every application table's rows.
	Checksums(ctx context.Context) (map[string]string, error)

	Close() error
}

// WriteGuard decides, just before a write transaction commits, whether it may.
// A region installs one that checks its lease and the application state.
type WriteGuard func(ctx context.Context) error

// Role is a store's place in replication: the writer of an epoch, or a
// follower that applies the writer's changelog.
type Role struct {
	Writer bool   `json:"writer"`
	Epoch  uint64 `json:"epoch"`
}

// Migration is one schema change of an application.
type Migration struct {
	Name string
	SQL  string
}

// Tx is a transaction of a Store.
type Tx interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}
