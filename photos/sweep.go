package photos

import (
	"context"
	"fmt"
	"time"

	"github.com/tandemhq/tandem"
)

// SweepOrphans deletes the blobs that no photo references and that were
// stored more than olderThan ago, and returns how many it deleted. Such
// blobs are left by deleted photos and by uploads that failed after storing
// their bytes.
//
// Each blob is checked again just before it is deleted, while no upload is
// between its Put and its commit, so a blob that an upload reuses (the same
// bytes uploaded again) is never deleted under it. A follower region applies
// rows outside that exclusion; in the rare case that a row referencing a
// blob arrives while the blob is being deleted, the photo shows as pending
// until replication's next scan fetches the blob again.
func (s *Service) SweepOrphans(ctx context.Context, olderThan time.Duration) (int, error) {
	refs, err := s.ReferencedBlobs(ctx)
	if err != nil {
		return 0, err
	}
	referenced := make(map[string]bool, len(refs))
	for _, b := range refs {
		referenced[b.Hash] = true
	}
	cutoff := s.Now().Add(-olderThan)
	var orphans []string
	err = s.Blobs.List(ctx, func(b tandem.BlobInfo) error {
		if !referenced[b.Hash] && b.Modified.Before(cutoff) {
			orphans = append(orphans, b.Hash)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep orphan blobs: %w", err)
	}
	n := 0
	for _, hash := range orphans {
		deleted, err := s.deleteIfOrphan(ctx, hash)
		if err != nil {
			return n, fmt.Errorf("sweep orphan blobs: %w", err)
		}
		if deleted {
			n++
		}
	}
	return n, nil
}

// deleteIfOrphan deletes the blob hash unless a photo references it, with
// uploads held off meanwhile.
func (s *Service) deleteIfOrphan(ctx context.Context, hash string) (bool, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	var used int
	err := s.Store.View(ctx, func(tx tandem.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM photos WHERE blob_sha256 = ? OR thumb_sha256 = ?`, hash, hash).Scan(&used)
	})
	if err != nil || used > 0 {
		return false, err
	}
	s.present.remove(hash)
	if err := s.Blobs.Delete(ctx, hash); err != nil {
		return false, err
	}
	return true, nil
}
