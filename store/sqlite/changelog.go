package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
)

// ReadChanges returns up to limit entries after LSN after.
func (s *Store) ReadChanges(ctx context.Context, after uint64, limit int) ([]tandem.Change, error) {
	rows, err := s.rdb.QueryContext(ctx, `
		SELECT lsn, epoch, time_us, tbl, key, op, coalesce(before, ''), coalesce(after, '')
		FROM _tandem_changelog WHERE lsn > ? ORDER BY lsn LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read changelog: %w", err)
	}
	defer rows.Close()
	var out []tandem.Change
	for rows.Next() {
		var c tandem.Change
		var us int64
		var key, before, after string
		if err := rows.Scan(&c.LSN, &c.Epoch, &us, &c.Table, &key, &c.Op, &before, &after); err != nil {
			return nil, fmt.Errorf("read changelog: %w", err)
		}
		c.CommitTime = time.UnixMicro(us).UTC()
		c.Key = json.RawMessage(key)
		if before != "" {
			c.Before = json.RawMessage(before)
		}
		if after != "" {
			c.After = json.RawMessage(after)
		}
		out = append(out, c)
	}
	return out, rows.Err()
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
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback()
	var head uint64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(lsn), 0) FROM _tandem_changelog`).Scan(&head); err != nil {
		return fmt.Errorf("apply: read head: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	applied := 0
	for _, c := range changes {
		if c.LSN <= head {
			continue
		}
		if c.LSN != head+1 {
			return tandem.Errorf(tandem.EINVALID, "apply: entry %d follows %d: the changelog has a gap", c.LSN, head)
		}
		t, ok := tables[c.Table]
		if !ok {
			return tandem.Errorf(tandem.EINVALID, "apply: entry %d changes table %q, which this region does not have; run the same version of tandem in every region", c.LSN, c.Table)
		}
		if err := applyRow(ctx, tx, t, c); err != nil {
			return fmt.Errorf("apply entry %d: %w", c.LSN, err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO _tandem_changelog (lsn, epoch, time_us, tbl, key, op, before, after)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.LSN, c.Epoch, c.CommitTime.UnixMicro(), c.Table, string(c.Key), string(c.Op), nullJSON(c.Before), nullJSON(c.After)); err != nil {
			return fmt.Errorf("apply entry %d: record: %w", c.LSN, err)
		}
		head = c.LSN
		applied++
	}
	if applied == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 0 WHERE id = 1`); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply: commit: %w", err)
	}
	s.notify()
	return nil
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return string(b)
}

// applyRow makes the row change c to table t.
func applyRow(ctx context.Context, tx *sql.Tx, t *table, c tandem.Change) error {
	key, err := decodeRow(t, c.Key)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if len(key) != len(t.Key) {
		return tandem.Errorf(tandem.EINVALID, "key of %s names %d columns, the table's primary key has %d", t.Name, len(key), len(t.Key))
	}
	where, whereArgs := keyClause(t, key)
	if c.Op == tandem.OpDelete {
		_, err := tx.ExecContext(ctx, "DELETE FROM "+quoteIdent(t.Name)+" WHERE "+where, whereArgs...)
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
	switch c.Op {
	case tandem.OpUpdate:
		sets := make([]string, len(cols))
		args := make([]any, 0, len(cols)+len(whereArgs))
		for i, col := range cols {
			sets[i] = quoteIdent(col) + " = ?"
			args = append(args, row[col])
		}
		res, err := tx.ExecContext(ctx, "UPDATE "+quoteIdent(t.Name)+" SET "+strings.Join(sets, ", ")+" WHERE "+where, append(args, whereArgs...)...)
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
		_, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO "+quoteIdent(t.Name)+" ("+strings.Join(quoted, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", args...)
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
		if !t.has[col] {
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
	out := make(map[string]string, len(tables))
	for name, t := range tables {
		sum, err := checksum(ctx, tx, t)
		if err != nil {
			return nil, fmt.Errorf("checksum %s: %w", name, err)
		}
		out[name] = sum
	}
	return out, nil
}

func checksum(ctx context.Context, tx *sql.Tx, t *table) (string, error) {
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = quoteIdent(k)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+jsonObject(quoteIdent(t.Name), t.Columns)+" FROM "+quoteIdent(t.Name)+" ORDER BY "+strings.Join(keys, ", "))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	h := sha256.New()
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			return "", err
		}
		canon, err := canonicalJSON(row)
		if err != nil {
			return "", err
		}
		h.Write(canon)
		h.Write([]byte{'\n'})
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalJSON re-encodes a JSON object with sorted keys and numbers as
// written, so equal rows hash equally whatever store produced them.
func canonicalJSON(s string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}
