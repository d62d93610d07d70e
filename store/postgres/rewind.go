package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

// History returns the first LSN of each epoch's entries.
func (s *Store) History(ctx context.Context) ([]tandem.EpochStart, error) {
	return sqlstore.History(ctx, s.db)
}

// Rewind undoes the entries after LSN to, newest first, with capture off.
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
	err = s.writeTx(ctx, true, func(tx *sql.Tx) error {
		err := sqlstore.UndoEntries(tables, undo,
			func(t *table, c tandem.Change) error { return applyRow(ctx, tx, t, c) },
			func(t *table, image json.RawMessage) error {
				_, err := tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(t.Name)+" WHERE "+keyMatch(t, 1), string(image))
				return err
			})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM _tandem_changelog WHERE lsn > $1`, int64(to))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rewind to %d: %w", to, err)
	}
	s.commits.Notify()
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
	err = s.writeTx(ctx, true, func(tx *sql.Tx) error {
		for name := range tables {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(name)); err != nil {
				return fmt.Errorf("empty %s: %w", name, err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM _tandem_changelog`)
		return err
	})
	if err != nil {
		return fmt.Errorf("resync: %w", err)
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
		ptx := tx.(pgTx).tx
		if _, err := checkRow(t, c.Key); err != nil {
			return err
		}
		var now sql.NullString
		err := ptx.QueryRowContext(ctx, "SELECT to_jsonb(r)::text FROM "+quoteIdent(t.Name)+" r WHERE "+keyMatch(t, 1), string(c.Key)).Scan(&now)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		same, err := sqlstore.SameRow(now, string(c.Before))
		if err != nil {
			return err
		}
		if !same {
			return sqlstore.Conflict(c, now)
		}
		if err := applyRow(ctx, ptx, t, c); err != nil || also == nil {
			return err
		}
		return also(tx)
	})
}
