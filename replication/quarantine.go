package replication

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tandemhq/tandem"
)

// Migrations create tandem's own replicated tables: the quarantine, and the
// probes runbooks write to prove that writes work.
var Migrations = []tandem.Migration{{Name: "001_quarantine", SQL: `
CREATE TABLE tandem_quarantine (
	id             TEXT PRIMARY KEY,
	region         TEXT NOT NULL,
	lsn            INTEGER NOT NULL,
	epoch          INTEGER NOT NULL,
	tbl            TEXT NOT NULL,
	entry          TEXT NOT NULL,
	quarantined_us INTEGER NOT NULL,
	reason         TEXT NOT NULL,
	status         TEXT NOT NULL,
	resolved_us    INTEGER NOT NULL DEFAULT 0,
	resolution     TEXT NOT NULL DEFAULT ''
)`}, {Name: "002_probes", SQL: `
CREATE TABLE tandem_probes (
	id        TEXT PRIMARY KEY,
	region    TEXT NOT NULL,
	probed_us INTEGER NOT NULL
)`}}

// RecordProbe writes a runbook's probe row at region: a real replicated
// write through the same gate as every application write.
func RecordProbe(ctx context.Context, store tandem.Store, id, region string, now time.Time) error {
	return store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tandem_probes (id, region, probed_us) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET region = excluded.region, probed_us = excluded.probed_us`, id, region, now.UnixMicro())
		return err
	})
}

// Quarantine implements tandem.QuarantineService over a region store.
type Quarantine struct {
	Store tandem.Store
	Now   func() time.Time
}

var _ tandem.QuarantineService = (*Quarantine)(nil)

// NewQuarantine returns the quarantine of store.
func NewQuarantine(store tandem.Store) *Quarantine { return &Quarantine{Store: store, Now: time.Now} }

// Migrate creates tandem's own tables.
func (q *Quarantine) Migrate(ctx context.Context) error {
	return q.Store.Migrate(ctx, "tandem", Migrations)
}

// QuarantineID names an entry: its epoch and LSN identify it in any region.
func QuarantineID(c tandem.Change) string { return fmt.Sprintf("e%d-%d", c.Epoch, c.LSN) }

// AddQuarantine records divergent entries.
func (q *Quarantine) AddQuarantine(ctx context.Context, region, reason string, changes []tandem.Change) error {
	now := q.Now().UnixMicro()
	return q.Store.Update(ctx, func(tx tandem.Tx) error {
		for _, c := range changes {
			entry, err := json.Marshal(c)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `
				INSERT INTO tandem_quarantine (id, region, lsn, epoch, tbl, entry, quarantined_us, reason, status)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				QuarantineID(c), region, c.LSN, c.Epoch, c.Table, string(entry), now, reason, tandem.QuarantineHeld)
			if err != nil {
				return fmt.Errorf("quarantine entry %d: %w", c.LSN, err)
			}
		}
		return nil
	})
}

const quarantineColumns = `id, region, entry, quarantined_us, reason, status, resolved_us, resolution`

func scanQuarantine(row interface{ Scan(...any) error }) (tandem.QuarantinedEntry, error) {
	var e tandem.QuarantinedEntry
	var entry string
	var at, resolved int64
	if err := row.Scan(&e.ID, &e.Region, &entry, &at, &e.Reason, &e.Status, &resolved, &e.Resolution); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(entry), &e.Change); err != nil {
		return e, fmt.Errorf("quarantined entry %s is corrupt: %w", e.ID, err)
	}
	e.QuarantinedAt = time.UnixMicro(at).UTC()
	if resolved != 0 {
		e.ResolvedAt = time.UnixMicro(resolved).UTC()
	}
	return e, nil
}

// ListQuarantine returns every quarantined entry, oldest first.
func (q *Quarantine) ListQuarantine(ctx context.Context) ([]tandem.QuarantinedEntry, error) {
	out := []tandem.QuarantinedEntry{}
	err := q.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+quarantineColumns+` FROM tandem_quarantine ORDER BY quarantined_us, epoch, lsn`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanQuarantine(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// FindQuarantine returns one quarantined entry.
func (q *Quarantine) FindQuarantine(ctx context.Context, id string) (tandem.QuarantinedEntry, error) {
	var e tandem.QuarantinedEntry
	err := q.Store.View(ctx, func(tx tandem.Tx) error {
		var err error
		e, err = scanQuarantine(tx.QueryRow(ctx, `SELECT `+quarantineColumns+` FROM tandem_quarantine WHERE id = ?`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return e, tandem.Errorf(tandem.ENOTFOUND, "no quarantined entry %q", id)
	}
	return e, err
}

// ReplayQuarantine applies an entry again if its row is unchanged since.
func (q *Quarantine) ReplayQuarantine(ctx context.Context, id string) (tandem.QuarantinedEntry, error) {
	e, err := q.FindQuarantine(ctx, id)
	if err != nil {
		return e, err
	}
	replayedAlready := func(e tandem.QuarantinedEntry) error {
		return tandem.Errorf(tandem.ECONFLICT, "entry %s was replayed already, at %s", id, e.ResolvedAt.Format(time.RFC3339))
	}
	if e.Status == tandem.QuarantineReplayed {
		return e, replayedAlready(e)
	}
	// resolve records the outcome unless another replay of the entry got
	// there first (two operators, or a double click): then the whole
	// transaction, replayed row included, rolls back.
	errRaced := errors.New("replayed meanwhile")
	resolve := func(status, resolution string) func(tandem.Tx) error {
		return func(tx tandem.Tx) error {
			res, err := tx.Exec(ctx, `UPDATE tandem_quarantine SET status = ?, resolved_us = ?, resolution = ? WHERE id = ? AND status <> ?`,
				status, q.Now().UnixMicro(), resolution, id, tandem.QuarantineReplayed)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return errRaced
			}
			return nil
		}
	}
	// The write and its record commit together: a crash cannot leave a
	// replayed entry that looks pending.
	replayErr := q.Store.Replay(ctx, e.Change, resolve(tandem.QuarantineReplayed, "applied as a new write"))
	if tandem.ErrorCode(replayErr) == tandem.ECONFLICT {
		if err := q.Store.Update(ctx, resolve(tandem.QuarantineConflict, tandem.ErrorMessage(replayErr))); err != nil && !errors.Is(err, errRaced) {
			return e, fmt.Errorf("record the conflict of %s: %w", id, err)
		} else if err != nil {
			replayErr = err
		}
	}
	if errors.Is(replayErr, errRaced) {
		if e, err = q.FindQuarantine(ctx, id); err != nil {
			return e, err
		}
		return e, replayedAlready(e)
	}
	if replayErr != nil && tandem.ErrorCode(replayErr) != tandem.ECONFLICT {
		return e, replayErr
	}
	if e, err = q.FindQuarantine(ctx, id); err != nil {
		return e, err
	}
	return e, replayErr
}
