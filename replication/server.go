package replication

import (
	"bufio"
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
)

// StreamPath is where a region serves its changelog.
const StreamPath = "/internal/v1/stream"

// DefaultBatchSize is how many entries one frame carries at most.
const DefaultBatchSize = 512

// Server serves a store's changelog to followers at StreamPath.
type Server struct {
	Store             tandem.Store
	Secret            string // the cluster secret followers present
	Logger            *slog.Logger
	HeartbeatInterval time.Duration
	BatchSize         int
}

// Authorized reports whether r carries the cluster secret as a bearer token.
// The comparison takes the same time whatever the token.
func Authorized(r *http.Request, secret string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && secret != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !Authorized(r, s.Secret) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tandem-internal"`)
		http.Error(w, "the cluster secret is required", http.StatusUnauthorized)
		return
	}
	from, err := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	if err != nil {
		http.Error(w, "from must be an LSN (a non-negative integer)", http.StatusBadRequest)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-tandem-stream")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	err = s.stream(r.Context(), bw, flusher, from)
	if err != nil && r.Context().Err() == nil {
		s.logger().Warn("replication stream ended", "from", from, "remote", r.RemoteAddr, "err", err)
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// stream sends entries after from, and heartbeats, until ctx ends.
func (s *Server) stream(ctx context.Context, bw *bufio.Writer, flusher http.Flusher, from uint64) error {
	interval := s.HeartbeatInterval
	if interval <= 0 {
		interval = tandem.DefaultHeartbeatInterval
	}
	batch := s.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	send := func(f Frame) error {
		if err := WriteFrame(bw, f); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	heartbeat := func() error {
		pos, err := s.Store.Position(ctx)
		if err != nil {
			return err
		}
		if from > pos.LSN {
			f, _ := EncodeFrame(FrameError, StreamError{
				Message: fmt.Sprintf("follower is at LSN %d, past this region's head %d", from, pos.LSN),
				Hint:    "the follower holds writes this region never had; it must rejoin (rewind to the fork point) before it can follow",
			})
			send(f)
			return fmt.Errorf("follower ahead of head: %d > %d", from, pos.LSN)
		}
		f, _ := EncodeFrame(FrameHeartbeat, Heartbeat{Head: pos})
		return send(f)
	}
	if err := heartbeat(); err != nil {
		return err
	}
	lastBeat := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		changed := s.Store.Changed()
		cs, err := s.Store.ReadChanges(ctx, from, batch)
		if err != nil {
			return err
		}
		if len(cs) > 0 {
			f, err := EncodeFrame(FrameEntries, cs)
			if err != nil {
				return err
			}
			if err := WriteFrame(bw, f); err != nil {
				return err
			}
			from = cs[len(cs)-1].LSN
			if len(cs) == batch && bw.Buffered() < 32<<10 && time.Since(lastBeat) < interval {
				continue // more to send: fill the buffer before flushing
			}
			if err := heartbeat(); err != nil {
				return err
			}
			lastBeat = time.Now()
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-ticker.C:
			if err := heartbeat(); err != nil {
				return err
			}
			lastBeat = time.Now()
		}
	}
}
