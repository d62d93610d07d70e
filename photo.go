package tandem

import (
	"context"
	"io"
	"time"
)

// DefaultMaxPhotoBytes is the largest photo accepted by default: 10 MiB.
const DefaultMaxPhotoBytes = 10 << 20

// A photo's replication state in a region.
const (
	// PhotoComplete: the photo's bytes are stored and verified here.
	PhotoComplete = "complete"
	// PhotoPending: the photo's row has arrived but its bytes have not been
	// fetched and verified yet; the photo is listed but not served.
	PhotoPending = "pending"
)

// Photo is an uploaded image's metadata.
type Photo struct {
	ID          string    `json:"photoId"`
	Owner       string    `json:"owner"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	SHA256      string    `json:"sha256"`
	Created     time.Time `json:"created"`
	// Replication is PhotoComplete or PhotoPending.
	Replication string `json:"replication"`

	// ThumbSHA256 and ThumbSize describe the thumbnail's blob.
	ThumbSHA256 string `json:"-"`
	ThumbSize   int64  `json:"-"`
}

// PhotoUpload is a new photo: its bytes and who uploads it.
type PhotoUpload struct {
	Owner string
	Data  []byte
}

// PhotoFilter selects a page of photos, newest first.
type PhotoFilter struct {
	// Limit is the most photos returned.
	Limit int
	// After is the Next cursor of the previous page; empty for the first.
	After string
}

// PhotoPage is one page of photos and the cursor of the next, which is empty
// on the last page.
type PhotoPage struct {
	Photos []Photo `json:"photos"`
	Next   string  `json:"next,omitempty"`
}

// PhotoVariant names the bytes of a photo that can be read.
type PhotoVariant string

// The photo variants.
const (
	PhotoOriginal  PhotoVariant = "image"
	PhotoThumbnail PhotoVariant = "thumb"
)

// PhotoContent is the stored bytes of a photo or of its thumbnail. Body is
// an io.ReadSeeker too when the blob store allows it, so ranges can be
// served.
type PhotoContent struct {
	Body        io.ReadCloser
	ContentType string
	SHA256      string
	Size        int64
	Modified    time.Time
}

// PhotoService stores photos: their metadata in the region store and their
// bytes in the blob store.
type PhotoService interface {
	// CreatePhoto validates and stores an upload. Returns EUNSUPPORTED if it
	// is not a JPEG, PNG, GIF or WebP image, ETOOLARGE if its bytes or its
	// dimensions exceed the limits, EINVALID if it cannot be decoded. A
	// photo that fails leaves no row, whatever it left in the blob store.
	CreatePhoto(ctx context.Context, up PhotoUpload) (Photo, error)

	// FindPhotoByID returns a photo's metadata. Returns ENOTFOUND if there is
	// no such photo.
	FindPhotoByID(ctx context.Context, id string) (Photo, error)

	// FindPhotos returns a page of photos, newest first. Returns EINVALID for
	// a cursor it did not make.
	FindPhotos(ctx context.Context, filter PhotoFilter) (PhotoPage, error)

	// OpenPhoto returns the bytes of a photo or of its thumbnail; the caller
	// closes the body. Returns ENOTFOUND if there is no such photo, and
	// EUNAVAILABLE while those bytes are still replicating: a photo is never
	// served before it is whole and verified.
	OpenPhoto(ctx context.Context, id string, variant PhotoVariant) (PhotoContent, error)

	// DeletePhoto deletes a photo's row and its comments. Its blobs are
	// removed later by the orphan sweep of each region. Returns ENOTFOUND if
	// there is no such photo.
	DeletePhoto(ctx context.Context, id string) error
}
