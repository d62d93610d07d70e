package remittance_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/remittance"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/sqlite"
)

const secret = "test-secret"

// MustOpenService returns the remittance service over a new migrated store
// in dir: the writer, or a follower.
func MustOpenService(tb testing.TB, dir string, writer bool) *remittance.Service {
	tb.Helper()
	st := sqlite.New(filepath.Join(dir, "region.db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	svc := remittance.NewService(st)
	if err := svc.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := st.SetRole(context.Background(), tandem.Role{Writer: writer, Epoch: 1}); err != nil {
		tb.Fatal(err)
	}
	return svc
}

func sample(amount int64) tandem.Remittance {
	return tandem.Remittance{
		SenderName: "Ana Souza", SenderBank: "Banco Um", SenderAccount: "0001-12345",
		ReceiverName: "Kenji Sato", ReceiverBank: "Tokyo Bank", ReceiverAccount: "987654321",
		Amount: amount, CreatedBy: "jerome",
	}
}

// TestRemittancesReplicate creates, updates and deletes remittances at a
// writer while a follower streams its changelog: the follower ends with the
// same remittances, versions included, and refuses writes of its own.
func TestRemittancesReplicate(t *testing.T) {
	ctx := context.Background()
	w := MustOpenService(t, t.TempDir(), true)
	f := MustOpenService(t, t.TempDir(), false)
	srv := httptest.NewServer(&replication.Server{Store: w.Store, Secret: secret, HeartbeatInterval: 50 * time.Millisecond})
	defer srv.Close()
	defer srv.CloseClientConnections()
	follower := &replication.Follower{Store: f.Store, Secret: secret, HeartbeatInterval: 50 * time.Millisecond,
		Source: func() (string, bool) { return srv.URL, true }}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { follower.Run(runCtx) })
	defer wg.Wait()
	defer cancel()

	var ids []string
	for i := range 50 {
		r := sample(int64(100 + i))
		if err := w.CreateRemittance(ctx, &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	for i, id := range ids[:10] {
		r, err := w.FindRemittanceByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r.Amount, r.ReceiverName = r.Amount*2, fmt.Sprintf("Receiver %d", i)
		if err := w.UpdateRemittance(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.DeleteRemittance(ctx, ids[10], 0); err != nil {
		t.Fatal(err)
	}

	want, err := w.FindRemittances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		got, err := f.FindRemittances(ctx)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("follower has %d remittances, writer %d", len(got), len(want))
		}
		return nil
	})
	if len(want) != 49 || want[0].Version != 2 || want[0].Amount != 200 || want[0].ReceiverName != "Receiver 0" {
		t.Fatalf("writer holds %d remittances, first %+v", len(want), want[0])
	}
	ws, _ := w.Store.Checksums(ctx)
	fs, _ := f.Store.Checksums(ctx)
	if ws["remittances"] == "" || ws["remittances"] != fs["remittances"] {
		t.Fatalf("checksums differ: writer %q, follower %q", ws["remittances"], fs["remittances"])
	}

	r := sample(1)
	if err := f.CreateRemittance(ctx, &r); err == nil {
		t.Fatal("the follower accepted a remittance")
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	w := MustOpenService(t, t.TempDir(), true)
	bad := sample(0)
	if err := w.CreateRemittance(ctx, &bad); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("amount 0: %v", err)
	}
	r := sample(5)
	if err := w.CreateRemittance(ctx, &r); err != nil {
		t.Fatal(err)
	}
	r.Version = 0
	if err := w.UpdateRemittance(ctx, &r); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("update without a version: %v", err)
	}
	r.Version, r.ID = 1, "missing"
	if err := w.UpdateRemittance(ctx, &r); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatalf("update of a missing id: %v", err)
	}
}
