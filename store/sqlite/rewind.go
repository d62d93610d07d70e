package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

// History returns the first LSN of each epoch's entries.
func (s *Store) History(ctx context.Context) ([]tandem.EpochStart, error) {
	return sqlstore.History(ctx, s.rdb)
}

// Rewind undoes the entries after LSN to. The row changes are undone newest
// first with capture off, so the store ends exactly as it was at to.
func (s *Store) Rewind(ctx context.Context, to uint64) ([]tandem.Change, error) {
	if s.writer.Load() {
		return nil, tandem.Errorf(tandem.EINVALID, "rewind: this store is the writer; only a follower rewinds")
	}
	tables, err := s.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	undo, err := s.ReadChanges(ctx, to, 1<<31)
	if err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	if len(undo) == 0 {
		return nil, nil
	}
	err = s.captureOff(ctx, func(tx *sql.Tx) error {
		err := sqlstore.UndoEntries(tables, undo,
			func(t *table, c tandem.Change) error { return applyRow(ctx, sqlTx{tx, s.wstmts}, t, c) },
			func(t *table, image json.RawMessage) error {
				row, err := decodeRow(t, image)
				if err != nil {
					return err
				}
				where, args := keyClause(t, row)
				_, err = tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(t.Name)+" WHERE "+where, args...)
				return err
			})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM _tandem_changelog WHERE lsn > ?`, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rewind to %d: %w", to, err)
	}
	return undo, nil
}

// Resync removes every application row and changelog entry.
func (s *Store) Resync(ctx context.Context) error {
	if s.writer.Load() {
		return tandem.Errorf(tandem.EINVALID, "resync: this store is the writer; only a follower resyncs")
	}
	tables, err := s.tables(ctx)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	return s.captureOff(ctx, func(tx *sql.Tx) error {
		for name := range tables {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(name)); err != nil {
				return fmt.Errorf("resync: empty %s: %w", name, err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM _tandem_changelog`)
		return err
	})
}

// captureOff runs fn in a write transaction with change capture off.
func (s *Store) captureOff(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 1 WHERE id = 1`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 0 WHERE id = 1`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.commits.Notify()
	return nil
}

// Replay writes c again, as a new change of the current epoch, if its row
// is still as c found it, with also in the same transaction.
func (s *Store) Replay(ctx context.Context, c tandem.Change, also func(tandem.Tx) error) error {
	tables, err := s.tables(ctx)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	t, ok := tables[c.Table]
	if !ok {
		return tandem.Errorf(tandem.EINVALID, "replay: table %s does not exist", c.Table)
	}
	return s.Update(ctx, func(tx tandem.Tx) error {
		stx := tx.(sqlTx)
		key, err := decodeRow(t, c.Key)
		if err != nil {
			return err
		}
		where, args := keyClause(t, key)
		var now sql.NullString
		err = stx.QueryRow(ctx, "SELECT "+jsonObject(quoteIdent(t.Name), t.Columns)+" FROM "+quoteIdent(t.Name)+" WHERE "+where, args...).Scan(&now)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		same, err := sqlstore.SameRow(now, string(c.Before))
		if err != nil {
			return err
		}
		if !same {
			return sqlstore.Conflict(c, now)
		}
		if err := applyRow(ctx, stx, t, c); err != nil || also == nil {
			return err
		}
		return also(tx)
	})
}
