package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

// table describes an application table: its columns and primary key.
type table = sqlstore.Table

// Migrate applies the app's migrations that have not run yet and regenerates
// the change-capture triggers of every application table. Migrations run
// with capture off on writer and follower alike, so rows they insert are
// never replicated twice.
func (s *Store) Migrate(ctx context.Context, app string, migrations []tandem.Migration) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", app, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("migrate %s: %w", app, err)
	}
	for _, m := range migrations {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM _tandem_migrations WHERE app = ? AND name = ?`, app, m.Name).Scan(&n); err != nil {
			return fmt.Errorf("migrate %s: %w", app, err)
		}
		if n > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate %s %s: %w", app, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO _tandem_migrations (app, name, applied_us) VALUES (?, ?, ?)`, app, m.Name, s.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migrate %s %s: %w", app, m.Name, err)
		}
	}
	tables, err := readTables(ctx, tx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", app, err)
	}
	for _, t := range tables {
		if len(t.Key) == 0 {
			return fmt.Errorf("migrate %s: table %s has no primary key; replication needs one to address rows", app, t.Name)
		}
		for _, stmt := range triggerSQL(t) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s: capture changes of %s: %w", app, t.Name, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE _tandem_state SET applying = 0 WHERE id = 1`); err != nil {
		return fmt.Errorf("migrate %s: %w", app, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: %w", app, err)
	}
	s.mu.Lock()
	s.schema = nil
	s.mu.Unlock()
	return nil
}

// tables returns the application tables, read from the schema once and again
// after every migration.
func (s *Store) tables(ctx context.Context) (map[string]*table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if s.schema, err = readTables(ctx, tx); err != nil {
		return nil, err
	}
	return s.schema, nil
}

type querier = sqlstore.Querier

func readTables(ctx context.Context, q querier) (map[string]*table, error) {
	return sqlstore.ReadTables(ctx, q, `
		SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE '\_tandem%' ESCAPE '\' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		ORDER BY name`,
		`SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLit(s string) string   { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// jsonObject returns a json_object(...) expression over cols of the row ref
// (NEW or OLD).
func jsonObject(ref string, cols []string) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, quoteLit(c), ref+"."+quoteIdent(c))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

// triggerSQL returns the statements that (re)create t's capture triggers.
// Each trigger refuses the write unless the store is the writer or is
// applying the writer's changelog, and records the change with the epoch
// and transaction time of _tandem_state.
func triggerSQL(t *table) []string {
	type ev struct{ name, event, op, key, before, after string }
	evs := []ev{
		{"insert", "INSERT", "insert", jsonObject("NEW", t.Key), "NULL", jsonObject("NEW", t.Columns)},
		{"update", "UPDATE", "update", jsonObject("OLD", t.Key), jsonObject("OLD", t.Columns), jsonObject("NEW", t.Columns)},
		{"delete", "DELETE", "delete", jsonObject("OLD", t.Key), jsonObject("OLD", t.Columns), "NULL"},
	}
	var out []string
	for _, e := range evs {
		name := quoteIdent("_tandem_" + t.Name + "_" + e.name)
		out = append(out, "DROP TRIGGER IF EXISTS "+name, fmt.Sprintf(`CREATE TRIGGER %s AFTER %s ON %s
BEGIN
	SELECT RAISE(ABORT, 'tandem: this store is not the writer') FROM _tandem_state WHERE id = 1 AND writer = 0 AND applying = 0;
	INSERT INTO _tandem_changelog (epoch, time_us, tbl, key, op, before, after)
	SELECT epoch, tx_time_us, %s, %s, '%s', %s, %s FROM _tandem_state WHERE id = 1 AND applying = 0;
END`, name, e.event, quoteIdent(t.Name), quoteLit(t.Name), e.key, e.op, e.before, e.after))
	}
	return out
}
