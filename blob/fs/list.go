package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tandemhq/tandem"
)

// List calls fn for every stored blob, in hash order, and returns the first
// error fn returns. Files that are not blobs in their right shard (such as
// temp files) are skipped. A blob put or deleted during List may or may not
// be seen.
func (s *Store) List(ctx context.Context, fn func(tandem.BlobInfo) error) error {
	return s.walkShards(s.Dir, "", func(dir, prefix string) error {
		return s.walkShards(dir, prefix, func(dir, prefix string) error {
			return listShard(ctx, dir, prefix, fn)
		})
	})
}

// walkShards calls fn for every shard directory in dir, with the hash prefix
// that the shard stands for.
func (s *Store) walkShards(dir, prefix string, fn func(dir, prefix string) error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) && dir != s.Dir {
		return nil
	} else if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !validShard(e.Name()) {
			continue
		}
		if err := fn(filepath.Join(dir, e.Name()), prefix+e.Name()); err != nil {
			return err
		}
	}
	return nil
}

// listShard calls fn for every blob in the leaf shard dir.
func listShard(ctx context.Context, dir, prefix string, fn func(tandem.BlobInfo) error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		hash := e.Name()
		if !e.Type().IsRegular() || !tandem.ValidBlobHash(hash) || !strings.HasPrefix(hash, prefix) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("stat blob: %w", err)
		}
		if err := fn(blobInfo(hash, fi)); err != nil {
			return err
		}
	}
	return nil
}

// validShard reports whether name is a shard directory name: two lowercase
// hex digits.
func validShard(name string) bool {
	return len(name) == 2 && strings.Trim(name, "0123456789abcdef") == ""
}
