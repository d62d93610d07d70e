package photos_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/blobtest"
	"github.com/tandemhq/tandem/photos"
)

func TestCreateFindOpenPhoto(t *testing.T) {
	svc := MustOpenService(t)
	ctx := t.Context()
	data := JPEGImage(t, 800, 600)
	p, err := svc.CreatePhoto(ctx, tandem.PhotoUpload{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Photo{
		ID: p.ID, Owner: photos.AnonymousOwner, ContentType: "image/jpeg", Size: int64(len(data)),
		Width: 800, Height: 600, SHA256: blobtest.Hash(data), Created: p.Created, Replication: tandem.PhotoComplete,
		ThumbSHA256: p.ThumbSHA256, ThumbSize: p.ThumbSize,
	}
	if p != want {
		t.Fatalf("created %+v, want %+v", p, want)
	}
	got, err := svc.FindPhotoByID(ctx, p.ID)
	if err != nil || got != p {
		t.Fatalf("FindPhotoByID = %+v, %v; want %+v", got, err, p)
	}
	if b := readContent(t, svc, p.ID, tandem.PhotoOriginal); !bytes.Equal(b, data) {
		t.Fatal("image bytes differ from the upload")
	}
	thumb, err := jpeg.DecodeConfig(bytes.NewReader(readContent(t, svc, p.ID, tandem.PhotoThumbnail)))
	if err != nil || thumb.Width != 320 || thumb.Height != 240 {
		t.Fatalf("thumbnail %+v, %v; want a 320×240 JPEG", thumb, err)
	}

	// The same bytes again: another photo, one blob.
	q, err := svc.CreatePhoto(ctx, tandem.PhotoUpload{Owner: "jerome", Data: data})
	if err != nil || q.ID == p.ID || q.SHA256 != p.SHA256 || q.Owner != "jerome" {
		t.Fatalf("second upload = %+v, %v", q, err)
	}
	if n := len(blobtest.MustList(t, svc.Blobs)); n != 2 {
		t.Fatalf("blob store holds %d blobs, want 2 (one image, one thumbnail)", n)
	}
	for _, id := range []string{"not-a-uuid", "00000000-0000-4000-8000-000000000000"} {
		if _, err := svc.FindPhotoByID(ctx, id); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Fatalf("FindPhotoByID(%q) = %v, want ENOTFOUND", id, err)
		}
	}
}

func readContent(t *testing.T, svc *photos.Service, id string, v tandem.PhotoVariant) []byte {
	t.Helper()
	c, err := svc.OpenPhoto(t.Context(), id, v)
	if err != nil {
		t.Fatalf("OpenPhoto(%s, %s): %v", id, v, err)
	}
	defer c.Body.Close()
	b, err := io.ReadAll(c.Body)
	if err != nil {
		t.Fatal(err)
	}
	if blobtest.Hash(b) != c.SHA256 || int64(len(b)) != c.Size {
		t.Fatalf("OpenPhoto(%s, %s) read %d bytes that do not match %+v", id, v, len(b), c)
	}
	return b
}

func TestFindPhotosPages(t *testing.T) {
	svc := MustOpenService(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock time.Time
	svc.Now = func() time.Time { return clock }
	var ids []string
	for i := range 7 {
		clock = base.Add(time.Duration(i/2) * time.Second) // pairs share a time
		p, err := svc.CreatePhoto(t.Context(), tandem.PhotoUpload{Data: NoisePNG(t, 4, 4, uint64(i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	var seen []tandem.Photo
	after := ""
	for pages := 0; ; pages++ {
		page, err := svc.FindPhotos(t.Context(), tandem.PhotoFilter{Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, page.Photos...)
		if page.Next == "" {
			if pages != 2 || len(page.Photos) != 1 {
				t.Fatalf("last page is page %d with %d photos, want page 2 with 1", pages, len(page.Photos))
			}
			break
		}
		after = page.Next
	}
	if len(seen) != len(ids) {
		t.Fatalf("pages hold %d photos, want %d", len(seen), len(ids))
	}
	for i := 1; i < len(seen); i++ {
		a, b := seen[i-1], seen[i]
		if a.Created.Before(b.Created) || (a.Created.Equal(b.Created) && a.ID < b.ID) {
			t.Fatalf("photo %d (%s %s) listed before %d (%s %s): not newest first", i-1, a.Created, a.ID, i, b.Created, b.ID)
		}
	}
	for _, bad := range []string{"x", "12.not-a-uuid", "abc." + ids[0]} {
		if _, err := svc.FindPhotos(t.Context(), tandem.PhotoFilter{After: bad}); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Fatalf("cursor %q: %v, want EINVALID", bad, err)
		}
	}
	page, err := svc.FindPhotos(t.Context(), tandem.PhotoFilter{Limit: 1000})
	if err != nil || len(page.Photos) != 7 || page.Next != "" {
		t.Fatalf("one big page: %d photos, next %q, %v", len(page.Photos), page.Next, err)
	}
}

func TestDeletePhotoAndSweep(t *testing.T) {
	svc := MustOpenService(t)
	ctx := t.Context()
	keep, err := svc.CreatePhoto(ctx, tandem.PhotoUpload{Data: NoisePNG(t, 8, 8, 1)})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := svc.CreatePhoto(ctx, tandem.PhotoUpload{Data: NoisePNG(t, 8, 8, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeletePhoto(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeletePhoto(ctx, gone.ID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatalf("deleting twice: %v, want ENOTFOUND", err)
	}
	if _, err := svc.FindPhotoByID(ctx, gone.ID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatalf("deleted photo: %v, want ENOTFOUND", err)
	}

	// Young orphans are kept: an upload may be about to reference them.
	if n, err := svc.SweepOrphans(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep of young orphans removed %d, %v", n, err)
	}
	svc.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n, err := svc.SweepOrphans(ctx, time.Hour); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want the deleted photo's 2 blobs", n, err)
	}
	blobtest.MustNotFound(t, svc.Blobs, gone.SHA256)
	blobtest.MustNotFound(t, svc.Blobs, gone.ThumbSHA256)
	readContent(t, svc, keep.ID, tandem.PhotoOriginal)
	readContent(t, svc, keep.ID, tandem.PhotoThumbnail)
}

func TestRefusedUploadsLeaveNothing(t *testing.T) {
	svc := MustOpenService(t)
	svc.MaxPhotoBytes = 64 << 10
	broken := NoisePNG(t, 64, 64, 1)
	broken = broken[:len(broken)-200] // pixels cut short
	for _, tt := range []struct {
		name string
		data []byte
		code string
	}{
		{"empty", nil, tandem.EINVALID},
		{"text", []byte("not a photo"), tandem.EUNSUPPORTED},
		{"too large", NoisePNG(t, 200, 200, 2), tandem.ETOOLARGE},
		{"bomb", BombPNG(t, 10_000, 10_000), tandem.ETOOLARGE},
		{"damaged pixels", broken, tandem.EINVALID},
	} {
		_, err := svc.CreatePhoto(t.Context(), tandem.PhotoUpload{Data: tt.data})
		if got := tandem.ErrorCode(err); got != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	mustBeEmpty(t, svc)
	if n := len(blobtest.MustList(t, svc.Blobs)); n != 0 {
		t.Fatalf("refused uploads stored %d blobs", n)
	}
}

// TestFailedCommitLeavesNoRow refuses an upload at commit, as a region that
// lost its lease does: no photo, and its blobs go with the next sweep.
func TestFailedCommitLeavesNoRow(t *testing.T) {
	svc := MustOpenService(t)
	svc.Store.(interface{ SetGuard(tandem.WriteGuard) }).SetGuard(func(context.Context) (func(), error) {
		return nil, tandem.Errorf(tandem.EFENCED, "fenced")
	})
	if _, err := svc.CreatePhoto(t.Context(), tandem.PhotoUpload{Data: NoisePNG(t, 8, 8, 1)}); tandem.ErrorCode(err) != tandem.EFENCED {
		t.Fatalf("upload at a fenced commit: %v", err)
	}
	mustBeEmpty(t, svc)
	svc.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n, err := svc.SweepOrphans(t.Context(), time.Hour); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want the failed upload's 2 blobs", n, err)
	}
}

// TestPendingUntilBlobArrives follows a writer by hand: the photo's row
// arrives before its bytes, and the photo is listed as pending and not
// served until they do.
func TestPendingUntilBlobArrives(t *testing.T) {
	ctx := t.Context()
	w := MustOpenService(t)
	p, err := w.CreatePhoto(ctx, tandem.PhotoUpload{Data: NoisePNG(t, 16, 16, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st := MustOpenStore(t, dir, false)
	defer st.Close()
	f := photos.NewService(st)
	f.Blobs = MustOpenBlobs(t, dir)
	changes, err := w.Store.ReadChanges(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyChanges(ctx, changes); err != nil {
		t.Fatal(err)
	}
	if got, err := f.FindPhotoByID(ctx, p.ID); err != nil || got.Replication != tandem.PhotoPending {
		t.Fatalf("before the bytes: %+v, %v; want pending", got, err)
	}
	if _, err := f.OpenPhoto(ctx, p.ID, tandem.PhotoOriginal); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Fatalf("open before the bytes: %v, want EUNAVAILABLE", err)
	}
	copyBlob(t, w.Blobs, f.Blobs, p.SHA256)
	if _, err := f.OpenPhoto(ctx, p.ID, tandem.PhotoThumbnail); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Fatalf("thumbnail before its bytes: %v, want EUNAVAILABLE", err)
	}
	readContent(t, f, p.ID, tandem.PhotoOriginal)
	if got, _ := f.FindPhotoByID(ctx, p.ID); got.Replication != tandem.PhotoPending {
		t.Fatalf("with the thumbnail missing: %s, want pending", got.Replication)
	}
	copyBlob(t, w.Blobs, f.Blobs, p.ThumbSHA256)
	if got, _ := f.FindPhotoByID(ctx, p.ID); got.Replication != tandem.PhotoComplete {
		t.Fatalf("with both blobs: %s, want complete", got.Replication)
	}
}

func copyBlob(t *testing.T, from, to tandem.BlobStore, hash string) {
	t.Helper()
	if _, err := to.Put(t.Context(), bytes.NewReader(blobtest.MustRead(t, from, hash)), hash); err != nil {
		t.Fatal(err)
	}
}

// mustBeEmpty fails the test unless the service has no photo and wrote no
// changelog entry.
func mustBeEmpty(t *testing.T, svc *photos.Service) {
	t.Helper()
	page, err := svc.FindPhotos(t.Context(), tandem.PhotoFilter{})
	if err != nil || len(page.Photos) != 0 {
		t.Fatalf("photos = %+v, %v; want none", page.Photos, err)
	}
	if pos, err := svc.Store.Position(t.Context()); err != nil || pos.LSN != 0 {
		t.Fatalf("changelog head %d, %v; want 0", pos.LSN, err)
	}
}
