package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// Limits on comment fields.
const (
	MaxIDLength      = 128
	MaxUserLength    = 128
	MaxMessageLength = 16 << 10
	MaxCommentBody   = 64 << 10
)

// Messages shown when the application is fenced, as the reference shows them.
const (
	FencedCommentMessage = "Comments cannot currently be added. Please try again in a few minutes"
	FencedPhotoMessage   = "New photos can not currently be uploaded. Please try again in a few minutes"
)

func authorized(r *http.Request, secret string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && secret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}

func (s *Server) routeComments() {
	s.mux.HandleFunc("GET /api/comments/{photoId}", s.handleGetComments)
	s.mux.HandleFunc("POST /api/comments/{photoId}", s.withAuth(RequireUser, s.handlePostComment))
}

// handleGetState returns {"state": ...} for the deployment's app id and {}
// for any other, as the reference state API does.
func (s *Server) handleGetState(w http.ResponseWriter, r *http.Request) {
	snap := s.Snapshot()
	if snap.Version == 0 || r.PathValue("appId") != snap.AppID {
		httpjson.Write(w, http.StatusOK, struct{}{})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"state": string(snap.State)})
}

func (s *Server) handleGetComments(w http.ResponseWriter, r *http.Request) {
	photoID := r.PathValue("photoId")
	if err := checkField("photoId", photoID, MaxIDLength); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	cs, err := s.Comments.FindComments(r.Context(), photoID)
	if err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	for i := range cs {
		cs[i].PhotoID = "" // the reference list carries commentId, user and message
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"comments": cs})
}

// handlePostComment stores a comment by the signed-in user. The body is the
// reference shape {"commentId","photoId","user","message"}; photoId may be
// left out, and must match the path when given; user may be left out, and
// is ignored: the author is the token's user, whatever the body claims.
func (s *Server) handlePostComment(w http.ResponseWriter, r *http.Request) {
	var c tandem.Comment
	if err := httpjson.Decode(w, r, MaxCommentBody, &c); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	c.User = ClaimsFrom(r.Context()).Username
	photoID := r.PathValue("photoId")
	if c.PhotoID == "" {
		c.PhotoID = photoID
	}
	if err := validateComment(c, photoID); err != nil {
		httpjson.Error(w, r, s.Logger, err)
		return
	}
	if err := s.CheckWrite(r.Context()); err != nil {
		s.writeRefused(w, r, err, FencedCommentMessage)
		return
	}
	if err := s.Comments.CreateComment(r.Context(), c); err != nil {
		s.writeRefused(w, r, err, FencedCommentMessage)
		return
	}
	httpjson.Write(w, http.StatusCreated, c)
}

// writeRefused writes a failed write's error, with the reference message
// when the application is fenced.
func (s *Server) writeRefused(w http.ResponseWriter, r *http.Request, err error, fenced string) {
	if tandem.ErrorCode(err) == tandem.EFENCED {
		err = tandem.Errorf(tandem.EFENCED, "%s", fenced)
	}
	if tandem.ErrorStatus(err) == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	httpjson.Error(w, r, s.Logger, err)
}

func validateComment(c tandem.Comment, photoID string) error {
	if err := checkField("photoId", photoID, MaxIDLength); err != nil {
		return err
	}
	if c.PhotoID != photoID {
		return tandem.Errorf(tandem.EINVALID, "photoId in the body (%q) differs from the one in the path", c.PhotoID)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"commentId", c.CommentID, MaxIDLength}, {"user", c.User, MaxUserLength}, {"message", c.Message, MaxMessageLength}} {
		if err := checkField(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	return nil
}

func checkField(name, value string, max int) error {
	switch {
	case strings.TrimSpace(value) == "":
		return tandem.Errorf(tandem.EINVALID, "missing field: %s", name)
	case !utf8.ValidString(value):
		return tandem.Errorf(tandem.EINVALID, "field %s is not valid UTF-8", name)
	case len(value) > max:
		return tandem.Errorf(tandem.EINVALID, "field %s is longer than %d bytes", name, max)
	}
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := s.Health(r.Context())
	status := http.StatusOK
	if !h.OK {
		status = http.StatusServiceUnavailable
	}
	httpjson.Write(w, status, struct {
		Region string `json:"region"`
		tandem.Health
	}{s.Region, h})
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, s.Status(r.Context(), r.URL.Query().Get("checksums") != ""))
}
