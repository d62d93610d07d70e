package postgres_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/remittance"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/sqlite"
	"github.com/tandemhq/tandem/store/storetest"
	"github.com/tandemhq/tandem/todo"
)

const secret = "test-secret"

// opener opens a new empty store of one kind.
type opener func(t *testing.T) tandem.Store

func openSQLite(t *testing.T) tandem.Store {
	t.Helper()
	s := sqlite.New(filepath.Join(t.TempDir(), "region.db"))
	s.Synchronous = "NORMAL"
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	return s
}

var kinds = map[string]opener{"postgres": open, "sqlite": openSQLite}

// mustOpen opens a store of kind with the suite's table, as writer or
// follower in epoch 1; the test closes it.
func mustOpen(t *testing.T, kind string, writer bool) tandem.Store {
	t.Helper()
	s := kinds[kind](t)
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background(), "storetest", storetest.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(context.Background(), tandem.Role{Writer: writer, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	return s
}

// serve serves s's changelog on an httptest server.
func serve(t *testing.T, s tandem.Store, q *replication.Quarantine) string {
	t.Helper()
	srv := httptest.NewServer(&replication.Server{Store: s, Quarantine: q, Secret: secret, HeartbeatInterval: 50 * time.Millisecond})
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// follow runs a follower of url into s until the returned stop is called.
func follow(t *testing.T, s tandem.Store, url string) (*replication.Follower, func()) {
	t.Helper()
	f := &replication.Follower{Store: s, Region: "follower", Source: func() (string, bool) { return url, true }, Secret: secret, HeartbeatInterval: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return f, stop
}

var (
	insert       = storetest.InsertItems
	waitCaughtUp = storetest.WaitCaughtUp
)

// TestReplicationPairs streams inserts, updates (one of a primary key) and
// deletes between every pair of store kinds that involves PostgreSQL:
// replication is logical, so a PostgreSQL writer can have a SQLite standby
// and the reverse.
func TestReplicationPairs(t *testing.T) {
	for _, pair := range [][2]string{{"postgres", "postgres"}, {"postgres", "sqlite"}, {"sqlite", "postgres"}} {
		t.Run(pair[0]+"→"+pair[1], func(t *testing.T) {
			w := mustOpen(t, pair[0], true)
			f := mustOpen(t, pair[1], false)
			fol, _ := follow(t, f, serve(t, w, nil))
			insert(t, w, 0, 2000, 50)
			storetest.MustExec(t, w, `UPDATE items SET qty = qty * 10 WHERE qty > 1500`)
			storetest.MustExec(t, w, `UPDATE items SET id = 'renamed', name = 'it''s ?' WHERE id = 'c000003'`)
			storetest.MustExec(t, w, `DELETE FROM items WHERE qty < 100`)
			waitCaughtUp(t, w, f)
			if st := fol.Status(); !st.Connected || st.Applied.LSN == 0 {
				t.Fatalf("follower status %+v", st)
			}
		})
	}
}

// TestRejoinAcrossStores plays an async failover from a PostgreSQL writer
// to a SQLite standby: the old writer's unreplicated entries are
// quarantined at the new writer when it rejoins, and it converges.
func TestRejoinAcrossStores(t *testing.T) {
	ctx := context.Background()
	a := mustOpen(t, "postgres", true)
	b := mustOpen(t, "sqlite", false)
	qa, qb := replication.NewQuarantine(a), replication.NewQuarantine(b)
	for _, q := range []*replication.Quarantine{qa, qb} {
		if err := q.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	urlA, urlB := serve(t, a, qa), serve(t, b, qb)
	_, stopB := follow(t, b, urlA)
	insert(t, a, 0, 100, 10)
	waitCaughtUp(t, a, b)
	stopB()

	insert(t, a, 100, 7, 1) // acknowledged by a alone
	if err := b.SetRole(ctx, tandem.Role{Writer: true, Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	insert(t, b, 500, 5, 1)
	if err := a.SetRole(ctx, tandem.Role{Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	fol, _ := follow(t, a, urlB)
	waitCaughtUp(t, b, a)
	if st := fol.Status(); st.Rejoins != 1 || st.LastRejoin == nil || st.LastRejoin.ForkLSN != 100 || st.LastRejoin.Quarantined != 7 {
		t.Fatalf("rejoin status %+v %+v, want one rejoin at fork 100 with 7 entries", st, st.LastRejoin)
	}
	held, err := qb.ListQuarantine(ctx)
	if err != nil || len(held) != 7 {
		t.Fatalf("quarantine holds %d entries, %v; want 7", len(held), err)
	}
	if e, err := qb.ReplayQuarantine(ctx, held[0].ID); err != nil || e.Status != tandem.QuarantineReplayed {
		t.Fatalf("replay: %+v, %v", e, err)
	}
	waitCaughtUp(t, b, a)
}

// TestAppsOnPostgres runs every application's migrations on PostgreSQL,
// the remittance and ToDo services on it, and replicates them to SQLite.
func TestAppsOnPostgres(t *testing.T) {
	ctx := context.Background()
	stores := map[string]tandem.Store{}
	for _, kind := range []string{"postgres", "sqlite"} {
		s := kinds[kind](t)
		t.Cleanup(func() { s.Close() })
		key, err := auth.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []func(context.Context) error{
			photos.NewService(s).Migrate, auth.NewService(s, key, kind).Migrate, replication.NewQuarantine(s).Migrate,
			remittance.NewService(s).Migrate, todo.NewService(s).Migrate,
		} {
			if err := m(ctx); err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
		}
		if err := s.SetRole(ctx, tandem.Role{Writer: kind == "postgres", Epoch: 1}); err != nil {
			t.Fatal(err)
		}
		stores[kind] = s
	}
	w, f := stores["postgres"], stores["sqlite"]
	follow(t, f, serve(t, w, nil))

	rems := remittance.NewService(w)
	r := tandem.Remittance{SenderName: "Ana", SenderBank: "B1", SenderAccount: "1", ReceiverName: "Kenji", ReceiverBank: "B2", ReceiverAccount: "2", Amount: 5_000_000_000}
	if err := rems.CreateRemittance(ctx, &r); err != nil {
		t.Fatal(err)
	}
	stale := r
	r.Amount++
	if err := rems.UpdateRemittance(ctx, &r); err != nil || r.Version != 2 {
		t.Fatalf("update: %+v, %v", r, err)
	}
	if err := rems.UpdateRemittance(ctx, &stale); tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("stale update: %v", err)
	}
	todos := todo.NewService(w)
	for i := range 3 {
		item := tandem.ToDo{Task: fmt.Sprintf("task %d'; DROP TABLE todos; --", i), Status: "wip"}
		if err := todos.CreateToDo(ctx, &item); err != nil || item.ID != int64(i+1) {
			t.Fatalf("create todo: %+v, %v", item, err)
		}
	}
	if err := todos.DeleteToDo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, w, f)
	got, err := remittance.NewService(f).FindRemittanceByID(ctx, r.ID)
	if err != nil || got != r {
		t.Fatalf("at the SQLite standby: %+v, %v; want %+v", got, err, r)
	}
}
