package replication

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// quarantineChunk bounds how many divergent entries one request carries.
const quarantineChunk = 1000

// catchUpPoint returns the LSN and epoch to stream from, first rejoining if
// the local changelog diverged from src's: entries past the fork point are
// sent to the writer's quarantine, then undone here.
func (f *Follower) catchUpPoint(ctx context.Context, src string) (tandem.Position, error) {
	pos, err := f.Store.Position(ctx)
	if err != nil {
		return pos, fmt.Errorf("read applied position: %w", err)
	}
	var remote HistoryResponse
	if err := f.call(ctx, http.MethodGet, src, HistoryPath, nil, &remote); err != nil {
		return pos, fmt.Errorf("read %s's history: %w", src, err)
	}
	local, err := f.Store.History(ctx)
	if err != nil {
		return pos, err
	}
	if fork := tandem.ForkLSN(local, pos.LSN, remote.History, remote.Head.LSN); fork < pos.LSN {
		if err := f.rejoin(ctx, src, pos, fork); err != nil {
			return pos, err
		}
		if pos, err = f.Store.Position(ctx); err != nil {
			return pos, err
		}
		local, _ = f.Store.History(ctx)
	}
	pos.Epoch = 0
	for _, e := range local {
		if e.LSN <= pos.LSN {
			pos.Epoch = e.Epoch
		}
	}
	return pos, nil
}

// rejoin quarantines the entries after fork at the writer src, then rewinds
// the store to fork. If the rewind fails it resyncs the store from scratch,
// and says so loudly.
func (f *Follower) rejoin(ctx context.Context, src string, pos tandem.Position, fork uint64) error {
	log := f.logger()
	divergent, err := f.Store.ReadChanges(ctx, fork, 1<<31)
	if err != nil {
		return fmt.Errorf("rejoin: read divergent entries: %w", err)
	}
	log.Warn("this region holds writes the writer never had; rejoining", "fork_lsn", fork, "head_lsn", pos.LSN, "divergent", len(divergent), "writer", src)
	reason := fmt.Sprintf("acknowledged by %s as writer but never replicated: the writer at %s took over at LSN %d", f.Region, src, fork)
	for start := 0; start < len(divergent); start += quarantineChunk {
		chunk := divergent[start:min(start+quarantineChunk, len(divergent))]
		req := QuarantineRequest{Region: f.Region, Reason: reason, Entries: chunk}
		if err := f.call(ctx, http.MethodPost, src, QuarantinePath, req, nil); err != nil {
			return fmt.Errorf("rejoin: quarantine %d divergent entries at the writer: %w", len(divergent), err)
		}
	}
	started := time.Now()
	if _, err := f.Store.Rewind(ctx, fork); err != nil {
		log.Error("REWIND IMPOSSIBLE: resyncing this region's store from the writer; its divergent entries are in the quarantine", "err", err, "fork_lsn", fork)
		if err := f.Store.Resync(ctx); err != nil {
			return fmt.Errorf("rejoin: resync after a failed rewind: %w", err)
		}
	}
	f.Metrics.rejoined(len(divergent))
	f.update(func(s *tandem.FollowStatus) {
		s.Rejoins++
		s.LastRejoin = &tandem.Rejoin{At: time.Now().UTC(), ForkLSN: fork, Quarantined: len(divergent), Took: time.Since(started).String()}
	})
	log.Warn("rejoined: divergent entries quarantined and undone", "fork_lsn", fork, "quarantined", len(divergent), "took", time.Since(started))
	return nil
}

// call sends a JSON request to a peer's internal endpoint with the cluster
// secret and decodes the JSON answer into out, if given.
func (f *Follower) call(ctx context.Context, method, base, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return httpjson.Call(ctx, f.client(), method, strings.TrimRight(base, "/")+path, f.Secret, in, out)
}
