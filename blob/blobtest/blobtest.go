// Package blobtest holds the contract suite that every tandem.BlobStore
// passes. Each backend's tests call RunContract with a constructor of fresh,
// empty stores.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tandemhq/tandem"
)

// RunContract runs the blob store contract as subtests of t. newStore is
// called once per subtest and must return a store that is empty and ready for
// use; it should register its own cleanup with t.Cleanup.
func RunContract(t *testing.T, newStore func(t *testing.T) tandem.BlobStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tandem.BlobStore)
	}{
		{"PutOpen", testPutOpen},
		{"PutEmpty", testPutEmpty},
		{"PutTwice", testPutTwice},
		{"PutWantMatch", testPutWantMatch},
		{"PutWantMismatch", testPutWantMismatch},
		{"PutReaderFails", testPutReaderFails},
		{"PutCancelled", testPutCancelled},
		{"PutLarge", testPutLarge},
		{"NotFound", testNotFound},
		{"InvalidHash", testInvalidHash},
		{"Delete", testDelete},
		{"DeleteAbsent", testDeleteAbsent},
		{"List", testList},
		{"ListStops", testListStops},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func testPutOpen(t *testing.T, s tandem.BlobStore) {
	data := []byte("a photo of a cat")
	info := MustPut(t, s, data)
	if got, want := info.Hash, Hash(data); got != want {
		t.Fatalf("Put hash = %s, want %s", got, want)
	}
	if got, want := info.Size, int64(len(data)); got != want {
		t.Fatalf("Put size = %d, want %d", got, want)
	}
	if got := MustRead(t, s, info.Hash); !bytes.Equal(got, data) {
		t.Fatalf("Open read %q, want %q", got, data)
	}

	st, err := s.Stat(t.Context(), info.Hash)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Hash != info.Hash || st.Size != info.Size {
		t.Fatalf("Stat = %+v, want hash %s size %d", st, info.Hash, info.Size)
	}
}

func testPutEmpty(t *testing.T, s tandem.BlobStore) {
	info := MustPut(t, s, nil)
	if got, want := info.Hash, Hash(nil); got != want {
		t.Fatalf("Put hash = %s, want %s", got, want)
	}
	if info.Size != 0 {
		t.Fatalf("Put size = %d, want 0", info.Size)
	}
	if got := MustRead(t, s, info.Hash); len(got) != 0 {
		t.Fatalf("Open read %d bytes, want 0", len(got))
	}
}

func testPutTwice(t *testing.T, s tandem.BlobStore) {
	data := []byte("the same bytes twice")
	a := MustPut(t, s, data)
	b := MustPut(t, s, data)
	if a.Hash != b.Hash || a.Size != b.Size {
		t.Fatalf("second Put = %+v, first %+v", b, a)
	}
	if got := MustList(t, s); len(got) != 1 || got[0].Hash != a.Hash {
		t.Fatalf("List = %+v, want only %s", got, a.Hash)
	}
}

func testPutWantMatch(t *testing.T, s tandem.BlobStore) {
	data := []byte("expected bytes")
	info, err := s.Put(t.Context(), bytes.NewReader(data), Hash(data))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got, want := info.Hash, Hash(data); got != want {
		t.Fatalf("Put hash = %s, want %s", got, want)
	}
}

func testPutWantMismatch(t *testing.T, s tandem.BlobStore) {
	data := []byte("bytes that do not match")
	_, err := s.Put(t.Context(), bytes.NewReader(data), Hash([]byte("other bytes")))
	if got, want := tandem.ErrorCode(err), tandem.EINVALID; got != want {
		t.Fatalf("Put code = %q (%v), want %q", got, err, want)
	}
	MustNotFound(t, s, Hash(data))
	if got := MustList(t, s); len(got) != 0 {
		t.Fatalf("List = %+v, want none", got)
	}
}

func testPutReaderFails(t *testing.T, s tandem.BlobStore) {
	data := RandomBytes(t, 64<<10)
	errBroken := errors.New("connection broken")
	r := &FailingReader{R: bytes.NewReader(data), N: 40 << 10, Err: errBroken}
	_, err := s.Put(t.Context(), r, "")
	if !errors.Is(err, errBroken) {
		t.Fatalf("Put error = %v, want %v", err, errBroken)
	}
	MustNotFound(t, s, Hash(data[:40<<10]))
	MustNotFound(t, s, Hash(data))
	if got := MustList(t, s); len(got) != 0 {
		t.Fatalf("List = %+v, want none", got)
	}
}

func testPutCancelled(t *testing.T, s tandem.BlobStore) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := []byte("never stored")
	if _, err := s.Put(ctx, bytes.NewReader(data), ""); err == nil {
		t.Fatal("Put with cancelled context succeeded")
	}
	MustNotFound(t, s, Hash(data))
}

func testPutLarge(t *testing.T, s tandem.BlobStore) {
	data := RandomBytes(t, 5<<20+123)
	info := MustPut(t, s, data)
	if got, want := info.Size, int64(len(data)); got != want {
		t.Fatalf("Put size = %d, want %d", got, want)
	}
	if got := MustRead(t, s, info.Hash); !bytes.Equal(got, data) {
		t.Fatalf("Open read %d bytes that differ from the %d put", len(got), len(data))
	}
}

func testNotFound(t *testing.T, s tandem.BlobStore) {
	MustNotFound(t, s, Hash([]byte("never put")))
}

// InvalidHashes are strings that no store accepts as a blob hash.
var InvalidHashes = []string{
	"",
	"abc",
	"../etc/passwd",
	"../" + strings.Repeat("a", 61),
	strings.ToUpper(Hash([]byte("x"))),
	Hash([]byte("x"))[:63],
	Hash([]byte("x")) + "0",
	strings.Repeat("g", 64),
}

func testInvalidHash(t *testing.T, s tandem.BlobStore) {
	ctx := t.Context()
	for _, h := range InvalidHashes {
		if _, err := s.Stat(ctx, h); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Stat(%q) = %v, want EINVALID", h, err)
		}
		rc, _, err := s.Open(ctx, h)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", h, err)
		}
		if rc != nil {
			rc.Close()
		}
		if err := s.Delete(ctx, h); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Delete(%q) = %v, want EINVALID", h, err)
		}
		if h == "" {
			continue // an empty want means "any hash"
		}
		if _, err := s.Put(ctx, strings.NewReader("x"), h); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Put(want %q) = %v, want EINVALID", h, err)
		}
	}
	if got := MustList(t, s); len(got) != 0 {
		t.Fatalf("List = %+v, want none", got)
	}
}

func testDelete(t *testing.T, s tandem.BlobStore) {
	keep := MustPut(t, s, []byte("keep me"))
	info := MustPut(t, s, []byte("delete me"))
	if err := s.Delete(t.Context(), info.Hash); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	MustNotFound(t, s, info.Hash)
	if got := MustList(t, s); len(got) != 1 || got[0].Hash != keep.Hash {
		t.Fatalf("List = %+v, want only %s", got, keep.Hash)
	}
}

func testDeleteAbsent(t *testing.T, s tandem.BlobStore) {
	if err := s.Delete(t.Context(), Hash([]byte("never put"))); err != nil {
		t.Fatalf("Delete absent: %v", err)
	}
}

func testList(t *testing.T, s tandem.BlobStore) {
	want := map[string]int64{}
	for _, data := range []string{"one", "two", "three", "four", "five"} {
		info := MustPut(t, s, []byte(data))
		want[info.Hash] = int64(len(data))
	}
	got := MustList(t, s)
	if len(got) != len(want) {
		t.Fatalf("List gave %d blobs, want %d: %+v", len(got), len(want), got)
	}
	for _, info := range got {
		size, ok := want[info.Hash]
		if !ok {
			t.Fatalf("List gave unknown blob %s", info.Hash)
		}
		if info.Size != size {
			t.Fatalf("List size of %s = %d, want %d", info.Hash, info.Size, size)
		}
		delete(want, info.Hash)
	}
}

func testListStops(t *testing.T, s tandem.BlobStore) {
	MustPut(t, s, []byte("one"))
	MustPut(t, s, []byte("two"))
	errStop := errors.New("stop")
	calls := 0
	err := s.List(t.Context(), func(tandem.BlobInfo) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("List error = %v, want %v", err, errStop)
	}
	if calls != 1 {
		t.Fatalf("List called fn %d times after it failed, want 1", calls)
	}
}

// Hash returns the lowercase hex SHA-256 of data.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// RandomBytes returns n random bytes.
func RandomBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random bytes: %v", err)
	}
	return b
}

// MustPut stores data in s and fails the test on error.
func MustPut(tb testing.TB, s tandem.BlobStore, data []byte) tandem.BlobInfo {
	tb.Helper()
	info, err := s.Put(tb.Context(), bytes.NewReader(data), "")
	if err != nil {
		tb.Fatalf("Put: %v", err)
	}
	return info
}

// MustRead returns the bytes of the blob hash and fails the test on error.
func MustRead(tb testing.TB, s tandem.BlobStore, hash string) []byte {
	tb.Helper()
	rc, info, err := s.Open(tb.Context(), hash)
	if err != nil {
		tb.Fatalf("Open(%s): %v", hash, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %s: %v", hash, err)
	}
	if info.Hash != hash || info.Size != int64(len(data)) {
		tb.Fatalf("Open info = %+v, want hash %s size %d", info, hash, len(data))
	}
	return data
}

// MustList returns every blob s lists and fails the test on error.
func MustList(tb testing.TB, s tandem.BlobStore) []tandem.BlobInfo {
	tb.Helper()
	var infos []tandem.BlobInfo
	if err := s.List(tb.Context(), func(info tandem.BlobInfo) error {
		infos = append(infos, info)
		return nil
	}); err != nil {
		tb.Fatalf("List: %v", err)
	}
	return infos
}

// MustNotFound fails the test unless both Stat and Open report ENOTFOUND
// for hash.
func MustNotFound(tb testing.TB, s tandem.BlobStore, hash string) {
	tb.Helper()
	if _, err := s.Stat(tb.Context(), hash); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		tb.Fatalf("Stat(%s) = %v, want ENOTFOUND", hash, err)
	}
	rc, _, err := s.Open(tb.Context(), hash)
	if rc != nil {
		rc.Close()
	}
	if tandem.ErrorCode(err) != tandem.ENOTFOUND {
		tb.Fatalf("Open(%s) = %v, want ENOTFOUND", hash, err)
	}
}

// FailingReader reads N bytes from R, then fails with Err, like an upload
// whose connection breaks.
type FailingReader struct {
	R   io.Reader
	N   int64
	Err error
}

// Read reads from R until N bytes have been read, then returns Err.
func (r *FailingReader) Read(p []byte) (int, error) {
	if r.N <= 0 {
		return 0, r.Err
	}
	if int64(len(p)) > r.N {
		p = p[:r.N]
	}
	n, err := r.R.Read(p)
	r.N -= int64(n)
	return n, err
}
