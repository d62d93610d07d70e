package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
)

// InsertItems inserts n items into the suite's table, from id c<from>, perTx
// to a transaction.
func InsertItems(t testing.TB, s tandem.Store, from, n, perTx int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i += perTx {
		err := s.Update(ctx, func(tx tandem.Tx) error {
			for j := i; j < i+perTx && j < from+n; j++ {
				if _, err := tx.Exec(ctx, `INSERT INTO items (id, name, qty) VALUES (?, ?, ?)`, fmt.Sprintf("c%06d", j), fmt.Sprintf("comment %d", j), j); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// WaitCaughtUp waits until follower f has applied writer w's head, and
// checks that both hold the same rows.
func WaitCaughtUp(t *testing.T, w, f tandem.Store) {
	t.Helper()
	retry.Until(t, 10*time.Millisecond, 30*time.Second, func() error {
		wp, err := w.Position(context.Background())
		if err != nil {
			return err
		}
		fp, err := f.Position(context.Background())
		if err != nil {
			return err
		}
		if fp.LSN != wp.LSN {
			return fmt.Errorf("follower at %d, writer at %d", fp.LSN, wp.LSN)
		}
		return nil
	})
	MustSameData(t, w, f)
}
