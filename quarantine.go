package tandem

import (
	"context"
	"time"
)

// Quarantine statuses.
const (
	QuarantineHeld     = "quarantined"
	QuarantineReplayed = "replayed"
	QuarantineConflict = "conflict"
)

// QuarantinedEntry is a changelog entry a region acknowledged as writer but
// that never reached the writer that replaced it: found when the region
// rejoined, kept whole, and replicated so an operator can see it anywhere.
type QuarantinedEntry struct {
	ID            string    `json:"id"`
	Region        string    `json:"region"`
	Change        Change    `json:"change"`
	QuarantinedAt time.Time `json:"quarantinedAt"`
	Reason        string    `json:"reason"`
	Status        string    `json:"status"`
	ResolvedAt    time.Time `json:"resolvedAt,omitzero"`
	Resolution    string    `json:"resolution,omitempty"`
}

// QuarantineService keeps quarantined entries.
type QuarantineService interface {
	// AddQuarantine records entries a region found divergent. Adding an
	// entry twice records it once. It is a write: only the writer can.
	AddQuarantine(ctx context.Context, region, reason string, changes []Change) error

	// ListQuarantine returns every quarantined entry, oldest first.
	ListQuarantine(ctx context.Context) ([]QuarantinedEntry, error)

	// FindQuarantine returns one entry. Returns ENOTFOUND if there is none.
	FindQuarantine(ctx context.Context, id string) (QuarantinedEntry, error)

	// ReplayQuarantine applies an entry again as a new write if its row has
	// not changed since, and records the outcome. Returns ECONFLICT (and
	// records the conflict) when it has.
	ReplayQuarantine(ctx context.Context, id string) (QuarantinedEntry, error)
}
