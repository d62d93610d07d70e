package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// Photo upload limits of the HTTP layer; the photo service checks the
// photo's own size and dimensions.
const (
	// multipartSlack is what a multipart upload may carry beyond the photo:
	// boundaries, part headers, other fields.
	multipartSlack = 64 << 10
)

func (s *Server) routePhotos() {
	if s.Photos == nil {
		return
	}
	s.mux.HandleFunc("POST /api/photos", s.withAuth(RequireUser, s.handlePostPhoto))
	s.mux.HandleFunc("GET /api/photos", s.handleListPhotos)
	s.mux.HandleFunc("GET /api/photos/{photoId}", s.handleGetPhoto)
	s.mux.HandleFunc("GET /api/photos/{photoId}/image", s.handleGetPhotoContent(tandem.PhotoOriginal))
	s.mux.HandleFunc("GET /api/photos/{photoId}/thumb", s.handleGetPhotoContent(tandem.PhotoThumbnail))
	s.mux.HandleFunc("DELETE /api/photos/{photoId}", s.withAuth(RequireUser, s.handleDeletePhoto))
	if s.Blobs != nil {
		s.mux.Handle("GET /internal/v1/blobs/{sha256}", s.Blobs)
	}
}

// maxPhotoBytes is the largest photo the API reads.
func (s *Server) maxPhotoBytes() int64 {
	if s.MaxPhotoBytes > 0 {
		return s.MaxPhotoBytes
	}
	return tandem.DefaultMaxPhotoBytes
}

// handlePostPhoto stores a photo sent as the multipart field "file" or as
// the whole body, owned by the signed-in user. A multipart field "user" is
// ignored, as the comment API ignores its body's user: the owner is the
// token's.
func (s *Server) handlePostPhoto(w http.ResponseWriter, r *http.Request) {
	if err := s.CheckWrite(r.Context()); err != nil {
		s.writeRefused(w, r, err, FencedPhotoMessage)
		return
	}
	up, err := s.readUpload(w, r)
	up.Owner = ClaimsFrom(r.Context()).Username
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	p, err := s.Photos.CreatePhoto(r.Context(), up)
	if err != nil {
		s.writeRefused(w, r, err, FencedPhotoMessage)
		return
	}
	w.Header().Set("Location", "/api/photos/"+p.ID)
	httpjson.Write(w, http.StatusCreated, photoResponse(p))
}

// readUpload reads a photo upload's bytes, refusing with ETOOLARGE as soon
// as they pass the limit.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (tandem.PhotoUpload, error) {
	max := s.maxPhotoBytes()
	var up tandem.PhotoUpload
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if r.ContentLength > max {
			return up, tooLarge(max)
		}
		data, err := readLimited(r.Body, max)
		up.Data = data
		return up, err
	}
	if r.ContentLength > max+multipartSlack {
		return up, tooLarge(max)
	}
	r.Body = http.MaxBytesReader(w, r.Body, max+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, tandem.Errorf(tandem.EINVALID, "the multipart body cannot be read: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return up, uploadError(err, max)
		}
		if part.FormName() == "file" {
			if up.Data, err = readLimited(part, max); err != nil {
				return up, err
			}
		}
		part.Close()
	}
	if up.Data == nil {
		return up, tandem.Errorf(tandem.EINVALID, "missing field: file (the photo, as multipart/form-data)")
	}
	return up, nil
}

// readLimited reads all of r, which may hold at most max bytes.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, uploadError(err, max)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(max)
	}
	return data, nil
}

// uploadError is the error for an upload whose body could not be read:
// over the limit, or cut off (the client is probably gone).
func uploadError(err error, max int64) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge(max)
	}
	return tandem.Errorf(tandem.EINVALID, "the upload was cut off: %v", err)
}

func tooLarge(max int64) error {
	return tandem.Errorf(tandem.ETOOLARGE, "the photo is larger than %d bytes", max)
}

// handleListPhotos lists photos newest first: ?limit= (default 50, at most
// 200) and ?after= the previous page's next cursor.
func (s *Server) handleListPhotos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := tandem.PhotoFilter{After: q.Get("after")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			httpjson.Errorf(w, r, tandem.EINVALID, "limit must be a positive integer")
			return
		}
		f.Limit = n
	}
	page, err := s.Photos.FindPhotos(r.Context(), f)
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	out := struct {
		Photos []photoJSON `json:"photos"`
		Next   string      `json:"next,omitempty"`
	}{Photos: make([]photoJSON, len(page.Photos)), Next: page.Next}
	for i, p := range page.Photos {
		out.Photos[i] = photoResponse(p)
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (s *Server) handleGetPhoto(w http.ResponseWriter, r *http.Request) {
	p, err := s.Photos.FindPhotoByID(r.Context(), r.PathValue("photoId"))
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	httpjson.Write(w, http.StatusOK, photoResponse(p))
}

// handleGetPhotoContent serves a photo's bytes or its thumbnail. They never
// change (the ETag is their hash), so they may be cached for good; ranges
// are served when the blob store can seek. A standby answers 503 with
// Retry-After while the bytes are still replicating.
func (s *Server) handleGetPhotoContent(variant tandem.PhotoVariant) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.Photos.OpenPhoto(r.Context(), r.PathValue("photoId"), variant)
		if err != nil {
			if tandem.ErrorCode(err) == tandem.EUNAVAILABLE {
				w.Header().Set("Retry-After", "1")
			}
			httpjson.Error(w, r, s.Logger, err)
			return
		}
		defer c.Body.Close()
		h := w.Header()
		h.Set("Content-Type", c.ContentType)
		h.Set("ETag", `"`+c.SHA256+`"`)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		if rs, ok := c.Body.(io.ReadSeeker); ok {
			http.ServeContent(w, r, "", c.Modified, rs)
			return
		}
		h.Set("Last-Modified", c.Modified.UTC().Format(http.TimeFormat))
		h.Set("Content-Length", strconv.FormatInt(c.Size, 10))
		if r.Method != http.MethodHead {
			io.Copy(w, c.Body)
		}
	}
}

// handleDeletePhoto deletes a photo and its comments in every region. Only
// the photo's owner or an admin may.
func (s *Server) handleDeletePhoto(w http.ResponseWriter, r *http.Request) {
	if err := s.CheckWrite(r.Context()); err != nil {
		s.writeRefused(w, r, err, FencedPhotoMessage)
		return
	}
	p, err := s.Photos.FindPhotoByID(r.Context(), r.PathValue("photoId"))
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if c := ClaimsFrom(r.Context()); c.Username != p.Owner && c.Role != auth.RoleAdmin {
		writeAuthError(w, r, tandem.Errorf(tandem.EFORBIDDEN, "only the photo's owner or an admin can delete it"))
		return
	}
	if err := s.Photos.DeletePhoto(r.Context(), r.PathValue("photoId")); err != nil {
		s.writeRefused(w, r, err, FencedPhotoMessage)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// photoJSON is a photo as the API shows it: its metadata and where its
// image and thumbnail are.
type photoJSON struct {
	tandem.Photo
	Image string `json:"image"`
	Thumb string `json:"thumb"`
}

func photoResponse(p tandem.Photo) photoJSON {
	base := "/api/photos/" + p.ID + "/"
	return photoJSON{Photo: p, Image: base + string(tandem.PhotoOriginal), Thumb: base + string(tandem.PhotoThumbnail)}
}
