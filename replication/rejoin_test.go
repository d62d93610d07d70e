package replication_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/storetest"
)

// TestRejoinQuarantinesAndRewinds plays a failover: a is the writer, b
// follows; a takes writes b never sees; b is promoted in epoch 2 and takes
// writes; a comes back as b's follower. a's extra writes must land in the
// quarantine, a must converge on b, and a quarantined entry must replay.
func TestRejoinQuarantinesAndRewinds(t *testing.T) {
	ctx := context.Background()
	a := openStore(t, filepath.Join(t.TempDir(), "a.db"), true)
	defer a.Close()
	b := openStore(t, filepath.Join(t.TempDir(), "b.db"), false)
	defer b.Close()
	qa, qb := replication.NewQuarantine(a), replication.NewQuarantine(b)
	for _, q := range []*replication.Quarantine{qa, qb} {
		if err := q.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	srvA := httptest.NewServer(&replication.Server{Store: a, Quarantine: qa, Secret: secret, HeartbeatInterval: 50 * time.Millisecond})
	defer srvA.Close()
	srvB := httptest.NewServer(&replication.Server{Store: b, Quarantine: qb, Secret: secret, HeartbeatInterval: 50 * time.Millisecond})
	defer srvB.Close()

	_, stopB := follow(t, b, srvA.URL)
	insert(t, a, 0, 100, 10)
	waitCaughtUp(t, a, b)
	stopB()

	// a is cut off but still acknowledges writes.
	insert(t, a, 100, 7, 1)
	storetest.MustExec(t, a, `UPDATE items SET qty = -1 WHERE id = 'c000001'`)

	// b is promoted and takes writes of its own.
	if err := b.SetRole(ctx, tandem.Role{Writer: true, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	insert(t, b, 500, 5, 1)
	storetest.MustExec(t, b, `UPDATE items SET qty = 42 WHERE id = 'c000002'`)

	// a returns as b's follower.
	if err := a.SetRole(ctx, tandem.Role{Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	fol := &replication.Follower{Store: a, Region: "us-east-1", Source: func() (string, bool) { return srvB.URL, true }, Secret: secret, HeartbeatInterval: 50 * time.Millisecond}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { fol.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	waitCaughtUp(t, b, a)

	st := fol.Status()
	if st.Rejoins != 1 || st.LastRejoin == nil || st.LastRejoin.ForkLSN != 100 || st.LastRejoin.Quarantined != 8 {
		t.Fatalf("rejoin status = %+v %+v, want one rejoin at fork 100 with 8 entries", st, st.LastRejoin)
	}
	held, err := qb.ListQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 8 {
		t.Fatalf("quarantine holds %d entries, want 8", len(held))
	}
	for i, e := range held {
		if e.Region != "us-east-1" || e.Status != tandem.QuarantineHeld || e.Change.Epoch != 1 || e.Change.LSN != uint64(101+i) {
			t.Fatalf("quarantined entry %d = %+v", i, e)
		}
	}
	// The quarantine replicates: once a catches up it holds the same list.
	retry.Until(t, 20*time.Millisecond, 10*time.Second, func() error {
		got, err := qa.ListQuarantine(ctx)
		if err != nil || len(got) != 8 {
			return fmt.Errorf("a's quarantine: %d entries, %v", len(got), err)
		}
		return nil
	})

	// A lost insert replays; the lost update of a row b never changed
	// replays too; entries whose rows b changed since are conflicts.
	if e, err := qb.ReplayQuarantine(ctx, held[0].ID); err != nil || e.Status != tandem.QuarantineReplayed {
		t.Fatalf("replay %s: %+v, %v", held[0].ID, e, err)
	}
	if _, err := qb.ReplayQuarantine(ctx, held[0].ID); tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("second replay: %v, want conflict", err)
	}
	if e, err := qb.ReplayQuarantine(ctx, held[7].ID); err != nil || e.Status != tandem.QuarantineReplayed {
		t.Fatalf("replay the update: %+v, %v", e, err)
	}
	// Replays of one entry at once (two operators, a double click): one
	// applies it, the others are told it was replayed, and it stays so.
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { _, err := qb.ReplayQuarantine(ctx, held[1].ID); errs <- err }()
	}
	applied := 0
	for range cap(errs) {
		switch err := <-errs; {
		case err == nil:
			applied++
		case tandem.ErrorCode(err) != tandem.ECONFLICT || !strings.Contains(err.Error(), "replayed already"):
			t.Fatalf("a concurrent replay: %v", err)
		}
	}
	if e, err := qb.FindQuarantine(ctx, held[1].ID); applied != 1 || err != nil || e.Status != tandem.QuarantineReplayed {
		t.Fatalf("after concurrent replays (%d applied): %+v, %v", applied, e, err)
	}
	if _, err := qb.FindQuarantine(ctx, "e9-999"); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatalf("unknown id: %v", err)
	}
	waitCaughtUp(t, b, a)
}

// TestStreamRefusesDivergedFollower checks the server side: a follower that
// names an epoch for its head entry that differs from the writer's is told
// to rejoin.
func TestStreamRefusesDivergedFollower(t *testing.T) {
	w, srv := writer(t)
	insert(t, w, 0, 3, 1)
	resp, err := httpGet(srv.URL+replication.StreamPath+"?from=2&epoch=7", secret)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(resp, "rejoin") {
		t.Fatalf("stream for a diverged follower said %q", resp)
	}
}
