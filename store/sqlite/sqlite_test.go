package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/sqlite"
	"github.com/tandemhq/tandem/store/storetest"
)

func open(t *testing.T) tandem.Store {
	t.Helper()
	s := sqlite.New(filepath.Join(t.TempDir(), "region.db"))
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) { storetest.RunContract(t, open) }

func TestReopenKeepsDataAndRole(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "region.db")
	s := sqlite.New(path)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx, "storetest", storetest.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, tandem.Role{Writer: true, Epoch: 7}); err != nil {
		t.Fatal(err)
	}
	storetest.MustExec(t, s, `INSERT INTO items (id, name, qty) VALUES ('a', 'n', 1)`)
	s.Close()

	s = sqlite.New(path)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx, "storetest", storetest.Migrations); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	role, err := s.Role(ctx)
	if err != nil || role != (tandem.Role{Writer: true, Epoch: 7}) {
		t.Fatalf("role after reopen = %+v, %v", role, err)
	}
	storetest.MustExec(t, s, `INSERT INTO items (id, name, qty) VALUES ('b', 'n', 1)`)
	if p, _ := s.Position(ctx); p.LSN != 2 || p.Epoch != 7 {
		t.Fatalf("position after reopen = %+v", p)
	}
}
