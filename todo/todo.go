// Package todo is the data of the reference ToDo API, kept in the region
// store so that it replicates like any table. Every statement is
// parameterised: no value a client sends is ever part of SQL text.
package todo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tandemhq/tandem"
)

// AppName is the name the migrations are recorded under.
const AppName = "todo"

// Migrations create the application's tables.
var Migrations = []tandem.Migration{
	{Name: "001_todos", SQL: `
CREATE TABLE todos (
	id         INTEGER PRIMARY KEY,
	task       TEXT NOT NULL,
	status     TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
);
`},
	// The last id handed out, so that an id is never used twice, even once
	// its item is deleted (as the reference's AUTO_INCREMENT did).
	{Name: "002_todo_ids", SQL: `
CREATE TABLE todo_ids (
	name TEXT PRIMARY KEY,
	last BIGINT NOT NULL
);
`},
}

// Service implements tandem.ToDoService over a region store.
type Service struct {
	Store tandem.Store
	Now   func() time.Time
}

var _ tandem.ToDoService = (*Service)(nil)

// NewService returns the service over store.
func NewService(store tandem.Store) *Service {
	return &Service{Store: store, Now: time.Now}
}

// Migrate creates or updates the application's tables.
func (s *Service) Migrate(ctx context.Context) error {
	return s.Store.Migrate(ctx, AppName, Migrations)
}

// FindToDoByID returns an item, or ENOTFOUND.
func (s *Service) FindToDoByID(ctx context.Context, id int64) (tandem.ToDo, error) {
	t := tandem.ToDo{ID: id}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		return tx.QueryRow(ctx, `SELECT task, status FROM todos WHERE id = ?`, id).Scan(&t.Task, &t.Status)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return t, notFound(id)
	case err != nil:
		return t, fmt.Errorf("find todo: %w", err)
	}
	return t, nil
}

// FindToDos returns every item, by id.
func (s *Service) FindToDos(ctx context.Context) ([]tandem.ToDo, error) {
	todos := []tandem.ToDo{}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, task, status FROM todos ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t tandem.ToDo
			if err := rows.Scan(&t.ID, &t.Task, &t.Status); err != nil {
				return err
			}
			todos = append(todos, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("find todos: %w", err)
	}
	return todos, nil
}

func notFound(id int64) error { return tandem.Errorf(tandem.ENOTFOUND, "todo %d not found", id) }

// CreateToDo stores t with the next id: one past the last handed out (or
// the highest in use). The id is chosen inside the write transaction, which
// the writer runs one at a time, and replicates as a value like any column.
func (s *Service) CreateToDo(ctx context.Context, t *tandem.ToDo) error {
	if err := t.Validate(); err != nil {
		return err
	}
	now := s.Now().UnixMicro()
	var id int64
	err := s.Store.Update(ctx, func(tx tandem.Tx) error {
		var last sql.NullInt64
		err := tx.QueryRow(ctx, `SELECT last FROM todo_ids WHERE name = 'todos'`).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM todos`).Scan(&id); err != nil {
			return err
		}
		id = max(id, last.Int64) + 1
		if _, err := tx.Exec(ctx, `INSERT INTO todo_ids (name, last) VALUES ('todos', ?) ON CONFLICT (name) DO UPDATE SET last = excluded.last`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO todos (id, task, status, created_us, updated_us) VALUES (?, ?, ?, ?, ?)`, id, t.Task, t.Status, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("create todo: %w", err)
	}
	t.ID = id
	return nil
}

// UpdateToDo replaces the task and status of item t.ID.
func (s *Service) UpdateToDo(ctx context.Context, t tandem.ToDo) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "update", t.ID, `UPDATE todos SET task = ?, status = ?, updated_us = ? WHERE id = ?`, t.Task, t.Status, s.Now().UnixMicro(), t.ID)
}

// DeleteToDo deletes an item.
func (s *Service) DeleteToDo(ctx context.Context, id int64) error {
	return s.change(ctx, "delete", id, `DELETE FROM todos WHERE id = ?`, id)
}

// change runs a statement that changes item id, and returns ENOTFOUND if it
// changed nothing.
func (s *Service) change(ctx context.Context, op string, id int64, query string, args ...any) error {
	err := s.Store.Update(ctx, func(tx tandem.Tx) error {
		res, err := tx.Exec(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = notFound(id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s todo: %w", op, err)
	}
	return nil
}
