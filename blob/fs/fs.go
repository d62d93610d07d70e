// Package fs implements tandem.BlobStore on a local directory.
//
// A blob lives at Dir/ab/cd/<hash>, sharded by the first two bytes of its
// hash. Put writes to a temp file in Dir/tmp while hashing, fsyncs it and
// renames it into place, so a blob is either absent or whole; a crash
// mid-upload leaves only a temp file, which CleanTemp removes.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/internal/spool"
)

// TempDirName is the directory under Dir that holds uploads in progress.
const TempDirName = "tmp"

// Store is a blob store in a local directory.
type Store struct {
	// Dir is the root directory of the store.
	Dir string
}

var _ tandem.BlobStore = (*Store)(nil)

// New returns a Store rooted at dir. Call Init before use.
func New(dir string) *Store {
	return &Store{Dir: dir}
}

// Init creates the store's directories if they do not exist.
//
// It is not named Open because tandem.BlobStore already has an Open method.
func (s *Store) Init() error {
	if s.Dir == "" {
		return fmt.Errorf("init blob store: no directory")
	}
	if err := os.MkdirAll(s.tempDir(), 0o755); err != nil {
		return fmt.Errorf("init blob store: %w", err)
	}
	return nil
}

// Put stores the bytes read from r and returns their hash and size. When
// want is not empty, Put returns EINVALID and stores nothing unless the bytes
// hash to want. Storing bytes already present keeps the existing file.
func (s *Store) Put(ctx context.Context, r io.Reader, want string) (tandem.BlobInfo, error) {
	if want != "" {
		if err := spool.CheckHash(want); err != nil {
			return tandem.BlobInfo{}, err
		}
	}

	tmp, hash, err := s.writeTemp(ctx, r)
	if err != nil {
		return tandem.BlobInfo{}, err
	}
	// After the rename another upload may reuse the temp name, so only an
	// unrenamed temp file is removed.
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()

	if err := spool.CheckWant(hash, want); err != nil {
		return tandem.BlobInfo{}, err
	}

	path := s.path(hash)
	if fi, err := os.Stat(path); err == nil {
		return blobInfo(hash, fi), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return tandem.BlobInfo{}, fmt.Errorf("stat blob: %w", err)
	}

	if err := s.mkdirShard(hash); err != nil {
		return tandem.BlobInfo{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return tandem.BlobInfo{}, fmt.Errorf("rename blob: %w", err)
	}
	renamed = true
	if err := syncDir(filepath.Dir(path)); err != nil {
		return tandem.BlobInfo{}, err
	}

	fi, err := os.Stat(path)
	if err != nil {
		return tandem.BlobInfo{}, fmt.Errorf("stat blob: %w", err)
	}
	return blobInfo(hash, fi), nil
}

// writeTemp copies r into a new temp file while hashing it and fsyncs the
// file. It returns the temp file's path and the hex hash; on error it has
// removed the temp file.
func (s *Store) writeTemp(ctx context.Context, r io.Reader) (path, hash string, err error) {
	f, _, hash, err := spool.ToTemp(ctx, s.tempDir(), "put-*", r)
	if err != nil {
		return "", "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Sync(); err != nil {
		return "", "", fmt.Errorf("sync temp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("close temp file: %w", err)
	}
	return f.Name(), hash, nil
}

// mkdirShard creates the two shard directories of hash, fsyncing the parent
// of each one it creates so that the new entry survives a crash.
func (s *Store) mkdirShard(hash string) error {
	parent := s.Dir
	for _, name := range []string{hash[0:2], hash[2:4]} {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err == nil {
			if err := syncDir(parent); err != nil {
				return err
			}
		} else if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create shard directory: %w", err)
		}
		parent = dir
	}
	return nil
}

// Open returns a reader of the blob. Returns ENOTFOUND if it is absent and
// EINVALID if hash is not a lowercase hex SHA-256.
//
// The reader is an *os.File and so also an io.ReadSeeker: callers may serve
// Range requests from it with http.ServeContent.
func (s *Store) Open(ctx context.Context, hash string) (io.ReadCloser, tandem.BlobInfo, error) {
	if err := spool.CheckHash(hash); err != nil {
		return nil, tandem.BlobInfo{}, err
	}
	f, err := os.Open(s.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return nil, tandem.BlobInfo{}, notFound(hash)
	} else if err != nil {
		return nil, tandem.BlobInfo{}, fmt.Errorf("open blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, tandem.BlobInfo{}, fmt.Errorf("stat blob: %w", err)
	}
	return f, blobInfo(hash, fi), nil
}

// Stat returns a blob's size. Returns ENOTFOUND if it is absent and EINVALID
// if hash is not a lowercase hex SHA-256.
func (s *Store) Stat(ctx context.Context, hash string) (tandem.BlobInfo, error) {
	if err := spool.CheckHash(hash); err != nil {
		return tandem.BlobInfo{}, err
	}
	fi, err := os.Stat(s.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return tandem.BlobInfo{}, notFound(hash)
	} else if err != nil {
		return tandem.BlobInfo{}, fmt.Errorf("stat blob: %w", err)
	}
	return blobInfo(hash, fi), nil
}

// Delete removes a blob. Deleting an absent blob is not an error. Returns
// EINVALID if hash is not a lowercase hex SHA-256. Shard directories are
// left in place.
func (s *Store) Delete(ctx context.Context, hash string) error {
	if err := spool.CheckHash(hash); err != nil {
		return err
	}
	if err := os.Remove(s.path(hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}

// CleanTemp removes temp files last written more than olderThan ago, left
// behind by uploads that never finished, and returns how many it removed.
// olderThan should exceed the longest pause a live upload may take between
// writes, or that upload fails when it renames its temp file.
func (s *Store) CleanTemp(olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.tempDir())
	if err != nil {
		return 0, fmt.Errorf("read temp directory: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	for _, e := range entries {
		fi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return n, fmt.Errorf("stat temp file: %w", err)
		}
		if !fi.Mode().IsRegular() || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(s.tempDir(), e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("remove temp file: %w", err)
		}
		n++
	}
	return n, nil
}

func (s *Store) tempDir() string { return filepath.Join(s.Dir, TempDirName) }

// path returns where the blob with the given (valid) hash lives.
func (s *Store) path(hash string) string {
	return filepath.Join(s.Dir, hash[0:2], hash[2:4], hash)
}

func blobInfo(hash string, fi os.FileInfo) tandem.BlobInfo {
	return tandem.BlobInfo{Hash: hash, Size: fi.Size(), Modified: fi.ModTime().UTC()}
}

func notFound(hash string) error {
	return tandem.Errorf(tandem.ENOTFOUND, "blob %s not found", hash)
}

// syncDir fsyncs a directory so that entries created or renamed in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
