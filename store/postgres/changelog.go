package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

// ReadChanges returns up to limit entries after LSN after.
func (s *Store) ReadChanges(ctx context.Context, after uint64, limit int) ([]tandem.Change, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT lsn, epoch, time_us, tbl, key, op, coalesce(before, ''), coalesce(after, '')
		FROM _tandem_changelog WHERE lsn > $1 ORDER BY lsn LIMIT $2`, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("read changelog: %w", err)
	}
	return sqlstore.ScanChanges(rows)
}

// ApplyChanges applies the writer's entries in one transaction.
func (s *Store) ApplyChanges(ctx context.Context, changes []tandem.Change) error {
	if len(changes) == 0 {
		return nil
	}
	tables, err := s.tables(ctx)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	applied := 0
	err = s.writeTx(ctx, true, func(tx *sql.Tx) error {
		var err error
		applied, err = sqlstore.ApplyEntries(ctx, tx, tables, changes,
			func(t *table, c tandem.Change) error { return applyRow(ctx, tx, t, c) },
			func(c tandem.Change) error {
				_, err := tx.ExecContext(ctx, `
				INSERT INTO _tandem_changelog (lsn, epoch, time_us, tbl, key, op, before, after)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
					int64(c.LSN), int64(c.Epoch), c.CommitTime.UnixMicro(), c.Table, string(c.Key), string(c.Op), sqlstore.NullJSON(c.Before), sqlstore.NullJSON(c.After))
				return err
			})
		return err
	})
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if applied > 0 {
		s.commits.Notify()
	}
	return nil
}

// record is the row of t held in the JSON parameter $n, typed by the table.
func record(t *table, n int) string {
	return "jsonb_populate_record(NULL::" + quoteIdent(t.Name) + ", $" + strconv.Itoa(n) + "::jsonb)"
}

func columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// keyMatch is a condition on t's key equal to the key in parameter $n.
func keyMatch(t *table, n int) string {
	return "(" + columnList(t.Key) + ") = (SELECT " + columnList(t.Key) + " FROM " + record(t, n) + ")"
}

// applyRow makes the row change c to table t. Row images are converted to
// the columns' types by PostgreSQL (jsonb_populate_record), so images a
// SQLite writer made apply as well as this store's own.
func applyRow(ctx context.Context, tx *sql.Tx, t *table, c tandem.Change) error {
	key, err := checkRow(t, c.Key)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if len(key) != len(t.Key) {
		return tandem.Errorf(tandem.EINVALID, "key of %s names %d columns, the table's primary key has %d", t.Name, len(key), len(t.Key))
	}
	name := quoteIdent(t.Name)
	if c.Op == tandem.OpDelete {
		_, err := tx.ExecContext(ctx, "DELETE FROM "+name+" WHERE "+keyMatch(t, 1), string(c.Key))
		return err
	}
	row, err := checkRow(t, c.After)
	if err != nil {
		return fmt.Errorf("after-image: %w", err)
	}
	cols := make([]string, 0, len(row))
	for _, col := range t.Columns {
		if _, ok := row[col]; ok {
			cols = append(cols, col)
		}
	}
	list := columnList(cols)
	switch c.Op {
	case tandem.OpUpdate:
		res, err := tx.ExecContext(ctx, "UPDATE "+name+" SET ("+list+") = (SELECT "+list+" FROM "+record(t, 1)+") WHERE "+keyMatch(t, 2), string(c.After), string(c.Key))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		fallthrough
	case tandem.OpInsert:
		var sets []string
		for _, col := range cols {
			sets = append(sets, quoteIdent(col)+" = EXCLUDED."+quoteIdent(col))
		}
		conflict := " ON CONFLICT (" + columnList(t.Key) + ") DO NOTHING"
		if len(sets) > 0 {
			conflict = " ON CONFLICT (" + columnList(t.Key) + ") DO UPDATE SET " + strings.Join(sets, ", ")
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO "+name+" ("+list+") SELECT "+list+" FROM "+record(t, 1)+conflict, string(c.After))
		return err
	default:
		return tandem.Errorf(tandem.EINVALID, "unknown operation %q", c.Op)
	}
}

// checkRow decodes a row image, refusing columns the table does not have.
func checkRow(t *table, b json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, tandem.Errorf(tandem.EINVALID, "row image of %s is not a JSON object", t.Name)
	}
	for col := range m {
		if !t.Has[col] {
			return nil, tandem.Errorf(tandem.EINVALID, "table %s has no column %q", t.Name, col)
		}
	}
	return m, nil
}

// Checksums returns the SHA-256 of each application table's rows in key
// order, each row in the canonical JSON form the SQLite store uses, so two
// stores with the same data have the same checksums whichever they are.
func (s *Store) Checksums(ctx context.Context) (map[string]string, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	defer tx.Rollback()
	tables, err := readTables(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	return sqlstore.Checksums(ctx, tx, tables, func(t *table) string {
		return "SELECT to_jsonb(r)::text FROM " + quoteIdent(t.Name) + " r ORDER BY " + columnList(t.Key)
	})
}
