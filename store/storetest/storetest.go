// Package storetest is the contract every tandem.Store must meet, as a test
// suite that each store package runs against itself.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tandemhq/tandem"
)

// Migrations create the table the suite writes to.
var Migrations = []tandem.Migration{
	{Name: "001_items", SQL: `CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)`},
}

// Opener opens a new, empty store. The suite closes it.
type Opener func(t *testing.T) tandem.Store

// RunContract runs the store contract against stores made by open.
func RunContract(t *testing.T, open Opener) {
	t.Run("CaptureInsertUpdateDelete", func(t *testing.T) { testCapture(t, open) })
	t.Run("FollowerRefusesWrites", func(t *testing.T) { testFollowerRefuses(t, open) })
	t.Run("GuardBlocksCommit", func(t *testing.T) { testGuard(t, open) })
	t.Run("FailedUpdateWritesNothing", func(t *testing.T) { testRollback(t, open) })
	t.Run("ApplyReplicates", func(t *testing.T) { testApply(t, open) })
	t.Run("ApplyIdempotentAndGapless", func(t *testing.T) { testApplyIdempotent(t, open) })
	t.Run("ApplyRefusesUnknownTableAndColumn", func(t *testing.T) { testApplyUnknown(t, open) })
	t.Run("ChangedWakesWaiters", func(t *testing.T) { testChanged(t, open) })
	t.Run("RewindAndReplay", func(t *testing.T) { testRewindAndReplay(t, open) })
	t.Run("Resync", func(t *testing.T) { testResync(t, open) })
	t.Run("MigrateRefusesTableWithoutKey", func(t *testing.T) { testTableWithoutKey(t, open) })
}

// testTableWithoutKey: replication addresses rows by primary key, so a
// table without one is refused at migration.
func testTableWithoutKey(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	err := s.Migrate(context.Background(), "bad", []tandem.Migration{{Name: "1", SQL: `CREATE TABLE nokey (a TEXT)`}})
	if err == nil {
		t.Fatal("a table without a primary key was accepted")
	}
}

// MustOpenWriter opens a store with the suite's table, as the writer of epoch 1.
func MustOpenWriter(t *testing.T, open Opener) tandem.Store {
	t.Helper()
	s := MustOpenFollower(t, open)
	if err := s.SetRole(context.Background(), tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	return s
}

// MustOpenFollower opens a store with the suite's table, as a follower.
func MustOpenFollower(t *testing.T, open Opener) tandem.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background(), "storetest", Migrations); err != nil {
		t.Fatal(err)
	}
	return s
}

// MustExec runs one statement in its own write transaction.
func MustExec(t *testing.T, s tandem.Store, q string, args ...any) {
	t.Helper()
	err := s.Update(context.Background(), func(tx tandem.Tx) error {
		_, err := tx.Exec(context.Background(), q, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func readAll(t *testing.T, s tandem.Store) []tandem.Change {
	t.Helper()
	cs, err := s.ReadChanges(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func jsonEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if len(got) == 0 {
		got = json.RawMessage("null")
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s = %s, want %s", what, gb, wb)
	}
}

func testCapture(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpenWriter(t, open)
	MustExec(t, s, `INSERT INTO items (id, name, qty) VALUES (?, ?, ?)`, "a", "apple", 1)
	MustExec(t, s, `UPDATE items SET qty = ? WHERE id = ?`, 5, "a")
	MustExec(t, s, `DELETE FROM items WHERE id = ?`, "a")

	cs := readAll(t, s)
	if got, want := len(cs), 3; got != want {
		t.Fatalf("changes = %d, want %d", got, want)
	}
	wantOps := []tandem.Op{tandem.OpInsert, tandem.OpUpdate, tandem.OpDelete}
	for i, c := range cs {
		if got, want := c.LSN, uint64(i+1); got != want {
			t.Fatalf("change %d LSN = %d, want %d", i, got, want)
		}
		if c.Op != wantOps[i] || c.Table != "items" || c.Epoch != 1 {
			t.Fatalf("change %d = %s %s epoch %d", i, c.Op, c.Table, c.Epoch)
		}
		if c.CommitTime.IsZero() {
			t.Fatalf("change %d has no commit time", i)
		}
		jsonEqual(t, "key", c.Key, `{"id":"a"}`)
	}
	jsonEqual(t, "insert before", cs[0].Before, `null`)
	jsonEqual(t, "insert after", cs[0].After, `{"id":"a","name":"apple","qty":1}`)
	jsonEqual(t, "update before", cs[1].Before, `{"id":"a","name":"apple","qty":1}`)
	jsonEqual(t, "update after", cs[1].After, `{"id":"a","name":"apple","qty":5}`)
	jsonEqual(t, "delete before", cs[2].Before, `{"id":"a","name":"apple","qty":5}`)
	jsonEqual(t, "delete after", cs[2].After, `null`)

	pos, err := s.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pos.LSN != 3 || pos.Epoch != 1 || !pos.Time.Equal(cs[2].CommitTime) {
		t.Fatalf("position = %+v, want LSN 3 epoch 1 at %v", pos, cs[2].CommitTime)
	}
}

func testFollowerRefuses(t *testing.T, open Opener) {
	s := MustOpenFollower(t, open)
	err := s.Update(context.Background(), func(tx tandem.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO items (id, name, qty) VALUES ('x', 'x', 1)`)
		return err
	})
	if got, want := tandem.ErrorCode(err), tandem.ENOTWRITER; got != want {
		t.Fatalf("Update on a follower: code %q (%v), want %q", got, err, want)
	}
	if n := len(readAll(t, s)); n != 0 {
		t.Fatalf("follower changelog has %d entries after a refused write", n)
	}
}

func testGuard(t *testing.T, open Opener) {
	s := MustOpenWriter(t, open)
	fenced := tandem.Errorf(tandem.EFENCED, "fenced")
	setGuard(t, s, func(context.Context) (func(), error) { return nil, fenced })
	err := s.Update(context.Background(), func(tx tandem.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO items (id, name, qty) VALUES ('x', 'x', 1)`)
		return err
	})
	if !errors.Is(err, fenced) {
		t.Fatalf("Update with a failing guard = %v, want the guard's error", err)
	}
	if n := len(readAll(t, s)); n != 0 {
		t.Fatalf("changelog has %d entries after a guarded write", n)
	}
}

// Guarded is a store whose write guard can be set.
type Guarded interface{ SetGuard(tandem.WriteGuard) }

func setGuard(t *testing.T, s tandem.Store, g tandem.WriteGuard) {
	t.Helper()
	gs, ok := s.(Guarded)
	if !ok {
		t.Fatalf("%T has no SetGuard method", s)
	}
	gs.SetGuard(g)
}

func testRollback(t *testing.T, open Opener) {
	s := MustOpenWriter(t, open)
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx tandem.Tx) error {
		if _, err := tx.Exec(context.Background(), `INSERT INTO items (id, name, qty) VALUES ('x', 'x', 1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if n := len(readAll(t, s)); n != 0 {
		t.Fatalf("changelog has %d entries after a failed update", n)
	}
	MustExec(t, s, `INSERT INTO items (id, name, qty) VALUES ('y', 'y', 1)`)
	if cs := readAll(t, s); len(cs) != 1 || cs[0].LSN != 1 {
		t.Fatalf("after a rollback the next entry is %+v, want LSN 1 (no gap)", cs)
	}
}
