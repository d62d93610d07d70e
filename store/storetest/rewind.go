package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/tandemhq/tandem"
)

func testRewindAndReplay(t *testing.T, open Opener) {
	ctx := context.Background()
	a := MustOpenWriter(t, open) // the old writer, epoch 1
	b := MustOpenFollower(t, open)
	MustExec(t, a, `INSERT INTO items (id, name, qty) VALUES ('k1', 'one', 1), ('k2', 'two', 2), ('k3', 'three', 3)`)
	MustExec(t, a, `UPDATE items SET qty = 10 WHERE id = 'k1'`)
	MustReplicate(t, a, b) // b has LSN 1-4

	// a goes on alone: these entries never reach b.
	MustExec(t, a, `INSERT INTO items (id, name, qty) VALUES ('lost', 'lost', 99)`)
	MustExec(t, a, `UPDATE items SET qty = 20, id = 'k2-renamed' WHERE id = 'k2'`)
	MustExec(t, a, `DELETE FROM items WHERE id = 'k3'`)
	MustExec(t, a, `UPDATE items SET name = 'uno' WHERE id = 'k1'`)

	// b is promoted in epoch 2 and takes writes.
	if err := b.SetRole(ctx, tandem.Role{Writer: true, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	MustExec(t, b, `INSERT INTO items (id, name, qty) VALUES ('new', 'new', 5)`)
	MustExec(t, b, `UPDATE items SET qty = 11 WHERE id = 'k1'`)

	ah, _ := a.History(ctx)
	bh, _ := b.History(ctx)
	ap, _ := a.Position(ctx)
	bp, _ := b.Position(ctx)
	fork := tandem.ForkLSN(ah, ap.LSN, bh, bp.LSN)
	if fork != 4 {
		t.Fatalf("fork = %d, want 4 (histories %v and %v)", fork, ah, bh)
	}
	if _, err := a.Rewind(ctx, fork); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("rewinding the writer: %v, want invalid", err)
	}
	if err := a.SetRole(ctx, tandem.Role{Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	undone, err := a.Rewind(ctx, fork)
	if err != nil {
		t.Fatal(err)
	}
	if len(undone) != 4 || undone[0].LSN != 5 || undone[3].LSN != 8 {
		t.Fatalf("rewind returned %d entries %+v, want LSN 5-8", len(undone), undone)
	}
	if p, _ := a.Position(ctx); p.LSN != 4 {
		t.Fatalf("after rewind a is at %d, want 4", p.LSN)
	}
	MustReplicate(t, b, a)
	MustSameData(t, a, b)

	// Replaying the lost insert works; replaying the update of k1, which b
	// changed since, is a conflict that changes nothing.
	before, _ := b.Position(ctx)
	boom := errors.New("the record of the replay failed")
	if err := b.Replay(ctx, undone[0], func(tandem.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("replay whose also fails: %v, want its error", err)
	}
	if p, _ := b.Position(ctx); p.LSN != before.LSN {
		t.Fatalf("a replay whose also failed moved the head from %d to %d", before.LSN, p.LSN)
	}
	if err := b.Replay(ctx, undone[0], nil); err != nil {
		t.Fatalf("replay the lost insert: %v", err)
	}
	if err := b.Replay(ctx, undone[3], nil); tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("replay over a changed row: %v, want conflict", err)
	}
	cs, _ := b.ReadChanges(ctx, before.LSN, 10)
	if len(cs) != 1 || cs[0].Epoch != 2 || cs[0].Op != tandem.OpInsert {
		t.Fatalf("replay wrote %+v, want one insert in epoch 2", cs)
	}
	// The renamed row's entry replays too: the row it found is untouched.
	if err := b.Replay(ctx, undone[1], nil); err != nil {
		t.Fatalf("replay the update with a key change: %v", err)
	}
}

func testResync(t *testing.T, open Opener) {
	ctx := context.Background()
	w := MustOpenWriter(t, open)
	f := MustOpenFollower(t, open)
	MustExec(t, w, `INSERT INTO items (id, name, qty) VALUES ('a', 'a', 1)`)
	MustReplicate(t, w, f)
	if err := f.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.Position(ctx); p.LSN != 0 {
		t.Fatalf("after resync at %d", p.LSN)
	}
	MustReplicate(t, w, f)
	MustSameData(t, w, f)
	if err := w.Resync(ctx); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("resync of the writer: %v", err)
	}
}
