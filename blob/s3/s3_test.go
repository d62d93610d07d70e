package s3_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/blobtest"
	"github.com/tandemhq/tandem/blob/s3"
)

// Environment variables naming a real S3-compatible endpoint for
// TestContract_Endpoint. TANDEM_TEST_S3_ENDPOINT may start with https:// to
// use TLS; TANDEM_TEST_S3_REGION is optional.
const (
	envEndpoint  = "TANDEM_TEST_S3_ENDPOINT"
	envBucket    = "TANDEM_TEST_S3_BUCKET"
	envAccessKey = "TANDEM_TEST_S3_ACCESS_KEY"
	envSecretKey = "TANDEM_TEST_S3_SECRET_KEY"
	envRegion    = "TANDEM_TEST_S3_REGION"
)

func TestContract(t *testing.T) {
	endpoint := MustFakeS3(t)
	blobtest.RunContract(t, func(t *testing.T) tandem.BlobStore {
		return MustOpenStore(t, FakeConfig(endpoint, ""))
	})
}

func TestContract_Prefix(t *testing.T) {
	endpoint := MustFakeS3(t)
	blobtest.RunContract(t, func(t *testing.T) tandem.BlobStore {
		return MustOpenStore(t, FakeConfig(endpoint, "photos/"))
	})
}

func TestContract_Endpoint(t *testing.T) {
	cfg, ok := EndpointConfig()
	if !ok {
		t.Skipf("set %s, %s, %s and %s to run against a real S3-compatible endpoint",
			envEndpoint, envBucket, envAccessKey, envSecretKey)
	}
	blobtest.RunContract(t, func(t *testing.T) tandem.BlobStore {
		cfg := cfg
		cfg.Prefix = fmt.Sprintf("tandem-test-%s/", blobtest.Hash(blobtest.RandomBytes(t, 16))[:16])
		s := MustOpenStore(t, cfg)
		t.Cleanup(func() { RemovePrefix(t, cfg) })
		return s
	})
}

func TestStore_List_SkipsForeignKeys(t *testing.T) {
	cfg := FakeConfig(MustFakeS3(t), "photos/")
	s := MustOpenStore(t, cfg)
	info := blobtest.MustPut(t, s, []byte("real"))

	client := MustClient(t, cfg)
	for _, key := range []string{
		"photos/README",
		"photos/" + strings.ToUpper(info.Hash),
		"photos/sub/" + info.Hash,
		blobtest.Hash([]byte("outside the prefix")),
	} {
		if _, err := client.PutObject(t.Context(), cfg.Bucket, key, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	if got := blobtest.MustList(t, s); len(got) != 1 || got[0].Hash != info.Hash {
		t.Fatalf("List = %+v, want only %s", got, info.Hash)
	}
}

func TestStore_Init_Idempotent(t *testing.T) {
	s := MustOpenStore(t, FakeConfig(MustFakeS3(t), ""))
	if err := s.Init(t.Context()); err != nil {
		t.Fatalf("second Init: %v", err)
	}
}

func TestNew_Invalid(t *testing.T) {
	for _, cfg := range []s3.Config{
		{Bucket: "b"},
		{Endpoint: "127.0.0.1:9000"},
	} {
		if _, err := s3.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// MustFakeS3 starts an in-process fake S3 server and returns its host:port.
func MustFakeS3(tb testing.TB) string {
	tb.Helper()
	faker := gofakes3.New(s3mem.New())
	ts := httptest.NewServer(faker.Server())
	tb.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}

var bucketSeq atomic.Int64

// FakeConfig returns a Config for a new bucket on the fake server at
// endpoint.
func FakeConfig(endpoint, prefix string) s3.Config {
	return s3.Config{
		Endpoint:  endpoint,
		Bucket:    fmt.Sprintf("tandem-test-%d", bucketSeq.Add(1)),
		Region:    "us-east-1",
		AccessKey: "test-access-key",
		SecretKey: "test-secret-key",
		Prefix:    prefix,
	}
}

// EndpointConfig returns the Config the TANDEM_TEST_S3_* variables describe,
// and whether they are all set.
func EndpointConfig() (s3.Config, bool) {
	cfg := s3.Config{
		Endpoint:  os.Getenv(envEndpoint),
		Bucket:    os.Getenv(envBucket),
		Region:    os.Getenv(envRegion),
		AccessKey: os.Getenv(envAccessKey),
		SecretKey: os.Getenv(envSecretKey),
	}
	if cfg.Endpoint == "" || cfg.Bucket == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return s3.Config{}, false
	}
	if rest, ok := strings.CutPrefix(cfg.Endpoint, "https://"); ok {
		cfg.Endpoint, cfg.UseSSL = rest, true
	} else {
		cfg.Endpoint = strings.TrimPrefix(cfg.Endpoint, "http://")
	}
	return cfg, true
}

// MustOpenStore returns an initialised Store for cfg.
func MustOpenStore(tb testing.TB, cfg s3.Config) *s3.Store {
	tb.Helper()
	s, err := s3.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.TempDir = tb.TempDir()
	if err := s.Init(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustClient returns a minio client for cfg, to reach the bucket around the
// Store.
func MustClient(tb testing.TB, cfg s3.Config) *minio.Client {
	tb.Helper()
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// RemovePrefix deletes every object under cfg.Prefix.
func RemovePrefix(tb testing.TB, cfg s3.Config) {
	tb.Helper()
	ctx := context.Background() // tb.Context is done by cleanup time
	client := MustClient(tb, cfg)
	for oi := range client.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: cfg.Prefix, Recursive: true}) {
		if oi.Err != nil {
			tb.Errorf("list %s: %v", cfg.Prefix, oi.Err)
			return
		}
		if err := client.RemoveObject(ctx, cfg.Bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil {
			tb.Errorf("remove %s: %v", oi.Key, err)
		}
	}
}
