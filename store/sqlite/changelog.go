package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

// ReadChanges returns up to limit entries after LSN after.
func (s *Store) ReadChanges(ctx context.Context, after uint64, limit int) ([]tandem.Change, error) {
	const q = `
		SELECT lsn, epoch, time_us, tbl, key, op, coalesce(before, ''), coalesce(after, '')
		FROM _tandem_changelog WHERE lsn > ? ORDER BY lsn LIMIT ?`
	var rows *sql.Rows
	var err error
	if st := s.rstmts.prepared(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, after, limit)
	} else {
		rows, err = s.rdb.QueryContext(ctx, q, after, limit)
	}
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
	defer s.wstmts.prepareNoted(ctx) // after the transaction has ended
	btx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer btx.Rollback()
	tx := sqlTx{btx, s.wstmts}
	if _, err := tx.Exec(ctx, `UPDATE _tandem_state SET applying = 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	applied, err := sqlstore.ApplyEntries(ctx, tx, tables, changes,
		func(t *table, c tandem.Change) error { return applyRow(ctx, tx, t, c) },
		func(c tandem.Change) error {
			_, err := tx.Exec(ctx, `
			INSERT INTO _tandem_changelog (lsn, epoch, time_us, tbl, key, op, before, after)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				c.LSN, c.Epoch, c.CommitTime.UnixMicro(), c.Table, string(c.Key), string(c.Op), sqlstore.NullJSON(c.Before), sqlstore.NullJSON(c.After))
			return err
		})
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if applied == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE _tandem_state SET applying = 0 WHERE id = 1`); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply: commit: %w", err)
	}
	s.commits.Notify()
	return nil
}

// applyRow makes the row change c to table t.
func applyRow(ctx context.Context, tx sqlTx, t *table, c tandem.Change) error {
	key, err := decodeRow(t, c.Key)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if len(key) != len(t.Key) {
		return tandem.Errorf(tandem.EINVALID, "key of %s names %d columns, the table's primary key has %d", t.Name, len(key), len(t.Key))
	}
	where, whereArgs := keyClause(t, key)
	if c.Op == tandem.OpDelete {
		_, err := tx.Exec(ctx, "DELETE FROM "+quoteIdent(t.Name)+" WHERE "+where, whereArgs...)
		return err
	}
	row, err := decodeRow(t, c.After)
	if err != nil {
		return fmt.Errorf("after-image: %w", err)
	}
	cols := make([]string, 0, len(row))
	for col := range row {
		cols = append(cols, col)
	}
	sort.Strings(cols) // the same statement every time: it stays prepared
	switch c.Op {
	case tandem.OpUpdate:
		sets := make([]string, len(cols))
		args := make([]any, 0, len(cols)+len(whereArgs))
		for i, col := range cols {
			sets[i] = quoteIdent(col) + " = ?"
			args = append(args, row[col])
		}
		res, err := tx.Exec(ctx, "UPDATE "+quoteIdent(t.Name)+" SET "+strings.Join(sets, ", ")+" WHERE "+where, append(args, whereArgs...)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		fallthrough
	case tandem.OpInsert:
		quoted := make([]string, len(cols))
		marks := make([]string, len(cols))
		args := make([]any, len(cols))
		for i, col := range cols {
			quoted[i], marks[i], args[i] = quoteIdent(col), "?", row[col]
		}
		_, err := tx.Exec(ctx, "INSERT OR REPLACE INTO "+quoteIdent(t.Name)+" ("+strings.Join(quoted, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", args...)
		return err
	default:
		return tandem.Errorf(tandem.EINVALID, "unknown operation %q", c.Op)
	}
}

func keyClause(t *table, key map[string]any) (string, []any) {
	parts := make([]string, len(t.Key))
	args := make([]any, len(t.Key))
	for i, col := range t.Key {
		parts[i] = quoteIdent(col) + " = ?"
		args[i] = key[col]
	}
	return strings.Join(parts, " AND "), args
}

// decodeRow decodes a row image, refusing columns the table does not have.
func decodeRow(t *table, b json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, tandem.Errorf(tandem.EINVALID, "row image of %s is not a JSON object", t.Name)
	}
	for col, v := range m {
		if !t.Has[col] {
			return nil, tandem.Errorf(tandem.EINVALID, "table %s has no column %q", t.Name, col)
		}
		m[col] = sqlValue(v)
	}
	return m, nil
}

// sqlValue converts a decoded JSON value to the value SQLite stored.
func sqlValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case bool:
		if v {
			return 1
		}
		return 0
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b)
	default:
		return v
	}
}

// Checksums returns the SHA-256 of each application table's rows in key
// order, each row in a canonical JSON form, so two stores with the same data
// have the same checksums.
func (s *Store) Checksums(ctx context.Context) (map[string]string, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	defer tx.Rollback()
	tables, err := readTables(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	return sqlstore.Checksums(ctx, tx, tables, func(t *table) string {
		keys := make([]string, len(t.Key))
		for i, k := range t.Key {
			keys[i] = quoteIdent(k)
		}
		return "SELECT " + jsonObject(quoteIdent(t.Name), t.Columns) + " FROM " + quoteIdent(t.Name) + " ORDER BY " + strings.Join(keys, ", ")
	})
}
