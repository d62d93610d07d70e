package todo_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/store/sqlite"
	"github.com/tandemhq/tandem/todo"
)

func MustOpenService(tb testing.TB) *todo.Service {
	tb.Helper()
	st := sqlite.New(filepath.Join(tb.TempDir(), "region.db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.SetRole(context.Background(), tandem.Role{Writer: true, Epoch: 1}); err != nil {
		tb.Fatal(err)
	}
	svc := todo.NewService(st)
	if err := svc.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return svc
}

func TestToDoService(t *testing.T) {
	ctx := context.Background()
	svc := MustOpenService(t)
	a, b := tandem.ToDo{Task: "a", Status: "wip"}, tandem.ToDo{Task: "b", Status: "wip"}
	for _, item := range []*tandem.ToDo{&a, &b} {
		if err := svc.CreateToDo(ctx, item); err != nil {
			t.Fatal(err)
		}
	}
	if a.ID != 1 || b.ID != 2 {
		t.Fatalf("ids %d and %d, want 1 and 2", a.ID, b.ID)
	}
	b.Status = "done"
	if err := svc.UpdateToDo(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.FindToDoByID(ctx, 2); err != nil || got != b {
		t.Fatalf("find 2 = %+v, %v; want %+v", got, err, b)
	}
	if err := svc.DeleteToDo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"find":   func() error { _, err := svc.FindToDoByID(ctx, 2); return err }(),
		"update": svc.UpdateToDo(ctx, b),
		"delete": svc.DeleteToDo(ctx, 2),
	} {
		if tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("%s of a deleted item: %v", name, err)
		}
	}
	// An id is never handed out twice, even once its item is gone.
	c := tandem.ToDo{Task: "c", Status: "wip"}
	if err := svc.CreateToDo(ctx, &c); err != nil || c.ID != 3 {
		t.Fatalf("next id %d, %v", c.ID, err)
	}
	if err := svc.CreateToDo(ctx, &tandem.ToDo{Task: " ", Status: "wip"}); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("blank task: %v", err)
	}
	if got, err := svc.FindToDos(ctx); err != nil || !slices.Equal(got, []tandem.ToDo{a, c}) {
		t.Fatalf("find all = %+v, %v; want %+v", got, err, []tandem.ToDo{a, c})
	}
}
