package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/pgserver"
	"github.com/tandemhq/tandem/store/postgres"
	"github.com/tandemhq/tandem/store/storetest"
)

// server is the PostgreSQL server of the package's tests; nil when
// PostgreSQL is not installed, and then the tests are skipped.
var server *pgserver.Server

func TestMain(m *testing.M) {
	var err error
	server, err = pgserver.Start("", pgserver.Options{Fast: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "store/postgres tests skipped: %v\n", err)
	}
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	os.Exit(code)
}

// dbs numbers the tests' databases.
var dbs atomic.Int64

func open(t *testing.T) tandem.Store {
	t.Helper()
	if server == nil {
		t.Skip(pgserver.ErrNotInstalled)
	}
	dsn, err := server.CreateDatabase(context.Background(), fmt.Sprintf("t%d", dbs.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.New(dsn)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) { storetest.RunContract(t, open) }

func TestRebind(t *testing.T) {
	for q, want := range map[string]string{
		`SELECT a FROM t WHERE id = ? AND b = ?`:        `SELECT a FROM t WHERE id = $1 AND b = $2`,
		`SELECT '?', "a?" FROM t WHERE x = ?`:           `SELECT '?', "a?" FROM t WHERE x = $1`,
		"SELECT 1 -- why?\nFROM t WHERE x = ?":          "SELECT 1 -- why?\nFROM t WHERE x = $1",
		`SELECT 'it''s ?' FROM t WHERE x = ? AND y = ?`: `SELECT 'it''s ?' FROM t WHERE x = $1 AND y = $2`,
		`SELECT 1`: `SELECT 1`,
	} {
		if got := postgres.Rebind(q); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", q, got, want)
		}
	}
}
