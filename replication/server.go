package replication

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
)

// Paths of the replication endpoints every region serves.
const (
	StreamPath     = "/internal/v1/stream"
	HistoryPath    = "/internal/v1/history"
	QuarantinePath = "/internal/v1/quarantine"
)

// HistoryResponse is a region's epoch history and changelog head, which a
// follower compares with its own to find where they diverged.
type HistoryResponse struct {
	History []tandem.EpochStart `json:"history"`
	Head    tandem.Position     `json:"head"`
}

// QuarantineRequest carries divergent entries to the writer.
type QuarantineRequest struct {
	Region  string          `json:"region"`
	Reason  string          `json:"reason"`
	Entries []tandem.Change `json:"entries"`
}

// DefaultBatchSize is how many entries one frame carries at most.
const DefaultBatchSize = 512

// Server serves a store's changelog to followers at StreamPath, its history
// at HistoryPath, and takes divergent entries into the quarantine at
// QuarantinePath.
type Server struct {
	Store      tandem.Store
	Quarantine tandem.QuarantineService
	// Acks, if set, records what followers say they have applied.
	Acks              *Acks
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
	switch r.URL.Path {
	case HistoryPath:
		s.serveHistory(w, r)
		return
	case QuarantinePath:
		s.serveQuarantine(w, r)
		return
	case AckPath:
		s.serveAck(w, r)
		return
	}
	q := r.URL.Query()
	from, err := strconv.ParseUint(q.Get("from"), 10, 64)
	if err != nil {
		http.Error(w, "from must be an LSN (a non-negative integer)", http.StatusBadRequest)
		return
	}
	var epoch uint64
	if e := q.Get("epoch"); e != "" {
		if epoch, err = strconv.ParseUint(e, 10, 64); err != nil {
			http.Error(w, "epoch must be a non-negative integer", http.StatusBadRequest)
			return
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-tandem-stream")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	err = s.stream(r.Context(), bw, flusher, from, epoch)
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
func (s *Server) stream(ctx context.Context, bw *bufio.Writer, flusher http.Flusher, from, epoch uint64) error {
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
	if err := s.checkSameEntry(ctx, from, epoch); err != nil {
		f, _ := EncodeFrame(FrameError, StreamError{Message: err.Error(), Hint: "the follower diverged from this region; it must rejoin (rewind to the fork point) before it can follow"})
		send(f)
		return err
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

// checkSameEntry returns an error unless this region's entry at from has the
// follower's epoch there: the two changelogs then agree up to from. A
// follower that does not say its epoch (epoch 0) is not checked.
func (s *Server) checkSameEntry(ctx context.Context, from, epoch uint64) error {
	if from == 0 || epoch == 0 {
		return nil
	}
	cs, err := s.Store.ReadChanges(ctx, from-1, 1)
	if err != nil {
		return err
	}
	if len(cs) == 0 || cs[0].LSN != from {
		return nil // past the head: the heartbeat reports it
	}
	if cs[0].Epoch != epoch {
		return fmt.Errorf("entry %d is of epoch %d here and of epoch %d at the follower", from, cs[0].Epoch, epoch)
	}
	return nil
}

// AckRequest is a follower's acknowledgement.
type AckRequest struct {
	LSN uint64 `json:"lsn"`
}

func (s *Server) serveAck(w http.ResponseWriter, r *http.Request) {
	var req AckRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
		http.Error(w, "body must be {\"lsn\": N}", http.StatusBadRequest)
		return
	}
	if s.Acks != nil {
		s.Acks.Record(req.LSN)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) {
	h, err := s.Store.History(r.Context())
	if err != nil {
		http.Error(w, "read history", http.StatusInternalServerError)
		return
	}
	pos, err := s.Store.Position(r.Context())
	if err != nil {
		http.Error(w, "read position", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(HistoryResponse{History: h, Head: pos})
}

// serveQuarantine records a rejoining region's divergent entries. The
// request is small JSON from a peer; entries are bounded by MaxFramePayload.
func (s *Server) serveQuarantine(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || s.Quarantine == nil {
		http.Error(w, "POST divergent entries here", http.StatusMethodNotAllowed)
		return
	}
	var req QuarantineRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxFramePayload)).Decode(&req); err != nil || req.Region == "" {
		http.Error(w, "body must be a JSON quarantine request", http.StatusBadRequest)
		return
	}
	if err := s.Quarantine.AddQuarantine(InternalWrite(r.Context()), req.Region, req.Reason, req.Entries); err != nil {
		http.Error(w, tandem.ErrorMessage(err), tandem.ErrorStatus(err))
		return
	}
	s.logger().Warn("quarantined divergent entries of a rejoining region", "from_region", req.Region, "entries", len(req.Entries))
	w.WriteHeader(http.StatusNoContent)
}

type internalWriteKey struct{}

// InternalWrite marks a write tandem makes for itself, such as recording a
// rejoining region's divergent entries: synchronous replication does not
// wait for the follower on it, since the follower may be the region whose
// rejoin waits for this very write.
func InternalWrite(ctx context.Context) context.Context {
	return context.WithValue(ctx, internalWriteKey{}, true)
}

// IsInternalWrite reports whether ctx carries InternalWrite's mark.
func IsInternalWrite(ctx context.Context) bool {
	v, _ := ctx.Value(internalWriteKey{}).(bool)
	return v
}
