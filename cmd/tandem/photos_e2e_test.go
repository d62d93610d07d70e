package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/blobtest"
	"github.com/tandemhq/tandem/internal/phototest"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestUpPhotos is the reference photo flow on `tandem up`: a photo uploaded
// through the edge is listed and downloaded from the standby directly once
// its bytes have replicated, and commenting on it works as before. Photos
// uploaded while the standby is killed reach it when up has restarted it.
func TestUpPhotos(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base)
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	standby := fmt.Sprintf("http://127.0.0.1:%d", base+2)

	creds, err := readAdminCredentials(filepath.Join(dir, adminCredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	token := signInThroughChallenge(t, edge, creds, "Up-Photos-Pass-1")

	data := phototest.NoisePNG(t, 300, 200, 1)
	if r := uploadPhoto(t, edge, data, ""); r.status != 401 {
		t.Fatalf("upload without a token: %+v", r)
	}
	r := uploadPhoto(t, edge, data, token)
	if r.status != 201 || r.region != tandem.DefaultWriterRegion {
		t.Fatalf("upload through the edge: %+v", r)
	}
	var p tandem.Photo
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.Owner != creds.Username || p.SHA256 != blobtest.Hash(data) {
		t.Fatalf("upload answered %s (%v)", r.body, err)
	}
	if r := uploadPhoto(t, standby, data, token); r.status != 503 || !strings.Contains(r.body, "standby") {
		t.Fatalf("upload at the standby: %+v", r)
	}

	waitPhotoComplete(t, standby, p.ID)
	got := download(t, standby+"/api/photos/"+p.ID+"/image")
	if !bytes.Equal(got.body, data) || got.header.Get("ETag") != `"`+p.SHA256+`"` || got.region != tandem.DefaultStandbyRegion {
		t.Fatalf("image from the standby: %d bytes, headers %v, region %s", len(got.body), got.header, got.region)
	}
	if thumb := download(t, standby+"/api/photos/"+p.ID+"/thumb"); thumb.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail from the standby: %v", thumb.header)
	}
	if r := call(t, "GET", standby+"/api/photos", ""); r.status != 200 || !strings.Contains(r.body, p.ID) {
		t.Fatalf("list at the standby: %+v", r)
	}

	// Comments on the photo, as before: signed in, through the edge.
	comment := fmt.Sprintf(`{"commentId":"c1","photoId":%q,"message":"nice"}`, p.ID)
	if r := callWith(t, "POST", edge+"/api/comments/"+p.ID, comment, "Authorization", "Bearer "+token); r.status != 201 {
		t.Fatalf("comment on the photo: %+v", r)
	}
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		if r := call(t, "GET", standby+"/api/comments/"+p.ID, ""); !strings.Contains(r.body, `"commentId":"c1"`) {
			return fmt.Errorf("comments at the standby: %+v", r)
		}
		return nil
	})

	// kill -9 the standby and upload meanwhile: up restarts it and it
	// fetches the photos it missed.
	killed := readPID(t, dir, tandem.DefaultStandbyRegion)
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var missed []tandem.Photo
	for i := range 3 {
		img := phototest.NoisePNG(t, 100+i, 100, uint64(2+i))
		r := uploadPhoto(t, edge, img, token)
		var q tandem.Photo
		if r.status != 201 || json.Unmarshal([]byte(r.body), &q) != nil {
			t.Fatalf("upload while the standby is down: %+v", r)
		}
		missed = append(missed, q)
	}
	for _, q := range missed {
		waitPhotoComplete(t, standby, q.ID)
		if got := download(t, standby+"/api/photos/"+q.ID+"/image"); blobtest.Hash(got.body) != q.SHA256 {
			t.Fatalf("photo %s at the restarted standby differs", q.ID)
		}
	}
	if pid := readPID(t, dir, tandem.DefaultStandbyRegion); pid == killed {
		t.Fatal("the standby answered but was never restarted")
	}
	if out := cli(t, "status", "--dir", dir); !strings.Contains(out, "BLOBS") || !strings.Contains(out, "0 pending") {
		t.Fatalf("status output:\n%s", out)
	}
}

// waitPhotoComplete waits until the photo's bytes are at base.
func waitPhotoComplete(t *testing.T, base, id string) {
	t.Helper()
	retry.Until(t, 20*time.Millisecond, 30*time.Second, func() error {
		r := call(t, "GET", base+"/api/photos/"+id, "")
		if r.status != 200 || !strings.Contains(r.body, `"replication":"complete"`) {
			return fmt.Errorf("photo %s at %s: %+v", id, base, r)
		}
		return nil
	})
}

// uploadPhoto posts data to base as the multipart field "file", as a form
// with a file input does, with the access token when there is one.
func uploadPhoto(t *testing.T, base string, data []byte, token string) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write(data)
	mw.Close()
	headers := []string{"Content-Type", mw.FormDataContentType()}
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return callWith(t, "POST", base+"/api/photos", body.String(), headers...)
}

type downloaded struct {
	body   []byte
	header http.Header
	region string
}

// download GETs url, which must answer 200.
func download(t *testing.T, url string) downloaded {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, b, err)
	}
	return downloaded{b, resp.Header, resp.Header.Get("X-Tandem-Region")}
}
