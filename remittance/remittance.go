// Package remittance is the data of the reference remittance (money
// transfer) application, kept in the region store so that it replicates like
// any table.
//
// Concurrent updates are resolved optimistically: every row carries a
// version, an update names the version it read and applies only while the
// row is still at it (UPDATE … WHERE id = ? AND version = ?), and the loser
// of two concurrent updates gets ECONFLICT with nothing written, so no update
// is silently overwritten. No lock is held between a client's read and its
// write.
package remittance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem"
)

// AppName is the name the migrations are recorded under.
const AppName = "remittance"

// Migrations create the application's tables, in SQL that SQLite and
// PostgreSQL both accept (BIGINT where values pass 2^31). Ids are UUIDs
// rather than a counter, so a remittance an old writer quarantined after an
// async failover can be replayed without colliding with one the new writer
// created.
var Migrations = []tandem.Migration{
	{Name: "001_remittances", SQL: `
CREATE TABLE remittances (
	id               TEXT PRIMARY KEY,
	sender_name      TEXT NOT NULL,
	sender_bank      TEXT NOT NULL,
	sender_account   TEXT NOT NULL,
	receiver_name    TEXT NOT NULL,
	receiver_bank    TEXT NOT NULL,
	receiver_account TEXT NOT NULL,
	amount           BIGINT NOT NULL CHECK (amount > 0),
	created_by       TEXT NOT NULL,
	created_us       BIGINT NOT NULL,
	updated_us       BIGINT NOT NULL,
	version          BIGINT NOT NULL
);
CREATE INDEX remittances_by_created ON remittances (created_us, id);
`},
}

const columns = `id, sender_name, sender_bank, sender_account, receiver_name, receiver_bank, receiver_account, amount, created_by, created_us, version`

// Service implements tandem.RemittanceService over a region store.
type Service struct {
	Store tandem.Store
	Now   func() time.Time
}

var _ tandem.RemittanceService = (*Service)(nil)

// NewService returns the service over store.
func NewService(store tandem.Store) *Service {
	return &Service{Store: store, Now: time.Now}
}

// Migrate creates or updates the application's tables.
func (s *Service) Migrate(ctx context.Context) error {
	return s.Store.Migrate(ctx, AppName, Migrations)
}

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (tandem.Remittance, error) {
	var r tandem.Remittance
	var created int64
	err := row.Scan(&r.ID, &r.SenderName, &r.SenderBank, &r.SenderAccount, &r.ReceiverName, &r.ReceiverBank, &r.ReceiverAccount,
		&r.Amount, &r.CreatedBy, &created, &r.Version)
	r.CreationTimestamp = time.UnixMicro(created).UTC()
	return r, err
}

// FindRemittances returns every remittance, oldest first.
func (s *Service) FindRemittances(ctx context.Context) ([]tandem.Remittance, error) {
	out := []tandem.Remittance{}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+columns+` FROM remittances ORDER BY created_us, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("find remittances: %w", err)
	}
	return out, nil
}

// FindRemittanceByID returns a remittance, or ENOTFOUND.
func (s *Service) FindRemittanceByID(ctx context.Context, id string) (tandem.Remittance, error) {
	var r tandem.Remittance
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		var err error
		r, err = findByID(ctx, tx, id)
		return err
	})
	return r, err
}

func findByID(ctx context.Context, tx tandem.Tx, id string) (tandem.Remittance, error) {
	r, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM remittances WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, tandem.Errorf(tandem.ENOTFOUND, "remittance %q not found", id)
	case err != nil:
		return r, fmt.Errorf("find remittance: %w", err)
	}
	return r, nil
}

// CreateRemittance validates r and stores it with a new id, its creation
// time and version 1.
func (s *Service) CreateRemittance(ctx context.Context, r *tandem.Remittance) error {
	if err := r.Validate(); err != nil {
		return err
	}
	now := s.Now().UnixMicro()
	c := *r
	c.ID, c.Version, c.CreationTimestamp = uuid.NewString(), 1, time.UnixMicro(now).UTC()
	err := s.Store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO remittances (`+columns+`, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.SenderName, c.SenderBank, c.SenderAccount, c.ReceiverName, c.ReceiverBank, c.ReceiverAccount,
			c.Amount, c.CreatedBy, now, c.Version, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("create remittance: %w", err)
	}
	*r = c
	return nil
}

// UpdateRemittance replaces the client fields of remittance r.ID if it is
// still at r.Version, and sets r to the stored remittance.
func (s *Service) UpdateRemittance(ctx context.Context, r *tandem.Remittance) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Version <= 0 {
		return tandem.Errorf(tandem.EINVALID, "missing field: version (the version the update is based on, from get-remittances)")
	}
	var stored tandem.Remittance
	err := s.Store.Update(ctx, func(tx tandem.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE remittances SET sender_name = ?, sender_bank = ?, sender_account = ?,
	receiver_name = ?, receiver_bank = ?, receiver_account = ?, amount = ?, updated_us = ?, version = version + 1
WHERE id = ? AND version = ?`,
			r.SenderName, r.SenderBank, r.SenderAccount, r.ReceiverName, r.ReceiverBank, r.ReceiverAccount, r.Amount,
			s.Now().UnixMicro(), r.ID, r.Version)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		stored, err = findByID(ctx, tx, r.ID)
		if err == nil && n == 0 {
			err = staleVersion(stored, r.Version)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update remittance: %w", err)
	}
	*r = stored
	return nil
}

func staleVersion(now tandem.Remittance, version int64) error {
	return tandem.Errorf(tandem.ECONFLICT, "remittance %q is at version %d, not %d: it was changed since it was read; read it again and retry", now.ID, now.Version, version)
}

// DeleteRemittance deletes a remittance, at version when version > 0.
func (s *Service) DeleteRemittance(ctx context.Context, id string, version int64) error {
	err := s.Store.Update(ctx, func(tx tandem.Tx) error {
		have, err := findByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if version > 0 && have.Version != version {
			return staleVersion(have, version)
		}
		_, err = tx.Exec(ctx, `DELETE FROM remittances WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete remittance: %w", err)
	}
	return nil
}

// ClearRemittances deletes every remittance in one transaction.
func (s *Service) ClearRemittances(ctx context.Context) (int, error) {
	var n int64
	err := s.Store.Update(ctx, func(tx tandem.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM remittances`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("clear remittances: %w", err)
	}
	return int(n), nil
}
