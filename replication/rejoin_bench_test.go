package replication_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/storetest"
)

// BenchmarkRejoin measures a rejoin: from a returning old writer's first
// contact with the new writer until it has quarantined its divergent
// entries, rewound, and caught up. Sizes are the store's rows and the
// divergent entries.
func BenchmarkRejoin(b *testing.B) {
	for _, size := range []int{10_000, 100_000} {
		for _, divergent := range []int{10, 1_000, 10_000} {
			b.Run(fmt.Sprintf("rows=%d/divergent=%d", size, divergent), func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					a, srvB, b2 := divergedPair(b, size, divergent)
					b.StartTimer()
					rejoinOnce(b, a, srvB, b2)
				}
			})
		}
	}
}

// divergedPair returns an old writer a holding divergent entries and the
// new writer's server.
func divergedPair(b *testing.B, size, divergent int) (tandem.Store, *httptest.Server, tandem.Store) {
	ctx := context.Background()
	dir := b.TempDir()
	a := openStore(b, filepath.Join(dir, "a.db"), true)
	nb := openStore(b, filepath.Join(dir, "b.db"), false)
	for _, s := range []tandem.Store{a, nb} {
		if err := replication.NewQuarantine(s).Migrate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	insert(b, a, 0, size, 1000)
	storetest.MustReplicate(b, a, nb)
	insert(b, a, size, divergent, 100)
	if err := nb.SetRole(ctx, tandem.Role{Writer: true, Epoch: 2}); err != nil {
		b.Fatal(err)
	}
	if err := a.SetRole(ctx, tandem.Role{Epoch: 2}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(&replication.Server{Store: nb, Quarantine: replication.NewQuarantine(nb), Secret: secret})
	b.Cleanup(func() { srv.Close(); a.Close(); nb.Close() })
	return a, srv, nb
}

func rejoinOnce(b *testing.B, a tandem.Store, srv *httptest.Server, nb tandem.Store) {
	f := &replication.Follower{Store: a, Region: "old", Source: func() (string, bool) { return srv.URL, true }, Secret: secret}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for {
		// The new writer's head moves as it records the quarantine.
		head, _ := nb.Position(context.Background())
		if st := f.Status(); st.Rejoins == 1 && st.Applied.LSN == head.LSN {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("no rejoin: %+v", f.Status())
		}
		time.Sleep(time.Millisecond)
	}
}
