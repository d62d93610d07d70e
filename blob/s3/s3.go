// Package s3 implements tandem.BlobStore on an S3-compatible bucket through
// minio-go.
//
// A blob is the object Prefix+<hash>. Since the key is the hash of the
// content, Put first spools the bytes to a local temp file while hashing
// them, and uploads only once the hash is known and checked; an object is
// therefore only ever created whole, under the right key.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/internal/spool"
)

// Config says where the blobs live and how to reach them.
type Config struct {
	Endpoint  string // host[:port] of the S3 API, without a scheme
	Bucket    string // bucket holding the blobs; Init creates it
	Region    string // bucket region; optional for most endpoints
	AccessKey string // access key ID
	SecretKey string // secret access key
	Prefix    string // prepended to every key, such as "photos/"
	UseSSL    bool   // connect with HTTPS
}

// Store is a blob store in an S3 bucket.
type Store struct {
	// TempDir is where Put spools uploads; the system temp directory if
	// empty.
	TempDir string

	cfg    Config
	client *minio.Client
}

var _ tandem.BlobStore = (*Store)(nil)

// New returns a Store for cfg. It makes no request; call Init before use.
func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("new s3 blob store: no endpoint")
	}
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("new s3 blob store: no bucket")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("new s3 client: %w", err)
	}
	return &Store{cfg: cfg, client: client}, nil
}

// Init creates the bucket if it does not exist.
//
// It is not named Open because tandem.BlobStore already has an Open method.
func (s *Store) Init(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("check bucket: %w", err)
	} else if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	if err != nil && errorCode(err) != minio.BucketAlreadyOwnedByYou {
		return fmt.Errorf("create bucket: %w", err)
	}
	return nil
}

// Put stores the bytes read from r and returns their hash and size. When
// want is not empty, Put returns EINVALID and uploads nothing unless the
// bytes hash to want. Bytes already stored are not uploaded again.
func (s *Store) Put(ctx context.Context, r io.Reader, want string) (tandem.BlobInfo, error) {
	if want != "" {
		if err := spool.CheckHash(want); err != nil {
			return tandem.BlobInfo{}, err
		}
	}

	f, size, hash, err := s.spool(ctx, r)
	if err != nil {
		return tandem.BlobInfo{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()

	if err := spool.CheckWant(hash, want); err != nil {
		return tandem.BlobInfo{}, err
	}

	// A stored object of another size is not these bytes (a damaged or
	// foreign object under our key), so it is overwritten.
	if info, err := s.Stat(ctx, hash); err == nil && info.Size == size {
		return info, nil
	} else if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
		return tandem.BlobInfo{}, err
	}

	_, err = s.client.PutObject(ctx, s.cfg.Bucket, s.key(hash), f, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		// Over plain HTTP minio-go signs the payload in streamed chunks, and
		// for an empty body it then sends no Content-Length, which servers
		// reject. An empty body has nothing to sign.
		DisableContentSha256: size == 0,
	})
	if err != nil {
		return tandem.BlobInfo{}, fmt.Errorf("upload blob: %w", err)
	}
	return s.Stat(ctx, hash)
}

// spool copies r into a new temp file while hashing it. It returns the file,
// rewound, with the size and hex hash of its content; on error it has
// removed the file.
func (s *Store) spool(ctx context.Context, r io.Reader) (*os.File, int64, string, error) {
	f, size, hash, err := spool.ToTemp(ctx, s.TempDir, "tandem-blob-*", r)
	if err != nil {
		return nil, 0, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, "", fmt.Errorf("rewind temp file: %w", err)
	}
	return f, size, hash, nil
}

// Open returns a reader of the blob. Returns ENOTFOUND if it is absent and
// EINVALID if hash is not a lowercase hex SHA-256.
//
// The reader is a *minio.Object, which is also an io.ReadSeeker: seeking
// makes ranged requests, so callers may serve Range requests from it with
// http.ServeContent.
func (s *Store) Open(ctx context.Context, hash string) (io.ReadCloser, tandem.BlobInfo, error) {
	if err := spool.CheckHash(hash); err != nil {
		return nil, tandem.BlobInfo{}, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, s.key(hash), minio.GetObjectOptions{})
	if err != nil {
		return nil, tandem.BlobInfo{}, fmt.Errorf("open blob: %w", err)
	}
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, tandem.BlobInfo{}, mapNotFound(hash, fmt.Errorf("open blob: %w", err))
	}
	return obj, blobInfo(hash, oi), nil
}

// Stat returns a blob's size. Returns ENOTFOUND if it is absent and EINVALID
// if hash is not a lowercase hex SHA-256.
func (s *Store) Stat(ctx context.Context, hash string) (tandem.BlobInfo, error) {
	if err := spool.CheckHash(hash); err != nil {
		return tandem.BlobInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.cfg.Bucket, s.key(hash), minio.StatObjectOptions{})
	if err != nil {
		return tandem.BlobInfo{}, mapNotFound(hash, fmt.Errorf("stat blob: %w", err))
	}
	return blobInfo(hash, oi), nil
}

// Delete removes a blob. Deleting an absent blob is not an error. Returns
// EINVALID if hash is not a lowercase hex SHA-256.
func (s *Store) Delete(ctx context.Context, hash string) error {
	if err := spool.CheckHash(hash); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.key(hash), minio.RemoveObjectOptions{})
	if err != nil && errorCode(err) != minio.NoSuchKey {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}

// List calls fn for every stored blob, in key order, and returns the first
// error fn returns. Keys under Prefix that are not a hash are skipped.
func (s *Store) List(ctx context.Context, fn func(tandem.BlobInfo) error) error {
	// Cancelling stops the listing goroutine when fn fails part-way.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	for oi := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{
		Prefix:    s.cfg.Prefix,
		Recursive: true,
	}) {
		if oi.Err != nil {
			return fmt.Errorf("list blobs: %w", oi.Err)
		}
		hash, ok := strings.CutPrefix(oi.Key, s.cfg.Prefix)
		if !ok || !tandem.ValidBlobHash(hash) {
			continue
		}
		if err := fn(blobInfo(hash, oi)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (s *Store) key(hash string) string { return s.cfg.Prefix + hash }

func blobInfo(hash string, oi minio.ObjectInfo) tandem.BlobInfo {
	return tandem.BlobInfo{Hash: hash, Size: oi.Size, Modified: oi.LastModified.UTC()}
}

// mapNotFound returns ENOTFOUND if err says the object does not exist, and
// err otherwise.
func mapNotFound(hash string, err error) error {
	if errorCode(err) == minio.NoSuchKey {
		return tandem.Errorf(tandem.ENOTFOUND, "blob %s not found", hash)
	}
	return err
}

// errorCode returns the S3 error code in err's chain, or "".
func errorCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}
