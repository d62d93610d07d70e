package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tandemhq/tandem/blob/blobtest"
)

func TestBlobsConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  BlobsConfig
		err  string
	}{
		{"default", BlobsConfig{}, ""},
		{"fs", BlobsConfig{Type: "fs", Dir: "/srv/blobs"}, ""},
		{"s3", BlobsConfig{Type: "s3", S3: S3Config{Endpoint: "s3.example:9000", Bucket: "photos"}}, ""},
		{"s3 without bucket", BlobsConfig{Type: "s3", S3: S3Config{Endpoint: "s3.example:9000"}}, "bucket"},
		{"unknown type", BlobsConfig{Type: "ftp"}, "fs or s3"},
		{"negative", BlobsConfig{MaxPhotoBytes: -1}, "negative"},
	} {
		err := tt.cfg.validate()
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
}

func TestOpenBlobStore(t *testing.T) {
	dir := t.TempDir()
	g := &Region{Config: RegionConfig{DataDir: dir}}
	fs, err := g.openBlobStore()
	if err != nil {
		t.Fatal(err)
	}
	info := blobtest.MustPut(t, fs, []byte("photo"))
	if _, err := os.Stat(filepath.Join(dir, "blobs", info.Hash[:2], info.Hash[2:4], info.Hash)); err != nil {
		t.Fatalf("fs blob store is not in data_dir/blobs: %v", err)
	}

	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer fake.Close()
	t.Setenv("TANDEM_S3_SECRET_KEY", "secret-key")
	g.Config.Blobs = BlobsConfig{Type: "s3", S3: S3Config{
		Endpoint: strings.TrimPrefix(fake.URL, "http://"), Bucket: "photos", AccessKey: "key", Prefix: "p/",
	}}
	s3, err := g.openBlobStore()
	if err != nil {
		t.Fatal(err)
	}
	info = blobtest.MustPut(t, s3, []byte("photo"))
	if got := blobtest.MustRead(t, s3, info.Hash); string(got) != "photo" {
		t.Fatalf("s3 blob store read %q", got)
	}
}
