package main

import (
	"fmt"

	"github.com/tandemhq/tandem"
)

// blobSummary is the BLOBS column of `tandem status`: the blobs a region
// still has to fetch, their size and the age of the oldest, and the failed
// transfers since it started.
func blobSummary(b tandem.BlobStatus) string {
	s := "0 pending"
	if b.Pending > 0 {
		s = fmt.Sprintf("%d pending (%.1f MiB, oldest %.1fs)", b.Pending, float64(b.PendingBytes)/(1<<20), b.OldestSeconds)
	}
	if b.TransferErrors > 0 {
		s += fmt.Sprintf(", %d errors", b.TransferErrors)
	}
	return s
}
