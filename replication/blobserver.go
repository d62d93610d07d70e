package replication

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandemhq/tandem"
)

// BlobPath is where a region serves its blobs to followers: BlobPath
// followed by the blob's hash.
const BlobPath = "/internal/v1/blobs/"

// BlobServer serves a region's blobs at BlobPath{sha256} to the followers
// that present the cluster secret. Ranges are served when the blob store's
// readers can seek.
type BlobServer struct {
	Blobs  tandem.BlobStore
	Secret string
	Logger *slog.Logger
}

func (s *BlobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !Authorized(r, s.Secret) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tandem-internal"`)
		http.Error(w, "the cluster secret is required", http.StatusUnauthorized)
		return
	}
	hash := strings.TrimPrefix(r.URL.Path, BlobPath)
	rc, info, err := s.Blobs.Open(r.Context(), hash)
	switch tandem.ErrorCode(err) {
	case "":
	case tandem.EINVALID:
		http.Error(w, tandem.ErrorMessage(err), http.StatusBadRequest)
		return
	case tandem.ENOTFOUND:
		http.Error(w, tandem.ErrorMessage(err), http.StatusNotFound)
		return
	default:
		logger(s.Logger).Error("serve blob", "sha256", hash, "err", err)
		http.Error(w, "the blob store failed to open the blob", http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+hash+`"`)
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", info.Modified, rs)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	io.Copy(w, rc)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// BlobRefs returns the blobs a row image references: the value of every
// column whose name ends in "sha256" and holds a lowercase hex SHA-256, with
// the size from the column of the same name ending in "size" instead (zero
// when there is none). So a table with blob_sha256 and blob_size columns has
// its blobs replicated with its rows, and replication needs to know nothing
// else of the application.
func BlobRefs(row json.RawMessage) []tandem.BlobInfo {
	if !bytes.Contains(row, []byte(`sha256"`)) {
		return nil
	}
	var cols map[string]json.RawMessage
	if err := json.Unmarshal(row, &cols); err != nil {
		return nil
	}
	var refs []tandem.BlobInfo
	for name, v := range cols {
		prefix, ok := strings.CutSuffix(name, "sha256")
		if !ok {
			continue
		}
		var hash string
		if json.Unmarshal(v, &hash) != nil || !validHash(hash) {
			continue
		}
		b := tandem.BlobInfo{Hash: hash}
		json.Unmarshal(cols[prefix+"size"], &b.Size)
		refs = append(refs, b)
	}
	return refs
}

// validHash reports whether s is 64 lowercase hex digits.
func validHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
