// Package spool holds what the blob stores share: the check of a blob hash
// and the spooling of an upload to a temp file while hashing it.
package spool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/tandemhq/tandem"
)

// CheckHash returns EINVALID unless hash is 64 lowercase hex digits. Only
// such strings become paths or keys, so no hash can name a blob outside its
// store.
func CheckHash(hash string) error {
	if !tandem.ValidBlobHash(hash) {
		return tandem.Errorf(tandem.EINVALID, "invalid blob hash %q", hash)
	}
	return nil
}

// CheckWant returns EINVALID when want is not empty and differs from hash,
// the hash of the bytes received.
func CheckWant(hash, want string) error {
	if want != "" && hash != want {
		return tandem.Errorf(tandem.EINVALID, "blob hash is %s, want %s", hash, want)
	}
	return nil
}

// ToTemp copies r into a new temp file in dir (named by pattern, as
// os.CreateTemp does) while hashing it, and stops between reads once ctx is
// done. It returns the open file, positioned at its end, with the size and
// hex SHA-256 of its content; on error it has removed the file.
func ToTemp(ctx context.Context, dir, pattern string, r io.Reader) (_ *os.File, size int64, hash string, err error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, 0, "", fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	if size, err = io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r}); err != nil {
		return nil, 0, "", fmt.Errorf("write temp file: %w", err)
	}
	return f, size, hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader fails reads once ctx is done, so that a cancelled request stops
// an upload between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
