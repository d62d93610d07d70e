package fs

import (
	"context"
	"io"
	"strings"

	"github.com/tandemhq/tandem"
)

// checkHash returns EINVALID unless hash is 64 lowercase hex digits. Only
// such strings become paths, so no hash can escape Dir.
func checkHash(hash string) error {
	if !tandem.ValidBlobHash(hash) {
		return tandem.Errorf(tandem.EINVALID, "invalid blob hash %q", hash)
	}
	return nil
}

// validShard reports whether name is a shard directory name: two lowercase
// hex digits.
func validShard(name string) bool {
	return len(name) == 2 && strings.Trim(name, "0123456789abcdef") == ""
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
