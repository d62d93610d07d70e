// Package photos is the data of the reference photo-sharing application:
// photos and comments on them, kept in the region store so that they
// replicate like any table, with the photos' bytes in the region's blob
// store.
package photos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tandemhq/tandem"
)

// Migrations create the application's tables.
var Migrations = []tandem.Migration{
	{Name: "001_comments", SQL: `
CREATE TABLE comments (
	comment_id TEXT PRIMARY KEY,
	photo_id   TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	message    TEXT NOT NULL,
	created_us INTEGER NOT NULL
);
CREATE INDEX comments_by_photo ON comments (photo_id, created_us, comment_id);
`},
	// Columns ending in sha256 reference blobs, and the column of the same
	// name ending in size gives the blob's size: replication fetches the
	// blobs a replicated row references by that convention.
	{Name: "002_photos", SQL: `
CREATE TABLE photos (
	photo_id     TEXT PRIMARY KEY,
	owner        TEXT NOT NULL,
	content_type TEXT NOT NULL,
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	blob_sha256  TEXT NOT NULL,
	blob_size    INTEGER NOT NULL,
	thumb_sha256 TEXT NOT NULL,
	thumb_size   INTEGER NOT NULL,
	created_us   INTEGER NOT NULL
);
CREATE INDEX photos_by_created ON photos (created_us, photo_id);
CREATE INDEX photos_by_blob ON photos (blob_sha256);
CREATE INDEX photos_by_thumb ON photos (thumb_sha256);
`},
}

// AppName is the name the migrations are recorded under.
const AppName = "photos"

// Service implements tandem.CommentService and tandem.PhotoService over a
// region store and a blob store.
type Service struct {
	Store tandem.Store
	// Blobs holds the photos' bytes; photos need it, comments do not.
	Blobs tandem.BlobStore
	Now   func() time.Time

	// MaxPhotoBytes bounds an upload's size, Limits its dimensions.
	MaxPhotoBytes int64
	Limits        Limits
	// MaxDecodes bounds how many uploads are decoded at once: decoding a
	// 50-megapixel image takes some 200 MB.
	MaxDecodes int

	decodeOnce sync.Once
	decodes    chan struct{}

	// sweepMu keeps the orphan sweep from deleting a blob that an upload
	// has just stored and is about to reference: uploads hold it shared
	// from their first Put to their commit, the sweep exclusively while it
	// deletes.
	sweepMu sync.RWMutex
	present presentSet
}

var (
	_ tandem.CommentService = (*Service)(nil)
	_ tandem.PhotoService   = (*Service)(nil)
)

// DefaultMaxDecodes is how many uploads a Service decodes at once.
const DefaultMaxDecodes = 2

// NewService returns the service over store. Set Blobs before using photos.
func NewService(store tandem.Store) *Service {
	return &Service{
		Store: store, Now: time.Now,
		MaxPhotoBytes: tandem.DefaultMaxPhotoBytes, Limits: DefaultLimits, MaxDecodes: DefaultMaxDecodes,
	}
}

// Migrate creates or updates the application's tables.
func (s *Service) Migrate(ctx context.Context) error {
	return s.Store.Migrate(ctx, AppName, Migrations)
}

// FindComments returns the comments on a photo, oldest first.
func (s *Service) FindComments(ctx context.Context, photoID string) ([]tandem.Comment, error) {
	out := []tandem.Comment{}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT comment_id, photo_id, user_name, message FROM comments WHERE photo_id = ? ORDER BY created_us, comment_id`, photoID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c tandem.Comment
			if err := rows.Scan(&c.CommentID, &c.PhotoID, &c.User, &c.Message); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("find comments: %w", err)
	}
	return out, nil
}

// CreateComment stores c. A comment whose id exists already with the same
// content is accepted and stored once; with other content it is ECONFLICT.
func (s *Service) CreateComment(ctx context.Context, c tandem.Comment) error {
	return s.Store.Update(ctx, func(tx tandem.Tx) error {
		var have tandem.Comment
		err := tx.QueryRow(ctx, `SELECT photo_id, user_name, message FROM comments WHERE comment_id = ?`, c.CommentID).Scan(&have.PhotoID, &have.User, &have.Message)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("create comment: %w", err)
		case have.PhotoID == c.PhotoID && have.User == c.User && have.Message == c.Message:
			return nil
		default:
			return tandem.Errorf(tandem.ECONFLICT, "commentId %q is already used by another comment", c.CommentID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO comments (comment_id, photo_id, user_name, message, created_us) VALUES (?, ?, ?, ?, ?)`,
			c.CommentID, c.PhotoID, c.User, c.Message, s.Now().UnixMicro())
		if err != nil {
			return fmt.Errorf("create comment: %w", err)
		}
		return nil
	})
}
