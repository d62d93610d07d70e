package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tandemhq/tandem"
)

// TestStatementsStayPrepared: a statement a transaction ran is prepared
// once that transaction has ended and used prepared from then on, still
// right after the schema changes under it; a schema statement is not kept.
func TestStatementsStayPrepared(t *testing.T) {
	ctx := context.Background()
	s := New(filepath.Join(t.TempDir(), "region.db"))
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx, "test", []tandem.Migration{{Name: "1", SQL: `CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO items (id, n) VALUES (?, ?)`
	const count = `SELECT count(*), coalesce(sum(n), 0) FROM items`
	prepared := func(c *stmtCache, q string) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.stmts[q] != nil
	}
	for i, id := range []string{"a", "b", "c"} {
		if err := s.Update(ctx, func(tx tandem.Tx) error {
			_, err := tx.Exec(ctx, insert, id, i)
			return err
		}); err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
		if !prepared(s.wstmts, insert) {
			t.Fatalf("after insert %s the statement is not prepared", id)
		}
	}
	if err := s.Migrate(ctx, "test", []tandem.Migration{{Name: "2", SQL: `ALTER TABLE items ADD COLUMN note TEXT`}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var n, sum int
		if err := s.View(ctx, func(tx tandem.Tx) error { return tx.QueryRow(ctx, count).Scan(&n, &sum) }); err != nil || n != 3 || sum != 3 {
			t.Fatalf("count = %d, %d, %v; want 3, 3", n, sum, err)
		}
	}
	if err := s.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, insert, "d", 4) // prepared before the ALTER
		return err
	}); err != nil {
		t.Fatalf("insert after the schema changed: %v", err)
	}
	const index = `CREATE INDEX IF NOT EXISTS items_by_n ON items (n)`
	for range 2 {
		if err := s.Update(ctx, func(tx tandem.Tx) error { _, err := tx.Exec(ctx, index); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if !prepared(s.rstmts, count) || prepared(s.wstmts, index) {
		t.Fatal("want the query prepared and the schema statement not")
	}
	if p, err := s.Position(ctx); err != nil || p.LSN != 4 {
		t.Fatalf("position = %+v, %v; want 4 entries", p, err)
	}
}

// TestNestedQueriesOfOneStatement: a query run again while the rows of the
// same query are open in one transaction (walking a tree) reads its own
// rows, the first time and once statements are prepared.
func TestNestedQueriesOfOneStatement(t *testing.T) {
	ctx := context.Background()
	s := New(filepath.Join(t.TempDir(), "region.db"))
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx, "test", []tandem.Migration{{Name: "1", SQL: `CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL)`}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx tandem.Tx) error {
		for id, parent := range map[int]int{1: 0, 2: 1, 3: 1, 4: 2} {
			if _, err := tx.Exec(ctx, `INSERT INTO nodes (id, parent) VALUES (?, ?)`, id, parent); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const children = `SELECT id FROM nodes WHERE parent = ? ORDER BY id`
	var walk func(tx tandem.Tx, parent int, out *[]int) error
	walk = func(tx tandem.Tx, parent int, out *[]int) error {
		rows, err := tx.Query(ctx, children, parent)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				return err
			}
			*out = append(*out, id)
			if err := walk(tx, id, out); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	for round := range 3 {
		var got []int
		if err := s.View(ctx, func(tx tandem.Tx) error { return walk(tx, 0, &got) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 4 || got[3] != 3 {
			t.Fatalf("round %d: walked %v, want [1 2 4 3]", round, got)
		}
	}
}
