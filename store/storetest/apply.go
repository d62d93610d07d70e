package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
)

// MustReplicate applies every entry of writer the follower lacks.
func MustReplicate(t testing.TB, writer, follower tandem.Store) {
	t.Helper()
	ctx := context.Background()
	pos, err := follower.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := writer.ReadChanges(ctx, pos.LSN, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.ApplyChanges(ctx, cs); err != nil {
		t.Fatal(err)
	}
}

// MustSameData fails the test unless both stores' checksums are equal.
func MustSameData(t *testing.T, a, b tandem.Store) {
	t.Helper()
	ca, err := a.Checksums(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Checksums(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ca, cb) {
		t.Fatalf("checksums differ:\n%v\n%v", ca, cb)
	}
}

func testApply(t *testing.T, open Opener) {
	ctx := context.Background()
	w := MustOpenWriter(t, open)
	f := MustOpenFollower(t, open)
	for i := 0; i < 20; i++ {
		MustExec(t, w, `INSERT INTO items (id, name, qty) VALUES (?, ?, ?)`, fmt.Sprint(i), fmt.Sprintf("item %d", i), i)
	}
	MustExec(t, w, `UPDATE items SET qty = qty * 10 WHERE qty > 10`)
	MustExec(t, w, `UPDATE items SET id = 'renamed' WHERE id = '3'`)
	MustExec(t, w, `DELETE FROM items WHERE qty < 2`)
	MustReplicate(t, w, f)
	MustSameData(t, w, f)

	wp, _ := w.Position(ctx)
	fp, err := f.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fp.LSN != wp.LSN || !fp.Time.Equal(wp.Time) {
		t.Fatalf("follower position %+v, writer %+v", fp, wp)
	}
	// The follower keeps the writer's entries, so it can serve them once promoted.
	wc, _ := w.ReadChanges(ctx, 0, 1000)
	fc, _ := f.ReadChanges(ctx, 0, 1000)
	if len(wc) != len(fc) {
		t.Fatalf("follower has %d entries, writer %d", len(fc), len(wc))
	}
	for i := range wc {
		if wc[i].LSN != fc[i].LSN || wc[i].Epoch != fc[i].Epoch || wc[i].Op != fc[i].Op {
			t.Fatalf("entry %d differs: %+v vs %+v", i, wc[i], fc[i])
		}
	}
	// Promoted, the follower continues the LSN sequence.
	if err := f.SetRole(ctx, tandem.Role{Writer: true, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	MustExec(t, f, `INSERT INTO items (id, name, qty) VALUES ('new', 'n', 1)`)
	cs, err := f.ReadChanges(ctx, wp.LSN, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].LSN != wp.LSN+1 || cs[0].Epoch != 2 {
		t.Fatalf("first write after promotion = %+v, want LSN %d epoch 2", cs, wp.LSN+1)
	}
}

func testApplyIdempotent(t *testing.T, open Opener) {
	ctx := context.Background()
	w := MustOpenWriter(t, open)
	f := MustOpenFollower(t, open)
	for i := 0; i < 5; i++ {
		MustExec(t, w, `INSERT INTO items (id, name, qty) VALUES (?, 'n', 1)`, fmt.Sprint(i))
	}
	cs, _ := w.ReadChanges(ctx, 0, 100)
	if err := f.ApplyChanges(ctx, cs[:3]); err != nil {
		t.Fatal(err)
	}
	if err := f.ApplyChanges(ctx, cs); err != nil {
		t.Fatalf("re-applying overlapping entries: %v", err)
	}
	MustSameData(t, w, f)
	if err := f.ApplyChanges(ctx, cs); err != nil {
		t.Fatalf("re-applying all entries: %v", err)
	}
	MustExec(t, w, `INSERT INTO items (id, name, qty) VALUES ('5', 'n', 1)`)
	MustExec(t, w, `INSERT INTO items (id, name, qty) VALUES ('6', 'n', 1)`)
	more, _ := w.ReadChanges(ctx, 6, 10)
	err := f.ApplyChanges(ctx, more)
	if got, want := tandem.ErrorCode(err), tandem.EINVALID; got != want {
		t.Fatalf("applying with a gap: %v, want code %s", err, want)
	}
	if p, _ := f.Position(ctx); p.LSN != 5 {
		t.Fatalf("after a refused batch the follower is at %d, want 5", p.LSN)
	}
}

func testApplyUnknown(t *testing.T, open Opener) {
	ctx := context.Background()
	f := MustOpenFollower(t, open)
	bad := []tandem.Change{
		{LSN: 1, Epoch: 1, CommitTime: time.Now(), Table: "nope", Op: tandem.OpInsert, Key: json.RawMessage(`{"id":"a"}`), After: json.RawMessage(`{"id":"a"}`)},
		{LSN: 1, Epoch: 1, CommitTime: time.Now(), Table: "items", Op: tandem.OpInsert, Key: json.RawMessage(`{"id":"a"}`), After: json.RawMessage(`{"id":"a","name":"n","qty":1,"x\" INT); DROP TABLE items; --":1}`)},
		{LSN: 1, Epoch: 1, CommitTime: time.Now(), Table: "items", Op: tandem.OpInsert, Key: json.RawMessage(`[1]`), After: json.RawMessage(`{"id":"a","name":"n","qty":1}`)},
		{LSN: 1, Epoch: 1, CommitTime: time.Now(), Table: "items", Op: "upsert", Key: json.RawMessage(`{"id":"a"}`), After: json.RawMessage(`{"id":"a","name":"n","qty":1}`)},
	}
	for i, c := range bad {
		if err := f.ApplyChanges(ctx, []tandem.Change{c}); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Fatalf("bad entry %d applied: %v", i, err)
		}
	}
	if p, _ := f.Position(ctx); p.LSN != 0 {
		t.Fatalf("follower at %d after refused entries", p.LSN)
	}
	sums, err := f.Checksums(ctx)
	if err != nil || len(sums) != 1 {
		t.Fatalf("checksums = %v, %v: the items table should still be there", sums, err)
	}
}

func testChanged(t *testing.T, open Opener) {
	w := MustOpenWriter(t, open)
	ch := w.Changed()
	select {
	case <-ch:
		t.Fatal("Changed fired before any commit")
	default:
	}
	MustExec(t, w, `INSERT INTO items (id, name, qty) VALUES ('a', 'n', 1)`)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed did not fire after a commit")
	}
}
