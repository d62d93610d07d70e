package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/internal/sqlstore"
)

// table describes an application table: its columns and primary key.
type table = sqlstore.Table

// integer matches the INTEGER type name of portable migrations.
var integer = regexp.MustCompile(`(?i)\bINTEGER\b`)

// Migrate applies the app's migrations that have not run yet and installs
// the capture trigger on every application table. Migrations run with
// capture off, so rows they insert are never replicated twice.
//
// INTEGER in a migration is 64 bits, as it is in SQLite: the store creates
// such columns as BIGINT, so that the same migrations hold microsecond times.
func (s *Store) Migrate(ctx context.Context, app string, migrations []tandem.Migration) error {
	err := s.writeTx(ctx, true, func(tx *sql.Tx) error {
		for _, m := range migrations {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM _tandem_migrations WHERE app = $1 AND name = $2`, app, m.Name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, integer.ReplaceAllString(m.SQL, "BIGINT")); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO _tandem_migrations (app, name, applied_us) VALUES ($1, $2, $3)`, app, m.Name, s.Now().UnixMicro()); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		tables, err := readTables(ctx, tx)
		if err != nil {
			return err
		}
		for _, t := range tables {
			if len(t.Key) == 0 {
				return fmt.Errorf("table %s has no primary key; replication needs one to address rows", t.Name)
			}
			if _, err := tx.ExecContext(ctx, triggerSQL(t)); err != nil {
				return fmt.Errorf("capture changes of %s: %w", t.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate %s: %w", app, err)
	}
	s.mu.Lock()
	s.schema = nil
	s.mu.Unlock()
	return nil
}

// triggerSQL (re)creates t's capture trigger.
func triggerSQL(t *table) string {
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = quoteLit(k)
	}
	name := quoteIdent("_tandem_capture_" + t.Name)
	return fmt.Sprintf(`DROP TRIGGER IF EXISTS %s ON %s;
CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION _tandem_capture(%s)`,
		name, quoteIdent(t.Name), name, quoteIdent(t.Name), strings.Join(keys, ", "))
}

// tables returns the application tables, read from the catalog once and
// again after every migration.
func (s *Store) tables(ctx context.Context) (map[string]*table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if s.schema, err = readTables(ctx, tx); err != nil {
		return nil, err
	}
	return s.schema, nil
}

func readTables(ctx context.Context, q sqlstore.Querier) (map[string]*table, error) {
	return sqlstore.ReadTables(ctx, q, `
		SELECT tablename FROM pg_tables
		WHERE schemaname = current_schema() AND tablename NOT LIKE '\_tandem%'
		ORDER BY tablename`, `
		SELECT a.attname, coalesce((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum), 0)
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		WHERE c.relname = $1 AND n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLit(s string) string   { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
