package replication_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
)

// BenchmarkBlobReplication measures object replication between two
// in-process regions over loopback HTTP, each with its own SQLite store and
// filesystem blob store (fsync on): b.N objects are uploaded to the writer
// (blob, then the row that references it) at a steady rate, and each one's
// latency runs from its row's commit on the writer to its blob verified and
// stored on the standby. It reports the p50 and p99 latency and the
// throughput in MB/s (bytes replicated over the time from the first commit
// to the last blob verified); "max" uploads as fast as it can.
//
//	go test -run '^$' -bench BlobReplication -benchtime 200x ./replication/
func BenchmarkBlobReplication(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
		rate float64 // uploads per second; 0: as fast as possible
	}{
		{"100KiB/rate=50", 100 << 10, 50},
		{"5MiB/rate=4", 5 << 20, 4},
		{"100KiB/max", 100 << 10, 0},
		{"5MiB/max", 5 << 20, 0},
	} {
		b.Run(bc.name, func(b *testing.B) { benchBlobReplication(b, bc.size, bc.rate) })
	}
}

func benchBlobReplication(b *testing.B, size int, rate float64) {
	w := openBlobRegion(b, b.TempDir(), true)
	srv := serveWriter(b, w)
	f := openBlobRegion(b, b.TempDir(), false)
	stored := &timedBlobs{BlobStore: f.blobs, at: map[string]time.Time{}}
	f.blobs = stored
	followBlobs(b, f, srv.URL, srv.URL)

	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	committed := make(map[string]time.Time, b.N)
	var hashes []string
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d) // the steady upload rate, not a wait for a condition
			}
		}
		binary.LittleEndian.PutUint64(data, uint64(i)) // every object distinct
		h := w.put(b, fmt.Sprintf("o%06d", i), data)
		committed[h] = time.Now()
		hashes = append(hashes, h)
	}
	retry.Until(b, time.Millisecond, 5*time.Minute, func() error {
		if n := stored.count(); n < b.N {
			return fmt.Errorf("%d of %d objects replicated", n, b.N)
		}
		return nil
	})
	b.StopTimer()

	latencies := make([]time.Duration, 0, b.N)
	var last time.Time
	for _, h := range hashes {
		at := stored.get(h)
		latencies = append(latencies, at.Sub(committed[h]))
		if at.After(last) {
			last = at
		}
	}
	slices.Sort(latencies)
	quantile := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(quantile(.5), "p50-ms")
	b.ReportMetric(quantile(.99), "p99-ms")
	b.ReportMetric(float64(b.N*size)/1e6/last.Sub(committed[hashes[0]]).Seconds(), "MB/s")
	b.ReportMetric(0, "ns/op") // a steady rate makes time per object meaningless
}

// timedBlobs records when each blob was stored.
type timedBlobs struct {
	tandem.BlobStore
	mu sync.Mutex
	at map[string]time.Time
}

func (s *timedBlobs) Put(ctx context.Context, r io.Reader, want string) (tandem.BlobInfo, error) {
	info, err := s.BlobStore.Put(ctx, r, want)
	if err == nil {
		s.mu.Lock()
		if _, ok := s.at[info.Hash]; !ok {
			s.at[info.Hash] = time.Now()
		}
		s.mu.Unlock()
	}
	return info, err
}

func (s *timedBlobs) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

func (s *timedBlobs) get(hash string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at[hash]
}
