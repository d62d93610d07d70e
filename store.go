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

	// History returns where the entries of each epoch begin in the
	// changelog, in LSN order.
	History(ctx context.Context) ([]EpochStart, error)

	// Rewind undoes every entry after LSN to, newest first, by applying
	// before-images, and removes those entries from the changelog. It returns
	// them oldest first. Returns EINVALID on the writer.
	Rewind(ctx context.Context, to uint64) ([]Change, error)

	// Resync removes every application row and every changelog entry, so the
	// store can follow a writer from the start.
	Resync(ctx context.Context) error

	// Replay applies c again as a new write in the current epoch, provided
	// its row is still as c found it (its before-image, or absent for an
	// insert), then calls also (if not nil) in the same transaction, so a
	// record of the replay commits with it. Returns ECONFLICT, with the row
	// as it is now, otherwise, and writes nothing.
	Replay(ctx context.Context, c Change, also func(Tx) error) error

	Close() error
}

// WriteGuard decides, just before a write transaction commits, whether it may.
// A region installs one that checks its lease and the application state. On
// success it returns a release function that the store calls once the
// transaction has committed or rolled back, so a region can hold off a role
// change until writes already admitted have finished.
type WriteGuard func(ctx context.Context) (release func(), err error)

// CommitHook runs after a write transaction committed at LSN head and before
// Update returns; its error is Update's. Synchronous replication waits in it
// for the follower.
type CommitHook func(ctx context.Context, head uint64) error

// EpochStart is the first LSN of an epoch's entries.
type EpochStart struct {
	Epoch uint64 `json:"epoch"`
	LSN   uint64 `json:"lsn"`
}

// ForkLSN returns the last LSN at which two changelogs agree, given each
// one's epoch history and head. Entries with the same LSN and epoch are the
// same entry, because one epoch has one writer; the first LSN at which the
// epochs differ, or which only local has, is where local diverged.
func ForkLSN(local []EpochStart, localHead uint64, remote []EpochStart, remoteHead uint64) uint64 {
	epochAt := func(h []EpochStart, head, lsn uint64) uint64 {
		if lsn > head {
			return 0
		}
		var e uint64
		for _, s := range h {
			if s.LSN > lsn {
				break
			}
			e = s.Epoch
		}
		return e
	}
	// Epochs are constant between the starts of either history, so checking
	// those points, and the point past the remote head, finds the first
	// difference.
	points := []uint64{remoteHead + 1}
	for _, s := range local {
		points = append(points, s.LSN)
	}
	for _, s := range remote {
		points = append(points, s.LSN)
	}
	fork := localHead
	for _, p := range points {
		if p == 0 || p > localHead || p > fork {
			continue
		}
		if epochAt(local, localHead, p) != epochAt(remote, remoteHead, p) {
			fork = p - 1
		}
	}
	return fork
}

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
