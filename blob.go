package tandem

import (
	"context"
	"io"
	"time"
)

// BlobStore holds blobs (photo bytes) addressed by the lowercase hex SHA-256
// of their content. Identical bytes are stored once.
type BlobStore interface {
	// Put stores the bytes read from r and returns their hash and size. When
	// want is not empty, Put returns EINVALID and stores nothing unless the
	// bytes hash to want. A blob is visible to Open only once whole.
	Put(ctx context.Context, r io.Reader, want string) (BlobInfo, error)

	// Open returns a reader of the blob. Returns ENOTFOUND if it is absent.
	Open(ctx context.Context, hash string) (io.ReadCloser, BlobInfo, error)

	// Stat returns a blob's size. Returns ENOTFOUND if it is absent.
	Stat(ctx context.Context, hash string) (BlobInfo, error)

	// Delete removes a blob. Deleting an absent blob is not an error.
	Delete(ctx context.Context, hash string) error

	// List calls fn for every stored blob.
	List(ctx context.Context, fn func(BlobInfo) error) error
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Hash     string    `json:"sha256"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// ValidBlobHash reports whether s is a blob's address: 64 lowercase hex
// digits. Stores make paths and keys only from such strings, so no hash can
// name anything outside the store.
func ValidBlobHash(s string) bool {
	return len(s) == 64 && isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
