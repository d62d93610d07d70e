package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/blob/blobtest"
	blobfs "github.com/tandemhq/tandem/blob/fs"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/internal/phototest"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/sqlite"
)

// photoFixture is a writer region's API with photos.
type photoFixture struct {
	srv      *httptest.Server
	store    *sqlite.Store
	blobs    *blobfs.Store
	registry *prometheus.Registry
	snap     tandem.Snapshot
	tokens   map[string]string // access tokens of the users jerome, anabel and boss (an admin)
	head     uint64            // the changelog's head once the users exist
}

func newPhotoFixture(t *testing.T, maxPhotoBytes int64) *photoFixture {
	t.Helper()
	dir := t.TempDir()
	f := &photoFixture{
		store:    sqlite.New(filepath.Join(dir, "r.db")),
		blobs:    blobfs.New(filepath.Join(dir, "blobs")),
		registry: prometheus.NewRegistry(),
		snap:     tandem.Snapshot{Version: 1, AppID: "app-1", State: tandem.StateActive, Writer: "us-east-1", Epoch: 1},
	}
	ctx := context.Background()
	if err := f.store.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	if err := f.blobs.Init(); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	svc := photos.NewService(f.store)
	svc.Blobs = f.blobs
	svc.MaxPhotoBytes = maxPhotoBytes
	if err := svc.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	identity := newIdentity(t, f.store, "us-east-1")
	f.tokens = map[string]string{}
	for name, role := range map[string]string{"jerome": auth.RoleUser, "anabel": auth.RoleUser, "boss": auth.RoleAdmin} {
		f.tokens[name] = mustSignIn(t, identity, name, role).AccessToken
	}
	head, err := f.store.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.head = head.LSN
	f.srv = httptest.NewServer(&httpapi.Server{
		Identity:      identity,
		Region:        "us-east-1",
		Comments:      svc,
		Photos:        svc,
		MaxPhotoBytes: maxPhotoBytes,
		Blobs:         &replication.BlobServer{Blobs: f.blobs, Secret: "secret"},
		Snapshot:      func() tandem.Snapshot { return f.snap },
		CheckWrite:    func(context.Context) error { return f.snap.CheckWrite("us-east-1") },
		Secret:        "secret",
		Registry:      f.registry,
	})
	t.Cleanup(f.srv.Close)
	return f
}

type photoResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r photoResponse) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

func (f *photoFixture) do(t *testing.T, method, path string, body io.Reader, header ...string) photoResponse {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return photoResponse{resp.StatusCode, resp.Header, b}
}

// bearer is the Authorization header of user's token.
func (f *photoFixture) bearer(user string) string { return "Bearer " + f.tokens[user] }

// upload posts data as the multipart field "file", signed in as user
// (jerome when empty), with a "user" field naming someone else that the
// API must ignore.
func (f *photoFixture) upload(t *testing.T, data []byte, user string) photoResponse {
	t.Helper()
	if user == "" {
		user = "jerome"
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write(data)
	mw.WriteField("user", "mallory")
	mw.Close()
	return f.do(t, "POST", "/api/photos", &body, "Content-Type", mw.FormDataContentType(), "Authorization", f.bearer(user))
}

// mustBeEmpty fails the test unless no photo row and no blob was written.
func (f *photoFixture) mustBeEmpty(t *testing.T) {
	t.Helper()
	if p, err := f.store.Position(context.Background()); err != nil || p.LSN != f.head {
		t.Fatalf("changelog head %d, %v; want %d: nothing written", p.LSN, err, f.head)
	}
	if got := blobtest.MustList(t, f.blobs); len(got) != 0 {
		t.Fatalf("blob store holds %d blobs; want none", len(got))
	}
}

// pngImage returns a w×h PNG of noise, other bytes at every call.
func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	return phototest.NoisePNG(t, w, h, rand.Uint64())
}

type photoJSON struct {
	tandem.Photo
	Image string `json:"image"`
	Thumb string `json:"thumb"`
}

func decodePhoto(t *testing.T, r photoResponse) photoJSON {
	t.Helper()
	var p photoJSON
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	return p
}

func TestPhotoAPI(t *testing.T) {
	f := newPhotoFixture(t, tandem.DefaultMaxPhotoBytes)
	data := pngImage(t, 640, 480)
	r := f.upload(t, data, "jerome")
	if r.status != 201 {
		t.Fatalf("upload: %s", r)
	}
	p := decodePhoto(t, r)
	if p.Owner != "jerome" || p.ContentType != "image/png" || p.Width != 640 || p.Height != 480 || p.Size != int64(len(data)) ||
		p.SHA256 != blobtest.Hash(data) || p.Replication != "complete" || r.header.Get("Location") != "/api/photos/"+p.ID {
		t.Fatalf("upload answered %s (Location %s)", r, r.header.Get("Location"))
	}
	raw := f.do(t, "POST", "/api/photos", bytes.NewReader(pngImage(t, 20, 10)), "Content-Type", "image/png", "Authorization", f.bearer("anabel"))
	if raw.status != 201 || decodePhoto(t, raw).Owner != "anabel" {
		t.Fatalf("raw upload: %s", raw)
	}
	octets := f.do(t, "POST", "/api/photos", bytes.NewReader(pngImage(t, 20, 10)), "Content-Type", "application/octet-stream", "Authorization", f.bearer("anabel"))
	if octets.status != 201 || decodePhoto(t, octets).Owner != "anabel" {
		t.Fatalf("upload as application/octet-stream: %s", octets)
	}

	var list struct {
		Photos []photoJSON
		Next   string
	}
	r = f.do(t, "GET", "/api/photos?limit=2", nil)
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || len(list.Photos) != 2 || list.Next == "" {
		t.Fatalf("first page: %s", r)
	}
	r = f.do(t, "GET", "/api/photos?limit=2&after="+list.Next, nil)
	list.Next = ""
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Photos) != 1 || list.Photos[0].ID != p.ID || list.Next != "" {
		t.Fatalf("second page should hold the first upload alone: %s", r)
	}
	if list.Photos[0].Image != "/api/photos/"+p.ID+"/image" || list.Photos[0].Thumb != "/api/photos/"+p.ID+"/thumb" {
		t.Fatalf("links: %+v", list.Photos[0])
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?after=nonsense"} {
		if r := f.do(t, "GET", "/api/photos"+bad, nil); r.status != 400 {
			t.Errorf("GET /api/photos%s: %s, want 400", bad, r)
		}
	}
	if r := f.do(t, "GET", "/api/photos/"+p.ID, nil); r.status != 200 || decodePhoto(t, r).Photo != p.Photo {
		t.Fatalf("metadata: %s", r)
	}

	img := f.do(t, "GET", p.Image, nil)
	h := img.header
	if img.status != 200 || !bytes.Equal(img.body, data) || h.Get("Content-Type") != "image/png" || h.Get("ETag") != `"`+p.SHA256+`"` ||
		h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("Last-Modified") != p.Created.Format(http.TimeFormat) {
		t.Fatalf("image: %d, %d bytes, headers %v", img.status, len(img.body), h)
	}
	if r := f.do(t, "GET", p.Image, nil, "If-None-Match", h.Get("ETag")); r.status != 304 {
		t.Fatalf("conditional GET: %s, want 304", r)
	}
	if r := f.do(t, "GET", p.Image, nil, "Range", "bytes=10-19"); r.status != 206 || !bytes.Equal(r.body, data[10:20]) {
		t.Fatalf("range: %d %q", r.status, r.body)
	}
	if r := f.do(t, "HEAD", p.Image, nil); r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("HEAD: %d, %d bytes, %v", r.status, len(r.body), r.header)
	}
	thumb := f.do(t, "GET", p.Thumb, nil)
	if thumb.status != 200 || thumb.header.Get("Content-Type") != "image/jpeg" || thumb.header.Get("ETag") != `"`+blobtest.Hash(thumb.body)+`"` {
		t.Fatalf("thumb: %d %v", thumb.status, thumb.header)
	}

	comment := `{"commentId":"c1","photoId":"` + p.ID + `","message":"nice"}`
	if r := f.do(t, "POST", "/api/comments/"+p.ID, strings.NewReader(comment), "Content-Type", "application/json", "Authorization", f.bearer("anabel")); r.status != 201 {
		t.Fatalf("comment: %s", r)
	}
	if r := f.do(t, "DELETE", "/api/photos/"+p.ID, nil); r.status != 401 {
		t.Fatalf("delete without a token: %s, want 401", r)
	}
	if r := f.do(t, "DELETE", "/api/photos/"+p.ID, nil, "Authorization", f.bearer("anabel")); r.status != 403 {
		t.Fatalf("delete by anabel, not the owner: %s, want 403", r)
	}
	if r := f.do(t, "DELETE", "/api/photos/"+p.ID, nil, "Authorization", f.bearer("jerome")); r.status != 204 {
		t.Fatalf("delete by the owner: %s", r)
	}
	if r := f.do(t, "GET", "/api/comments/"+p.ID, nil); r.status != 200 || bytes.Contains(r.body, []byte("c1")) {
		t.Fatalf("comments of the deleted photo: %s", r)
	}
	if r := f.do(t, "DELETE", "/api/photos/"+decodePhoto(t, raw).ID, nil, "Authorization", f.bearer("boss")); r.status != 204 {
		t.Fatalf("delete by an admin: %s", r)
	}
	for _, path := range []string{"/api/photos/" + p.ID, p.Image, p.Thumb, "/api/photos/nope"} {
		if r := f.do(t, "GET", path, nil); r.status != 404 || !bytes.HasPrefix(r.body, []byte(`{"message":`)) {
			t.Errorf("GET %s after delete: %s, want 404", path, r)
		}
	}
	if r := f.do(t, "DELETE", "/api/photos/"+p.ID, nil, "Authorization", f.bearer("jerome")); r.status != 404 {
		t.Fatalf("delete twice: %s", r)
	}
}

func TestPhotoUploadRefusals(t *testing.T) {
	const max = 32 << 10
	f := newPhotoFixture(t, max)
	big := pngImage(t, 100, 100) // some 40 KB of noise
	if len(big) <= max {
		t.Fatalf("test photo is only %d bytes", len(big))
	}
	var bomb bytes.Buffer
	// 64 megapixels of one colour, one bit each: some 8 KiB.
	png.Encode(&bomb, image.NewPaletted(image.Rect(0, 0, 8000, 8000), color.Palette{color.White, color.Black}))
	if bomb.Len() > max {
		t.Fatalf("bomb is %d bytes", bomb.Len())
	}
	chunked := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }

	for _, tt := range []struct {
		name   string
		do     func() photoResponse
		status int
		msg    string
	}{
		{"no token", func() photoResponse {
			return f.do(t, "POST", "/api/photos", bytes.NewReader(pngImage(t, 4, 4)), "Content-Type", "image/png")
		}, 401, "sign-in required"},
		{"forged token", func() photoResponse {
			return f.do(t, "POST", "/api/photos", bytes.NewReader(pngImage(t, 4, 4)), "Content-Type", "image/png", "Authorization", f.bearer("jerome")+"x")
		}, 401, ""},
		{"text", func() photoResponse {
			return f.do(t, "POST", "/api/photos", strings.NewReader("just text"), "Content-Type", "text/plain", "Authorization", f.bearer("jerome"))
		}, 415, "JPEG, PNG, GIF or WebP"},
		{"svg", func() photoResponse { return f.upload(t, []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "") }, 415, ""},
		{"too large", func() photoResponse {
			return f.do(t, "POST", "/api/photos", bytes.NewReader(big), "Content-Type", "image/png", "Authorization", f.bearer("jerome"))
		}, 413, "larger than"},
		{"too large, no length", func() photoResponse {
			return f.do(t, "POST", "/api/photos", chunked(big), "Content-Type", "image/png", "Authorization", f.bearer("jerome"))
		}, 413, "larger than"},
		{"too large, multipart", func() photoResponse { return f.upload(t, big, "") }, 413, "larger than"},
		{"bomb", func() photoResponse { return f.upload(t, bomb.Bytes(), "") }, 413, "megapixels"},
		{"no file", func() photoResponse {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			mw.WriteField("user", "jerome")
			mw.Close()
			return f.do(t, "POST", "/api/photos", &body, "Content-Type", mw.FormDataContentType(), "Authorization", f.bearer("jerome"))
		}, 400, "missing field: file"},
		{"empty", func() photoResponse {
			return f.do(t, "POST", "/api/photos", nil, "Content-Type", "image/png", "Authorization", f.bearer("jerome"))
		}, 400, "empty"},
		{"bad multipart", func() photoResponse {
			return f.do(t, "POST", "/api/photos", strings.NewReader("--x\r\nnonsense"), "Content-Type", "multipart/form-data; boundary=x", "Authorization", f.bearer("jerome"))
		}, 400, ""},
	} {
		r := tt.do()
		if r.status != tt.status || !bytes.Contains(r.body, []byte(tt.msg)) || !bytes.HasPrefix(r.body, []byte(`{"message":`)) {
			t.Errorf("%s: %s, want %d with %q", tt.name, r, tt.status, tt.msg)
		}
	}
	f.mustBeEmpty(t)
}

func TestPhotoWritesRefusedWhenFencedOrStandby(t *testing.T) {
	f := newPhotoFixture(t, tandem.DefaultMaxPhotoBytes)
	r := f.upload(t, pngImage(t, 8, 8), "")
	if r.status != 201 {
		t.Fatal(r)
	}
	id := decodePhoto(t, r).ID
	head, _ := f.store.Position(context.Background())

	f.snap.State = tandem.StateFenced
	want := `{"message":"` + httpapi.FencedPhotoMessage + `"}`
	for _, r := range []photoResponse{f.upload(t, pngImage(t, 8, 8), ""), f.do(t, "DELETE", "/api/photos/"+id, nil, "Authorization", f.bearer("jerome"))} {
		if r.status != 503 || string(bytes.TrimSpace(r.body)) != want || r.header.Get("Retry-After") == "" {
			t.Fatalf("fenced: %s, want 503 %s", r, want)
		}
	}
	f.snap.State, f.snap.Writer = tandem.StateActive, "ap-northeast-1"
	if r := f.upload(t, pngImage(t, 8, 8), ""); r.status != 503 || !bytes.Contains(r.body, []byte("standby")) {
		t.Fatalf("standby: %s", r)
	}
	if r := f.do(t, "GET", "/api/photos/"+id+"/image", nil); r.status != 200 {
		t.Fatalf("reads go on while fenced: %s", r)
	}
	if p, _ := f.store.Position(context.Background()); p.LSN != head.LSN {
		t.Fatalf("refused writes moved the changelog from %d to %d", head.LSN, p.LSN)
	}
}

// TestPendingPhotoNotServed removes a photo's blob, as on a standby that has
// its row but not yet its bytes: listed as pending, not served.
func TestPendingPhotoNotServed(t *testing.T) {
	f := newPhotoFixture(t, tandem.DefaultMaxPhotoBytes)
	p := decodePhoto(t, f.upload(t, pngImage(t, 8, 8), ""))
	if err := f.blobs.Delete(context.Background(), p.SHA256); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "GET", p.Image, nil)
	if r.status != 503 || string(bytes.TrimSpace(r.body)) != `{"message":"photo is still replicating"}` || r.header.Get("Retry-After") == "" {
		t.Fatalf("image of a pending photo: %s %v", r, r.header)
	}
	if r := f.do(t, "GET", "/api/photos/"+p.ID, nil); decodePhoto(t, r).Replication != "pending" {
		t.Fatalf("metadata: %s", r)
	}
	if r := f.do(t, "GET", p.Thumb, nil); r.status != 200 {
		t.Fatalf("the thumbnail is here: %s", r)
	}
}

// TestUploadCutOffLeavesNothing sends part of an upload and hangs up: the
// request fails and nothing of it is visible.
func TestUploadCutOffLeavesNothing(t *testing.T) {
	f := newPhotoFixture(t, tandem.DefaultMaxPhotoBytes)
	data := pngImage(t, 400, 400)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write(data)
	mw.Close()
	for i, req := range []struct{ ctype, body string }{
		{"image/png", string(data)},
		{mw.FormDataContentType(), mp.String()},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/photos HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", f.bearer("jerome"), req.ctype, len(req.body))
		io.WriteString(conn, req.body[:len(req.body)/2])
		conn.Close()
		retry.Until(t, 5*time.Millisecond, 10*time.Second, func() error {
			if n := countRequests(t, f.registry, "POST /api/photos"); n != i+1 {
				return fmt.Errorf("%d uploads finished", n)
			}
			return nil
		})
	}
	f.mustBeEmpty(t)
}

// countRequests returns how many requests to route the API has answered.
func countRequests(t *testing.T, reg *prometheus.Registry, route string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "tandem_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					n += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}

func TestInternalBlobsNeedSecret(t *testing.T) {
	f := newPhotoFixture(t, tandem.DefaultMaxPhotoBytes)
	p := decodePhoto(t, f.upload(t, pngImage(t, 8, 8), ""))
	if r := f.do(t, "GET", replication.BlobPath+p.SHA256, nil); r.status != 401 {
		t.Fatalf("without the secret: %s", r)
	}
	r := f.do(t, "GET", replication.BlobPath+p.SHA256, nil, "Authorization", "Bearer secret")
	if r.status != 200 || blobtest.Hash(r.body) != p.SHA256 {
		t.Fatalf("with the secret: %d, %d bytes", r.status, len(r.body))
	}
}
