package tandem

import "context"

// ToDo is an item of the reference ToDo API, in its JSON shape.
type ToDo struct {
	ID     int64  `json:"id"`
	Task   string `json:"task"`
	Status string `json:"status"`
}

// Limits on a ToDo's fields (the reference stored 50 characters of each).
const (
	MaxToDoTask   = 500
	MaxToDoStatus = 50
)

// Validate checks a ToDo's task and status. Returns EINVALID naming the
// first field that is wrong.
func (t ToDo) Validate() error {
	if err := CheckText("task", t.Task, MaxToDoTask); err != nil {
		return err
	}
	return CheckText("status", t.Status, MaxToDoStatus)
}

// ToDoService stores ToDo items.
type ToDoService interface {
	// FindToDoByID returns an item. Returns ENOTFOUND if there is none.
	FindToDoByID(ctx context.Context, id int64) (ToDo, error)

	// FindToDos returns every item, by id.
	FindToDos(ctx context.Context) ([]ToDo, error)

	// CreateToDo validates t and stores it with the next free id, which it
	// sets in t.
	CreateToDo(ctx context.Context, t *ToDo) error

	// UpdateToDo validates t and replaces the task and status of item t.ID.
	// Returns ENOTFOUND if there is none.
	UpdateToDo(ctx context.Context, t ToDo) error

	// DeleteToDo deletes an item. Returns ENOTFOUND if there is none.
	DeleteToDo(ctx context.Context, id int64) error
}
