package photos_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/blob/blobtest"
	"github.com/tandemhq/tandem/internal/retry"
	"github.com/tandemhq/tandem/photos"
	"github.com/tandemhq/tandem/replication"
)

const secret = "test-secret"

// TestPhotosReplicateThroughRestart uploads 500 photos of mixed sizes to a
// writer and replicates them to a standby that is restarted while transfers
// are cut off half-way: every photo arrives with the writer's bytes, and the
// standby serves no photo before it is whole.
func TestPhotosReplicateThroughRestart(t *testing.T) {
	ctx := t.Context()
	w := MustOpenService(t)
	ids := make([]string, 500)
	var uploads sync.WaitGroup
	for u := range 8 { // concurrent uploads
		uploads.Go(func() {
			for i := u; i < len(ids); i += 8 {
				side := 16 + i%49 // most photos are small, a few KiB
				switch {
				case i%100 == 0:
					side = 800 // 2.5 MB
				case i%10 == 0:
					side = 200 // 160 KB
				}
				p, err := w.CreatePhoto(ctx, tandem.PhotoUpload{Data: NoisePNG(t, side, side*3/4, uint64(i))})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = p.ID
			}
		})
	}
	uploads.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The writer's blobs go through a gate that lets 300 transfers through,
	// then sends half of each and holds it.
	g := &gate{allow: 300, open: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/", &replication.Server{Store: w.Store, Secret: secret, HeartbeatInterval: 50 * time.Millisecond})
	mux.Handle(replication.BlobPath, g.wrap(&replication.BlobServer{Blobs: w.Blobs, Secret: secret}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer srv.CloseClientConnections()

	dir := t.TempDir()
	sb := startStandby(t, dir, srv.URL)
	var serving atomic.Pointer[photos.Service]
	serving.Store(sb.svc)
	checkServedWhole(t, ids, &serving)

	retry.Until(t, 10*time.Millisecond, 30*time.Second, func() error {
		if st := sb.fetcher.Status(); st.Fetched < 300 || g.held.Load() == 0 {
			return fmt.Errorf("%d fetched, %d held: %+v", st.Fetched, g.held.Load(), st)
		}
		return nil
	})
	serving.Store(nil)
	sb.stop()
	sb = startStandby(t, dir, srv.URL)
	serving.Store(sb.svc)
	close(g.open)

	retry.Until(t, 20*time.Millisecond, 60*time.Second, func() error {
		page, err := sb.svc.FindPhotos(ctx, tandem.PhotoFilter{Limit: photos.MaxPageSize})
		if err != nil {
			return err
		}
		for _, p := range page.Photos {
			if p.Replication != tandem.PhotoComplete {
				return fmt.Errorf("photo %s is %s (%+v)", p.ID, p.Replication, sb.fetcher.Status())
			}
		}
		if st := sb.fetcher.Status(); st.Pending != 0 {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	for _, id := range ids {
		want, err := w.FindPhotoByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sb.svc.FindPhotoByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("standby has %+v, writer %+v", got, want)
		}
		for _, v := range []tandem.PhotoVariant{tandem.PhotoOriginal, tandem.PhotoThumbnail} {
			if !bytes.Equal(readContent(t, sb.svc, id, v), readContent(t, w, id, v)) {
				t.Fatalf("photo %s %s differs between the regions", id, v)
			}
		}
	}
	if ws, ss := blobtest.MustList(t, w.Blobs), blobtest.MustList(t, sb.svc.Blobs); len(ws) != len(ss) || len(ws) != 1000 {
		t.Fatalf("writer holds %d blobs, standby %d; want 1000", len(ws), len(ss))
	}
}

// standby is a follower region's store, blob store, photo service and
// replication.
type standby struct {
	svc     *photos.Service
	fetcher *replication.BlobFetcher
	stop    func()
}

func startStandby(t *testing.T, dir, writerURL string) *standby {
	st := MustOpenStore(t, dir, false)
	svc := photos.NewService(st)
	svc.Blobs = MustOpenBlobs(t, dir)
	source := func() (string, bool) { return writerURL, true }
	fetcher := &replication.BlobFetcher{
		Blobs: svc.Blobs, Source: source, Secret: secret, Referenced: svc.ReferencedBlobs,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	follower := &replication.Follower{Store: st, Source: source, Secret: secret, HeartbeatInterval: 50 * time.Millisecond, Applied: fetcher.Applied}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { follower.Run(ctx) })
	wg.Go(func() { fetcher.Run(ctx) })
	stop := sync.OnceFunc(func() {
		cancel()
		wg.Wait()
		st.Close()
	})
	t.Cleanup(stop)
	return &standby{svc: svc, fetcher: fetcher, stop: stop}
}

// checkServedWhole reads the photos from the service in serving, over and
// over until the test ends, and fails the test if it ever serves bytes that
// are not the photo's whole bytes.
func checkServedWhole(t *testing.T, ids []string, serving *atomic.Pointer[photos.Service]) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var served atomic.Int64
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			svc := serving.Load()
			if svc == nil {
				runtime.Gosched() // the standby is restarting
				continue
			}
			for _, v := range []tandem.PhotoVariant{tandem.PhotoOriginal, tandem.PhotoThumbnail} {
				c, err := svc.OpenPhoto(ctx, ids[i%len(ids)], v)
				if err != nil {
					continue // not arrived, still replicating, or restarting
				}
				var buf bytes.Buffer
				_, err = buf.ReadFrom(c.Body)
				c.Body.Close()
				if err == nil && blobtest.Hash(buf.Bytes()) != c.SHA256 {
					t.Errorf("photo %s %s served %d bytes that are not its bytes", ids[i%len(ids)], v, buf.Len())
					return
				}
				served.Add(1)
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		t.Logf("%d reads of the standby's photos checked", served.Load())
	})
}

// gate lets allow requests through, then sends the first half of each
// response and holds the rest until open is closed.
type gate struct {
	mu    sync.Mutex
	allow int
	open  chan struct{}
	held  atomic.Int32
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		pass := g.allow > 0
		g.allow--
		g.mu.Unlock()
		select {
		case <-g.open:
			pass = true
		default:
		}
		if pass {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		g.held.Add(1)
		select {
		case <-g.open:
			w.Write(body[len(body)/2:])
		case <-r.Context().Done():
		}
	})
}
