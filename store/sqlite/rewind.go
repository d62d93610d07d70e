package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tandemhq/tandem"
)

// History returns the first LSN of each epoch's entries.
func (s *Store) History(ctx context.Context) ([]tandem.EpochStart, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT epoch, min(lsn) FROM _tandem_changelog GROUP BY epoch ORDER BY 2`)
	if err != nil {
		return nil, fmt.Errorf("read epoch history: %w", err)
	}
	defer rows.Close()
	var out []tandem.EpochStart
	for rows.Next() {
		var e tandem.EpochStart
		if err := rows.Scan(&e.Epoch, &e.LSN); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
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
		for i := len(undo) - 1; i >= 0; i-- {
			c := undo[i]
			t, ok := tables[c.Table]
			if !ok {
				return fmt.Errorf("entry %d changes table %s, which no longer exists", c.LSN, c.Table)
			}
			if err := undoRow(ctx, tx, t, c); err != nil {
				return fmt.Errorf("undo entry %d: %w", c.LSN, err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM _tandem_changelog WHERE lsn > ?`, to)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rewind to %d: %w", to, err)
	}
	return undo, nil
}

// undoRow reverts the row change c made.
func undoRow(ctx context.Context, tx *sql.Tx, t *table, c tandem.Change) error {
	switch c.Op {
	case tandem.OpInsert:
		return applyRow(ctx, tx, t, tandem.Change{Op: tandem.OpDelete, Key: c.Key})
	case tandem.OpDelete:
		return applyRow(ctx, tx, t, tandem.Change{Op: tandem.OpInsert, Key: c.Key, After: c.Before})
	case tandem.OpUpdate:
		// The row is now at the after-image's key, which differs from the
		// entry's key when the update changed the primary key.
		after, err := decodeRow(t, c.After)
		if err != nil {
			return err
		}
		where, args := keyClause(t, after)
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(t.Name)+" WHERE "+where, args...); err != nil {
			return err
		}
		return applyRow(ctx, tx, t, tandem.Change{Op: tandem.OpInsert, Key: c.Key, After: c.Before})
	default:
		return tandem.Errorf(tandem.EINVALID, "unknown operation %q", c.Op)
	}
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
	s.notify()
	return nil
}

// Replay writes c again, as a new change of the current epoch, if its row
// is still as c found it.
func (s *Store) Replay(ctx context.Context, c tandem.Change) error {
	tables, err := s.tables(ctx)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	t, ok := tables[c.Table]
	if !ok {
		return tandem.Errorf(tandem.EINVALID, "replay: table %s does not exist", c.Table)
	}
	return s.Update(ctx, func(tx tandem.Tx) error {
		stx := tx.(sqlTx).tx
		key, err := decodeRow(t, c.Key)
		if err != nil {
			return err
		}
		where, args := keyClause(t, key)
		var now sql.NullString
		err = stx.QueryRowContext(ctx, "SELECT "+jsonObject(quoteIdent(t.Name), t.Columns)+" FROM "+quoteIdent(t.Name)+" WHERE "+where, args...).Scan(&now)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		same, err := sameRow(now, string(c.Before))
		if err != nil {
			return err
		}
		if !same {
			current := "absent"
			if now.Valid {
				current = now.String
			}
			return tandem.Errorf(tandem.ECONFLICT, "row %s %s has changed since the entry was written; it is now %s", c.Table, c.Key, current)
		}
		return applyRow(ctx, stx, t, c)
	})
}

// sameRow reports whether a row as stored (null when absent) equals an
// image (empty or "null" for no row).
func sameRow(now sql.NullString, image string) (bool, error) {
	absent := strings.TrimSpace(image) == "" || strings.TrimSpace(image) == "null"
	if !now.Valid || absent {
		return !now.Valid && absent, nil
	}
	a, err := canonicalJSON(now.String)
	if err != nil {
		return false, err
	}
	b, err := canonicalJSON(image)
	if err != nil {
		return false, err
	}
	return string(a) == string(b), nil
}
