// Package sqlstore is what the SQL stores (SQLite, PostgreSQL) share: the
// changelog's rows and queries, table descriptions, canonical row JSON,
// applying and undoing entries in order, and the commit sequence (write
// guard, commit, wake-up, commit hook). Each store brings the SQL its engine
// speaks.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// Queries both engines accept as they are.
const (
	HeadSQL     = `SELECT coalesce(max(lsn), 0) FROM _tandem_changelog`
	HistorySQL  = `SELECT epoch, min(lsn) FROM _tandem_changelog GROUP BY epoch ORDER BY 2`
	PositionSQL = `
		SELECT coalesce((SELECT lsn FROM _tandem_changelog ORDER BY lsn DESC LIMIT 1), 0),
		       coalesce((SELECT time_us FROM _tandem_changelog ORDER BY lsn DESC LIMIT 1), 0),
		       epoch
		FROM _tandem_state WHERE id = 1`
)

// Table describes an application table: its columns and primary key.
type Table struct {
	Name    string
	Columns []string
	Key     []string
	Has     map[string]bool
}

// Querier runs queries: a *sql.DB or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// ReadTables describes the application tables: list returns their names,
// describe (with a table's name as its one argument) its columns in order,
// each with its position in the primary key (0 if not in it).
func ReadTables(ctx context.Context, q Querier, list, describe string) (map[string]*Table, error) {
	rows, err := q.QueryContext(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]*Table, len(names))
	for _, n := range names {
		if out[n], err = readTable(ctx, q, describe, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readTable(ctx context.Context, q Querier, describe, name string) (*Table, error) {
	rows, err := q.QueryContext(ctx, describe, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	defer rows.Close()
	t := &Table{Name: name, Has: map[string]bool{}}
	keyAt := map[int]string{}
	for rows.Next() {
		var col string
		var pk int
		if err := rows.Scan(&col, &pk); err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, col)
		t.Has[col] = true
		if pk > 0 {
			keyAt[pk] = col
		}
	}
	for i := 1; i <= len(keyAt); i++ {
		t.Key = append(t.Key, keyAt[i])
	}
	return t, rows.Err()
}

// ScanChanges reads changelog rows: lsn, epoch, time_us, tbl, key, op,
// before and after (” for none).
func ScanChanges(rows *sql.Rows) ([]tandem.Change, error) {
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

// History reads the first LSN of each epoch's entries.
func History(ctx context.Context, q Querier) ([]tandem.EpochStart, error) {
	rows, err := q.QueryContext(ctx, HistorySQL)
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

// Position reads the head of the changelog and the store's epoch.
func Position(ctx context.Context, db RowQuerier) (tandem.Position, error) {
	var p tandem.Position
	var us int64
	if err := db.QueryRowContext(ctx, PositionSQL).Scan(&p.LSN, &us, &p.Epoch); err != nil {
		return p, fmt.Errorf("read position: %w", err)
	}
	if us != 0 {
		p.Time = time.UnixMicro(us).UTC()
	}
	return p, nil
}

// RowQuerier runs a query that returns one row, as *sql.Tx does.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ApplyEntries applies the writer's entries after the head in tx, in order:
// apply makes an entry's row change, record copies it into the changelog.
// It returns how many it applied. Returns EINVALID for a gap or a table
// this store does not have.
func ApplyEntries(ctx context.Context, tx RowQuerier, tables map[string]*Table, changes []tandem.Change,
	apply func(*Table, tandem.Change) error, record func(tandem.Change) error) (int, error) {
	var head uint64
	if err := tx.QueryRowContext(ctx, HeadSQL).Scan(&head); err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	applied := 0
	for _, c := range changes {
		if c.LSN <= head {
			continue
		}
		if c.LSN != head+1 {
			return applied, tandem.Errorf(tandem.EINVALID, "entry %d follows %d: the changelog has a gap", c.LSN, head)
		}
		t, ok := tables[c.Table]
		if !ok {
			return applied, tandem.Errorf(tandem.EINVALID, "entry %d changes table %q, which this region does not have; run the same version of tandem in every region", c.LSN, c.Table)
		}
		if err := apply(t, c); err != nil {
			return applied, fmt.Errorf("entry %d: %w", c.LSN, err)
		}
		if err := record(c); err != nil {
			return applied, fmt.Errorf("entry %d: record: %w", c.LSN, err)
		}
		head = c.LSN
		applied++
	}
	return applied, nil
}

// UndoEntries reverts the row changes of entries, newest first, with apply
// (which makes a row change as ApplyEntries's does) and deleteAt (which
// deletes the row at a row image's key).
func UndoEntries(tables map[string]*Table, entries []tandem.Change,
	apply func(*Table, tandem.Change) error, deleteAt func(*Table, json.RawMessage) error) error {
	for i := len(entries) - 1; i >= 0; i-- {
		c := entries[i]
		t, ok := tables[c.Table]
		if !ok {
			return fmt.Errorf("entry %d changes table %s, which no longer exists", c.LSN, c.Table)
		}
		var err error
		switch c.Op {
		case tandem.OpInsert:
			err = apply(t, tandem.Change{Op: tandem.OpDelete, Key: c.Key})
		case tandem.OpDelete:
			err = apply(t, tandem.Change{Op: tandem.OpInsert, Key: c.Key, After: c.Before})
		case tandem.OpUpdate:
			// The row is now at the after-image's key, which differs from
			// the entry's key when the update changed the primary key.
			if err = deleteAt(t, c.After); err == nil {
				err = apply(t, tandem.Change{Op: tandem.OpInsert, Key: c.Key, After: c.Before})
			}
		default:
			err = tandem.Errorf(tandem.EINVALID, "unknown operation %q", c.Op)
		}
		if err != nil {
			return fmt.Errorf("undo entry %d: %w", c.LSN, err)
		}
	}
	return nil
}

// Role reads a store's role.
func Role(ctx context.Context, db RowQuerier) (tandem.Role, error) {
	var r tandem.Role
	var w int
	if err := db.QueryRowContext(ctx, `SELECT writer, epoch FROM _tandem_state WHERE id = 1`).Scan(&w, &r.Epoch); err != nil {
		return r, fmt.Errorf("read role: %w", err)
	}
	r.Writer = w == 1
	return r, nil
}

// Checksums returns the SHA-256 of each table's rows (see HashRows), read
// in tx: rows returns the query of a table's rows as JSON objects in key
// order.
func Checksums(ctx context.Context, tx *sql.Tx, tables map[string]*Table, rows func(*Table) string) (map[string]string, error) {
	out := make(map[string]string, len(tables))
	for name, t := range tables {
		r, err := tx.QueryContext(ctx, rows(t))
		if err == nil {
			out[name], err = HashRows(r)
		}
		if err != nil {
			return nil, fmt.Errorf("checksum %s: %w", name, err)
		}
	}
	return out, nil
}

// NullJSON is a row image as a column value: NULL for none.
func NullJSON(b json.RawMessage) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return string(b)
}

// HashRows returns the SHA-256 of rows of one JSON object each, every row
// in canonical form, so equal rows hash equally whatever store made them.
func HashRows(rows *sql.Rows) (string, error) {
	defer rows.Close()
	h := sha256.New()
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			return "", err
		}
		canon, err := CanonicalJSON(row)
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

// CanonicalJSON re-encodes a JSON object with sorted keys and numbers as
// written.
func CanonicalJSON(s string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// SameRow reports whether a row as stored (null when absent) equals an
// image (empty or "null" for no row).
func SameRow(now sql.NullString, image string) (bool, error) {
	absent := strings.TrimSpace(image) == "" || strings.TrimSpace(image) == "null"
	if !now.Valid || absent {
		return !now.Valid && absent, nil
	}
	a, err := CanonicalJSON(now.String)
	if err != nil {
		return false, err
	}
	b, err := CanonicalJSON(image)
	if err != nil {
		return false, err
	}
	return string(a) == string(b), nil
}

// Conflict is the error of a replay whose row changed since its entry.
func Conflict(c tandem.Change, now sql.NullString) error {
	current := "absent"
	if now.Valid {
		current = now.String
	}
	return tandem.Errorf(tandem.ECONFLICT, "row %s %s has changed since the entry was written; it is now %s", c.Table, c.Key, current)
}

// Commits is a store's commit sequence: the write guard, the commit hook,
// and the channel that wakes waiters at each commit.
type Commits struct {
	mu      sync.Mutex
	changed chan struct{}
	guard   tandem.WriteGuard
	hook    tandem.CommitHook
}

// Changed returns a channel closed at the next commit.
func (c *Commits) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// Notify wakes everyone waiting on Changed.
func (c *Commits) Notify() {
	c.mu.Lock()
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// SetGuard sets the write guard called before every Update commits.
func (c *Commits) SetGuard(g tandem.WriteGuard) {
	c.mu.Lock()
	c.guard = g
	c.mu.Unlock()
}

// SetCommitHook sets the hook called after every Update commits.
func (c *Commits) SetCommitHook(h tandem.CommitHook) {
	c.mu.Lock()
	c.hook = h
	c.mu.Unlock()
}

// Commit ends an Update's transaction: it reads the head, asks the write
// guard, commits, calls committed (which may release the store's writer),
// wakes the waiters and runs the commit hook, whose error is Update's.
func (c *Commits) Commit(ctx context.Context, tx interface {
	RowQuerier
	Commit() error
}, committed func()) error {
	var head uint64
	if err := tx.QueryRowContext(ctx, HeadSQL).Scan(&head); err != nil {
		return fmt.Errorf("read head: %w", err)
	}
	c.mu.Lock()
	guard, hook := c.guard, c.hook
	c.mu.Unlock()
	if guard != nil {
		release, err := guard(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed()
	c.Notify()
	if hook != nil {
		return hook(ctx, head)
	}
	return nil
}
