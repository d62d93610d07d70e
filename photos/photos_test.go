package photos_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/store/sqlite"
)

func TestComments(t *testing.T) {
	ctx := context.Background()
	st := sqlite.New(filepath.Join(t.TempDir(), "r.db"))
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	svc := photos.NewService(st)
	if err := svc.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := svc.FindComments(ctx, "p1")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no comments = %#v, %v; want an empty, non-nil list", got, err)
	}
	c := tandem.Comment{CommentID: "c1", PhotoID: "p1", User: "jerome", Message: "hello"}
	for i := 0; i < 2; i++ {
		if err := svc.CreateComment(ctx, c); err != nil {
			t.Fatalf("create #%d: %v", i, err)
		}
	}
	if err := svc.CreateComment(ctx, tandem.Comment{CommentID: "c2", PhotoID: "p1", User: "ana", Message: "second"}); err != nil {
		t.Fatal(err)
	}
	other := c
	other.Message = "changed"
	if err := svc.CreateComment(ctx, other); tandem.ErrorCode(err) != tandem.ECONFLICT {
		t.Fatalf("reusing an id: %v, want conflict", err)
	}
	got, err = svc.FindComments(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != c || got[1].CommentID != "c2" {
		t.Fatalf("comments = %+v", got)
	}
	if p, _ := st.Position(ctx); p.LSN != 2 {
		t.Fatalf("changelog head %d, want 2: a retried comment must write nothing", p.LSN)
	}
}
