package replication_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/blobtest"
	blobfs "github.com/tandemhq/tandem/blob/fs"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/internal/testproxy"
	"github.com/tandemhq/tandem/replication"
	"github.com/tandemhq/tandem/store/sqlite"
)

// objectMigrations make a table whose rows reference blobs by the naming
// convention of replication.BlobRefs.
var objectMigrations = []tandem.Migration{{Name: "001_objects", SQL: `
CREATE TABLE objects (
	id          TEXT PRIMARY KEY,
	blob_sha256 TEXT NOT NULL,
	blob_size   INTEGER NOT NULL
)`}}

// blobRegion is a region's store and blob store.
type blobRegion struct {
	store *sqlite.Store
	blobs tandem.BlobStore
}

func openBlobRegion(tb testing.TB, dir string, writer bool) *blobRegion {
	tb.Helper()
	st := sqlite.New(filepath.Join(dir, "region.db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(context.Background(), "blobtest", objectMigrations); err != nil {
		tb.Fatal(err)
	}
	if err := st.SetRole(context.Background(), tandem.Role{Writer: writer, Epoch: 1}); err != nil {
		tb.Fatal(err)
	}
	b := blobfs.New(filepath.Join(dir, "blobs"))
	if err := b.Init(); err != nil {
		tb.Fatal(err)
	}
	return &blobRegion{store: st, blobs: b}
}

// put stores data as a blob and a row that references it, as an upload does,
// and returns the blob's hash.
func (r *blobRegion) put(tb testing.TB, id string, data []byte) string {
	tb.Helper()
	ctx := context.Background()
	info, err := r.blobs.Put(ctx, bytes.NewReader(data), "")
	if err != nil {
		tb.Fatal(err)
	}
	err = r.store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO objects (id, blob_sha256, blob_size) VALUES (?, ?, ?)`, id, info.Hash, info.Size)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return info.Hash
}

// referenced lists the blobs the region's rows reference.
func (r *blobRegion) referenced(ctx context.Context) ([]tandem.BlobInfo, error) {
	var out []tandem.BlobInfo
	err := r.store.View(ctx, func(tx tandem.Tx) error {
		rows, err := tx.Query(ctx, `SELECT blob_sha256, blob_size FROM objects`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b tandem.BlobInfo
			if err := rows.Scan(&b.Hash, &b.Size); err != nil {
				return err
			}
			out = append(out, b)
		}
		return rows.Err()
	})
	return out, err
}

// serveWriter serves a writer region's stream and blobs.
func serveWriter(tb testing.TB, r *blobRegion) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", &replication.Server{Store: r.store, Secret: secret})
	mux.Handle(replication.BlobPath, &replication.BlobServer{Blobs: r.blobs, Secret: secret})
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// blobFollower is a follower region's replication: the row stream, and the
// blob fetcher it feeds.
type blobFollower struct {
	follower *replication.Follower
	fetcher  *replication.BlobFetcher
	registry *prometheus.Registry
	stop     func()
}

// followBlobs replicates rows from streamURL and blobs from blobURL into r
// until stop is called; only rows when blobURL is empty.
func followBlobs(tb testing.TB, r *blobRegion, streamURL, blobURL string) *blobFollower {
	tb.Helper()
	reg := prometheus.NewRegistry()
	fetcher := &replication.BlobFetcher{
		Blobs:      r.blobs,
		Source:     func() (string, bool) { return blobURL, true },
		Secret:     secret,
		Referenced: r.referenced,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
		Metrics:    replication.NewBlobMetrics(reg),
	}
	follower := &replication.Follower{
		Store:   r.store,
		Source:  func() (string, bool) { return streamURL, true },
		Secret:  secret,
		Applied: fetcher.Applied,
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if blobURL != "" {
		wg.Go(func() { fetcher.Run(ctx) })
	} else {
		follower.Applied = nil
	}
	wg.Go(func() { follower.Run(ctx) })
	once := sync.OnceFunc(func() { cancel(); wg.Wait() })
	tb.Cleanup(once)
	return &blobFollower{follower: follower, fetcher: fetcher, registry: reg, stop: once}
}

// waitBlobs waits until every hash is in store and nothing is pending.
func waitBlobs(tb testing.TB, f *blobFollower, store tandem.BlobStore, hashes []string) {
	tb.Helper()
	retry.Until(tb, 10*time.Millisecond, 30*time.Second, func() error {
		for _, h := range hashes {
			if _, err := store.Stat(context.Background(), h); err != nil {
				return fmt.Errorf("blob %s: %v (status %+v)", h, err, f.fetcher.Status())
			}
		}
		if st := f.fetcher.Status(); st.Pending != 0 {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}

// watchIntegrity reads every blob store holds, over and over until the
// test ends, and fails the test if any is not whole: a blob store must
// never show a damaged or partial blob.
func watchIntegrity(t *testing.T, store tandem.BlobStore) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			err := store.List(ctx, func(b tandem.BlobInfo) error {
				rc, _, err := store.Open(ctx, b.Hash)
				if err != nil {
					return nil // deleted meanwhile
				}
				defer rc.Close()
				var buf bytes.Buffer
				if _, err := buf.ReadFrom(rc); err != nil {
					return err
				}
				if got := blobtest.Hash(buf.Bytes()); got != b.Hash {
					return fmt.Errorf("blob %s holds bytes that hash to %s", b.Hash, got)
				}
				return nil
			})
			if err != nil && ctx.Err() == nil {
				t.Errorf("integrity: %v", err)
				return
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func putObjects(tb testing.TB, w *blobRegion, n, minSize, maxSize int) []string {
	tb.Helper()
	var hashes []string
	for i := range n {
		size := minSize + i*(maxSize-minSize)/max(1, n-1)
		hashes = append(hashes, w.put(tb, fmt.Sprintf("o%04d", i), blobtest.RandomBytes(tb, size)))
	}
	return hashes
}

func TestBlobsReplicateWithRows(t *testing.T) {
	w := openBlobRegion(t, t.TempDir(), true)
	srv := serveWriter(t, w)
	f := openBlobRegion(t, t.TempDir(), false)
	fol := followBlobs(t, f, srv.URL, srv.URL)
	watchIntegrity(t, f.blobs)

	hashes := putObjects(t, w, 40, 1, 512<<10)
	waitBlobs(t, fol, f.blobs, hashes)
	st := fol.fetcher.Status()
	if st.Fetched != 40 || st.TransferErrors != 0 || st.PendingBytes != 0 {
		t.Fatalf("status %+v, want 40 fetched and no errors", st)
	}
	if got := metricValue(t, fol.registry, "tandem_blob_fetched_total"); got != 40 {
		t.Fatalf("fetched_total = %v", got)
	}
	if n := histogramCount(t, fol.registry, "tandem_blob_replication_seconds"); n != 40 {
		t.Fatalf("replication latency has %d observations, want 40", n)
	}

	// A deleted row's blob stays (the orphan sweep removes it); the same
	// bytes under another row are not fetched again.
	ctx := context.Background()
	err := w.store.Update(ctx, func(tx tandem.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM objects WHERE id = 'o0000'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO objects (id, blob_sha256, blob_size) SELECT 'copy', blob_sha256, blob_size FROM objects WHERE id = 'o0001'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, w.store, f.store)
	if st := fol.fetcher.Status(); st.Fetched != 40 || st.Pending != 0 {
		t.Fatalf("after delete and copy: %+v", st)
	}
}

// TestCorruptTransfersDetected puts a proxy that flips a byte between the
// standby and the writer's blobs: every damaged transfer is detected and
// retried, and no damaged blob is ever stored.
func TestCorruptTransfersDetected(t *testing.T) {
	testDamagedTransfers(t, func(p *testproxy.Proxy) { p.Corrupt(6, 4096) }, replication.ReasonCorrupt)
}

// TestTruncatedTransfersDetected cuts transfers short.
func TestTruncatedTransfersDetected(t *testing.T) {
	testDamagedTransfers(t, func(p *testproxy.Proxy) { p.Truncate(6, 4096) }, replication.ReasonTruncated)
}

func testDamagedTransfers(t *testing.T, damage func(*testproxy.Proxy), reason string) {
	w := openBlobRegion(t, t.TempDir(), true)
	srv := serveWriter(t, w)
	proxy := testproxy.New(t, strings.TrimPrefix(srv.URL, "http://"))
	damage(proxy)
	f := openBlobRegion(t, t.TempDir(), false)
	watchIntegrity(t, f.blobs)
	hashes := putObjects(t, w, 30, 64<<10, 256<<10)
	fol := followBlobs(t, f, srv.URL, proxy.URL())
	waitBlobs(t, fol, f.blobs, hashes)

	damaged := proxy.Damaged()
	t.Logf("%d transfers damaged; status %+v", damaged, fol.fetcher.Status())
	if damaged == 0 {
		t.Fatal("the proxy damaged no transfer")
	}
	failed := metricValue(t, fol.registry, "tandem_blob_transfer_errors_total", reason)
	if int(failed) < damaged {
		t.Fatalf("%d transfers damaged, %v counted as %s", damaged, failed, reason)
	}
	if st := fol.fetcher.Status(); int(st.TransferErrors) < damaged || st.LastError == "" {
		t.Fatalf("status %+v after %d damaged transfers", st, damaged)
	}
	for _, h := range hashes {
		if got := blobtest.Hash(blobtest.MustRead(t, f.blobs, h)); got != h {
			t.Fatalf("blob %s holds %s", h, got)
		}
	}
}

// TestMissingBlobsFoundByScan starts the fetcher after the rows arrived, as
// after a restart: its scan finds the missing blobs. A pending blob whose
// row is deleted is forgotten by the next scan.
func TestMissingBlobsFoundByScan(t *testing.T) {
	w := openBlobRegion(t, t.TempDir(), true)
	srv := serveWriter(t, w)
	f := openBlobRegion(t, t.TempDir(), false)
	hashes := putObjects(t, w, 10, 1000, 2000)
	rows := followBlobs(t, f, srv.URL, "")
	waitCaughtUp(t, w.store, f.store)
	rows.stop()

	fol := followBlobs(t, f, srv.URL, srv.URL)
	waitBlobs(t, fol, f.blobs, hashes)

	// A row whose blob the writer does not have: pending, retried.
	lost := blobtest.Hash([]byte("lost"))
	ctx := context.Background()
	err := w.store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO objects (id, blob_sha256, blob_size) VALUES ('lost', ?, 4)`, lost)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		if n := metricValue(t, fol.registry, "tandem_blob_transfer_errors_total", replication.ReasonNotFound); n < 2 {
			return fmt.Errorf("%v not_found errors", n)
		}
		if st := fol.fetcher.Status(); st.Pending != 1 || st.PendingBytes != 4 {
			return fmt.Errorf("status %+v, want the lost blob pending", st)
		}
		return nil
	})
	err = w.store.Update(ctx, func(tx tandem.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM objects WHERE id = 'lost'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, w.store, f.store)
	if err := fol.fetcher.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if st := fol.fetcher.Status(); st.Pending != 0 {
		t.Fatalf("after its row was deleted: %+v, want nothing pending", st)
	}
}

func TestBlobServer(t *testing.T) {
	w := openBlobRegion(t, t.TempDir(), true)
	srv := serveWriter(t, w)
	data := []byte("0123456789")
	info := blobtest.MustPut(t, w.blobs, data)
	for _, tt := range []struct {
		name, auth, hash, rng string
		status                int
		body                  string
	}{
		{"no secret", "", info.Hash, "", 401, ""},
		{"wrong secret", "Bearer nope", info.Hash, "", 401, ""},
		{"blob", "Bearer " + secret, info.Hash, "", 200, string(data)},
		{"range", "Bearer " + secret, info.Hash, "bytes=3-5", 206, "345"},
		{"absent", "Bearer " + secret, blobtest.Hash([]byte("x")), "", 404, ""},
		{"bad hash", "Bearer " + secret, "ABC", "", 400, ""},
	} {
		req, _ := http.NewRequest("GET", srv.URL+replication.BlobPath+tt.hash, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		if tt.rng != "" {
			req.Header.Set("Range", tt.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.body != "" && body.String() != tt.body) {
			t.Errorf("%s: %d %q, want %d %q", tt.name, resp.StatusCode, body.String(), tt.status, tt.body)
		}
	}
}

func TestBlobRefs(t *testing.T) {
	h1, h2 := blobtest.Hash([]byte("1")), blobtest.Hash([]byte("2"))
	for _, tt := range []struct {
		name string
		row  string
		want map[string]int64
	}{
		{"none", `{"id":"a","name":"b"}`, nil},
		{"with size", `{"blob_sha256":"` + h1 + `","blob_size":12}`, map[string]int64{h1: 12}},
		{"two", `{"blob_sha256":"` + h1 + `","blob_size":12,"thumb_sha256":"` + h2 + `","thumb_size":3}`, map[string]int64{h1: 12, h2: 3}},
		{"no size column", `{"sha256":"` + h1 + `"}`, map[string]int64{h1: 0}},
		{"not a hash", `{"blob_sha256":"abc","x_sha256":"` + strings.ToUpper(h1) + `"}`, nil},
		{"null", `{"blob_sha256":null}`, nil},
		{"number", `{"blob_sha256":12}`, nil},
		{"not an object", `[1,2]`, nil},
		{"empty", ``, nil},
	} {
		got := map[string]int64{}
		for _, b := range replication.BlobRefs([]byte(tt.row)) {
			got[b.Hash] = b.Size
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for h, size := range tt.want {
			if s, ok := got[h]; !ok || s != size {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
	}
}

// metricValue returns the value of the counter or gauge name in reg, the
// one labelled label when given.
func metricValue(tb testing.TB, reg *prometheus.Registry, name string, label ...string) float64 {
	tb.Helper()
	for _, m := range gather(tb, reg, name) {
		if len(label) == 0 || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label[0]) {
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	tb.Fatalf("no metric %s%v", name, label)
	return 0
}

func histogramCount(tb testing.TB, reg *prometheus.Registry, name string) uint64 {
	tb.Helper()
	return gather(tb, reg, name)[0].GetHistogram().GetSampleCount()
}

func gather(tb testing.TB, reg *prometheus.Registry, name string) []*dto.Metric {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	tb.Fatalf("no metric %s", name)
	return nil
}
