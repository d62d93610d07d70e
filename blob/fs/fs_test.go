package fs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/blobtest"
	blobfs "github.com/tandemhq/tandem/blob/fs"
)

func TestContract(t *testing.T) {
	blobtest.RunContract(t, func(t *testing.T) tandem.BlobStore {
		return MustOpenStore(t)
	})
}

func TestStore_Layout(t *testing.T) {
	s := MustOpenStore(t)
	info := blobtest.MustPut(t, s, []byte("sharded"))
	h := info.Hash
	if _, err := os.Stat(filepath.Join(s.Dir, h[0:2], h[2:4], h)); err != nil {
		t.Fatalf("blob not at its shard path: %v", err)
	}
	if got := Files(t, s.Dir); len(got) != 1 {
		t.Fatalf("files = %v, want only the blob", got)
	}
}

func TestStore_Open_Seeker(t *testing.T) {
	s := MustOpenStore(t)
	info := blobtest.MustPut(t, s, []byte("0123456789"))
	rc, _, err := s.Open(t.Context(), info.Hash)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rs, ok := rc.(io.ReadSeeker)
	if !ok {
		t.Fatalf("Open returned %T, want an io.ReadSeeker", rc)
	}
	if _, err := rs.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(rs); err != nil {
		t.Fatal(err)
	} else if string(got) != "6789" {
		t.Fatalf("read after seek = %q, want %q", got, "6789")
	}
}

func TestStore_Put_FailureLeavesNoFiles(t *testing.T) {
	s := MustOpenStore(t)
	data := blobtest.RandomBytes(t, 1<<20)
	r := &blobtest.FailingReader{R: bytes.NewReader(data), N: 512 << 10, Err: errors.New("broken")}
	if _, err := s.Put(t.Context(), r, ""); err == nil {
		t.Fatal("Put from failing reader succeeded")
	}
	if _, err := s.Put(t.Context(), bytes.NewReader(data), blobtest.Hash(nil)); tandem.ErrorCode(err) != tandem.EINVALID {
		t.Fatalf("Put with wrong hash = %v, want EINVALID", err)
	}
	if got := Files(t, s.Dir); len(got) != 0 {
		t.Fatalf("files left after failed puts: %v", got)
	}
}

func TestStore_CleanTemp(t *testing.T) {
	s := MustOpenStore(t)
	tmp := filepath.Join(s.Dir, blobfs.TempDirName)
	old, fresh := filepath.Join(tmp, "put-old"), filepath.Join(tmp, "put-fresh")
	for _, path := range []string{old, fresh} {
		if err := os.WriteFile(path, []byte("partial upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	blob := blobtest.MustPut(t, s, []byte("stored"))

	n, err := s.CleanTemp(time.Hour)
	if err != nil {
		t.Fatalf("CleanTemp: %v", err)
	}
	if n != 1 {
		t.Fatalf("CleanTemp removed %d, want 1", n)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old temp file: %v, want it gone", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh temp file: %v, want it kept", err)
	}
	if _, err := s.Stat(t.Context(), blob.Hash); err != nil {
		t.Fatalf("Stat stored blob: %v", err)
	}
}

func TestStore_List_SkipsStrayFiles(t *testing.T) {
	s := MustOpenStore(t)
	info := blobtest.MustPut(t, s, []byte("real"))
	h := info.Hash
	stray := []string{
		filepath.Join(s.Dir, "README"),
		filepath.Join(s.Dir, h[0:2], "notes.txt"),
		filepath.Join(s.Dir, h[0:2], h[2:4], h+".bak"),
		// A valid hash in the wrong shard is not that blob.
		filepath.Join(s.Dir, h[0:2], h[2:4], blobtest.Hash([]byte("elsewhere"))),
		filepath.Join(s.Dir, blobfs.TempDirName, h),
	}
	for _, path := range stray {
		if err := os.WriteFile(path, []byte("stray"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := blobtest.MustList(t, s); len(got) != 1 || got[0].Hash != h {
		t.Fatalf("List = %+v, want only %s", got, h)
	}
}

func TestStore_Init_NoDir(t *testing.T) {
	if err := blobfs.New("").Init(); err == nil {
		t.Fatal("Init with no directory succeeded")
	}
}

// MustOpenStore returns an initialised Store in a temp directory.
func MustOpenStore(tb testing.TB) *blobfs.Store {
	tb.Helper()
	s := blobfs.New(tb.TempDir())
	if err := s.Init(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Files returns the paths of all regular files under dir.
func Files(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}
