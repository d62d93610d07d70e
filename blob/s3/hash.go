package s3

import (
	"context"
	"io"

	"github.com/tandemhq/tandem"
)

// checkHash returns EINVALID unless hash is 64 lowercase hex digits. Only
// such strings become keys, so no hash can name a key outside Prefix.
func checkHash(hash string) error {
	if !tandem.ValidBlobHash(hash) {
		return tandem.Errorf(tandem.EINVALID, "invalid blob hash %q", hash)
	}
	return nil
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
