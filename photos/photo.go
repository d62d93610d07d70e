package photos

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem"
)

// AnonymousOwner owns the photos uploaded without a user.
const AnonymousOwner = "anonymous"

// Page sizes of FindPhotos.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

const photoColumns = `photo_id, owner, content_type, width, height, blob_sha256, blob_size, thumb_sha256, thumb_size, created_us`

// CreatePhoto validates an upload, stores the photo and its thumbnail in the
// blob store, and then inserts its row in one transaction, so a photo is
// visible only once its bytes are stored. An upload that fails after a Put
// leaves an unreferenced blob, which SweepOrphans removes.
//
// The owner is the upload's Owner, or AnonymousOwner; the HTTP API sets it
// to the signed-in user.
func (s *Service) CreatePhoto(ctx context.Context, up tandem.PhotoUpload) (tandem.Photo, error) {
	if s.Blobs == nil {
		return tandem.Photo{}, errors.New("create photo: the service has no blob store")
	}
	switch {
	case len(up.Data) == 0:
		return tandem.Photo{}, tandem.Errorf(tandem.EINVALID, "the photo is empty")
	case int64(len(up.Data)) > s.MaxPhotoBytes:
		return tandem.Photo{}, tandem.Errorf(tandem.ETOOLARGE, "the photo is larger than %d bytes", s.MaxPhotoBytes)
	}
	info, err := ReadImageInfo(up.Data, s.Limits)
	if err != nil {
		return tandem.Photo{}, err
	}
	thumb, err := s.thumbnail(ctx, up.Data, info)
	if err != nil {
		return tandem.Photo{}, err
	}
	owner := up.Owner
	if owner == "" {
		owner = AnonymousOwner
	}
	p := tandem.Photo{
		ID: uuid.NewString(), Owner: owner, ContentType: info.ContentType,
		Size: int64(len(up.Data)), Width: info.Width, Height: info.Height,
		Created: time.UnixMicro(s.Now().UnixMicro()).UTC(), Replication: tandem.PhotoComplete,
	}

	s.sweepMu.RLock()
	defer s.sweepMu.RUnlock()
	orig, err := s.Blobs.Put(ctx, bytes.NewReader(up.Data), "")
	if err != nil {
		return tandem.Photo{}, fmt.Errorf("store photo: %w", err)
	}
	th, err := s.Blobs.Put(ctx, bytes.NewReader(thumb), "")
	if err != nil {
		return tandem.Photo{}, fmt.Errorf("store thumbnail: %w", err)
	}
	p.SHA256, p.ThumbSHA256, p.ThumbSize = orig.Hash, th.Hash, th.Size
	err = s.Store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO photos (`+photoColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.Owner, p.ContentType, p.Width, p.Height, p.SHA256, p.Size, p.ThumbSHA256, p.ThumbSize, p.Created.UnixMicro())
		return err
	})
	if err != nil {
		return tandem.Photo{}, err
	}
	s.present.add(p.SHA256, p.ThumbSHA256)
	return p, nil
}

// thumbnail decodes an upload and returns its thumbnail, at most MaxDecodes
// at a time.
func (s *Service) thumbnail(ctx context.Context, data []byte, info ImageInfo) ([]byte, error) {
	s.decodeOnce.Do(func() { s.decodes = make(chan struct{}, max(1, s.MaxDecodes)) })
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.decodes }()
	img, err := DecodeImage(data, info)
	if err != nil {
		return nil, err
	}
	thumb, err := MakeThumbnail(img)
	if err != nil {
		return nil, fmt.Errorf("make thumbnail: %w", err)
	}
	return thumb, nil
}

// FindPhotoByID returns a photo's metadata. Returns ENOTFOUND if there is no
// such photo (an id that is not a UUID names none).
func (s *Service) FindPhotoByID(ctx context.Context, id string) (tandem.Photo, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return tandem.Photo{}, photoNotFound(id)
	}
	var p tandem.Photo
	err = s.Store.View(ctx, func(tx tandem.Tx) error {
		return scanPhoto(tx.QueryRow(ctx, `SELECT `+photoColumns+` FROM photos WHERE photo_id = ?`, u.String()), &p)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return tandem.Photo{}, photoNotFound(id)
	} else if err != nil {
		return tandem.Photo{}, fmt.Errorf("find photo: %w", err)
	}
	if err := s.setReplication(ctx, &p); err != nil {
		return tandem.Photo{}, err
	}
	return p, nil
}

// FindPhotos returns a page of photos, newest first. The cursor is the
// creation time and id of the last photo of the previous page, so photos
// added or deleted meanwhile neither repeat nor shift the pages.
func (s *Service) FindPhotos(ctx context.Context, f tandem.PhotoFilter) (tandem.PhotoPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	query, args := `SELECT `+photoColumns+` FROM photos`, []any{}
	if f.After != "" {
		us, id, err := parseCursor(f.After)
		if err != nil {
			return tandem.PhotoPage{}, err
		}
		query += ` WHERE created_us < ? OR (created_us = ? AND photo_id < ?)`
		args = append(args, us, us, id)
	}
	query += ` ORDER BY created_us DESC, photo_id DESC LIMIT ?`
	args = append(args, limit+1)

	page := tandem.PhotoPage{Photos: []tandem.Photo{}}
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p tandem.Photo
			if err := scanPhoto(rows, &p); err != nil {
				return err
			}
			page.Photos = append(page.Photos, p)
		}
		return rows.Err()
	})
	if err != nil {
		return tandem.PhotoPage{}, fmt.Errorf("find photos: %w", err)
	}
	if len(page.Photos) > limit {
		page.Photos = page.Photos[:limit]
		last := page.Photos[limit-1]
		page.Next = strconv.FormatInt(last.Created.UnixMicro(), 10) + "." + last.ID
	}
	for i := range page.Photos {
		if err := s.setReplication(ctx, &page.Photos[i]); err != nil {
			return tandem.PhotoPage{}, err
		}
	}
	return page, nil
}

func parseCursor(after string) (int64, string, error) {
	us, id, ok := strings.Cut(after, ".")
	n, err := strconv.ParseInt(us, 10, 64)
	u, uerr := uuid.Parse(id)
	if !ok || err != nil || uerr != nil {
		return 0, "", tandem.Errorf(tandem.EINVALID, "after must be the next cursor of a previous page")
	}
	return n, u.String(), nil
}

// OpenPhoto returns the bytes of a photo or of its thumbnail. Returns
// ENOTFOUND if there is no such photo and EUNAVAILABLE while the bytes have
// not been fetched and verified in this region yet.
func (s *Service) OpenPhoto(ctx context.Context, id string, variant tandem.PhotoVariant) (tandem.PhotoContent, error) {
	p, err := s.FindPhotoByID(ctx, id)
	if err != nil {
		return tandem.PhotoContent{}, err
	}
	c := tandem.PhotoContent{ContentType: p.ContentType, SHA256: p.SHA256, Size: p.Size, Modified: p.Created}
	if variant == tandem.PhotoThumbnail {
		c.ContentType, c.SHA256, c.Size = ThumbContentType, p.ThumbSHA256, p.ThumbSize
	}
	if ok, err := s.ready(ctx, c.SHA256); err != nil {
		return tandem.PhotoContent{}, err
	} else if !ok {
		return tandem.PhotoContent{}, stillReplicating()
	}
	body, _, err := s.Blobs.Open(ctx, c.SHA256)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		s.present.remove(c.SHA256)
		return tandem.PhotoContent{}, stillReplicating()
	} else if err != nil {
		return tandem.PhotoContent{}, fmt.Errorf("open photo: %w", err)
	}
	c.Body = body
	return c, nil
}

func stillReplicating() error {
	return tandem.Errorf(tandem.EUNAVAILABLE, "photo is still replicating")
}

// DeletePhoto deletes a photo's row, and so the photo in every region once
// the deletion has replicated. Its blobs stay until SweepOrphans finds them
// unreferenced. Returns ENOTFOUND if there is no such photo.
//
// It checks nothing about the caller: the HTTP API decides who may delete
// (the owner or an admin once sign-in exists, comparing the caller with
// FindPhotoByID's Owner).
func (s *Service) DeletePhoto(ctx context.Context, id string) error {
	u, err := uuid.Parse(id)
	if err != nil {
		return photoNotFound(id)
	}
	return s.Store.Update(ctx, func(tx tandem.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM photos WHERE photo_id = ?`, u.String())
		if err != nil {
			return fmt.Errorf("delete photo: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete photo: %w", err)
		} else if n == 0 {
			return photoNotFound(id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM comments WHERE photo_id IN (?, ?)`, u.String(), id); err != nil {
			return fmt.Errorf("delete the photo's comments: %w", err)
		}
		return nil
	})
}

// ReferencedBlobs returns every blob a photo references, with its size and
// the photo's creation time as Modified. Replication uses it to find the
// blobs a region still lacks.
func (s *Service) ReferencedBlobs(ctx context.Context) ([]tandem.BlobInfo, error) {
	var out []tandem.BlobInfo
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT blob_sha256, blob_size, created_us FROM photos UNION ALL SELECT thumb_sha256, thumb_size, created_us FROM photos`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b tandem.BlobInfo
			var us int64
			if err := rows.Scan(&b.Hash, &b.Size, &us); err != nil {
				return err
			}
			b.Modified = time.UnixMicro(us).UTC()
			out = append(out, b)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list referenced blobs: %w", err)
	}
	return out, nil
}

// setReplication sets p.Replication from whether both its blobs are here.
func (s *Service) setReplication(ctx context.Context, p *tandem.Photo) error {
	p.Replication = tandem.PhotoPending
	for _, h := range []string{p.SHA256, p.ThumbSHA256} {
		if ok, err := s.ready(ctx, h); err != nil || !ok {
			return err
		}
	}
	p.Replication = tandem.PhotoComplete
	return nil
}

// ready reports whether the blob hash is in the blob store. A blob store
// holds only whole blobs whose hash was verified, so a blob present is one
// that may be served.
func (s *Service) ready(ctx context.Context, hash string) (bool, error) {
	if s.Blobs == nil {
		return false, errors.New("photos: the service has no blob store")
	}
	if s.present.has(hash) {
		return true, nil
	}
	_, err := s.Blobs.Stat(ctx, hash)
	switch tandem.ErrorCode(err) {
	case "":
		s.present.add(hash)
		return true, nil
	case tandem.ENOTFOUND:
		return false, nil
	default:
		return false, fmt.Errorf("check photo blob: %w", err)
	}
}

type rowScanner interface{ Scan(dest ...any) error }

func scanPhoto(r rowScanner, p *tandem.Photo) error {
	var us int64
	if err := r.Scan(&p.ID, &p.Owner, &p.ContentType, &p.Width, &p.Height, &p.SHA256, &p.Size, &p.ThumbSHA256, &p.ThumbSize, &us); err != nil {
		return err
	}
	p.Created = time.UnixMicro(us).UTC()
	return nil
}

func photoNotFound(id string) error {
	return tandem.Errorf(tandem.ENOTFOUND, "photo %q not found", id)
}

// presentSet remembers blobs known to be in the blob store, so listing
// photos does not ask the store (a request each, for S3) again and again.
// Only SweepOrphans deletes blobs, and it forgets them here first.
type presentSet struct {
	mu     sync.Mutex
	hashes map[string]struct{}
}

// maxPresent bounds the set's memory (some 100 bytes an entry); past it the
// set starts over.
const maxPresent = 200_000

func (s *presentSet) has(hash string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.hashes[hash]
	return ok
}

func (s *presentSet) add(hashes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hashes == nil || len(s.hashes)+len(hashes) > maxPresent {
		s.hashes = make(map[string]struct{})
	}
	for _, h := range hashes {
		s.hashes[h] = struct{}{}
	}
}

func (s *presentSet) remove(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hashes, hash)
}
