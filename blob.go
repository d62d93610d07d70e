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
