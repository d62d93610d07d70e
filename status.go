package tandem

import "time"

// RegionStatus is a region's report of itself, served to the controller and
// shown by `tandem status`.
type RegionStatus struct {
	Region   string   `json:"region"`
	Writer   bool     `json:"writer"`
	Epoch    uint64   `json:"epoch"`
	Position Position `json:"position"`
	// SnapshotVersion is the newest control snapshot the region has seen.
	SnapshotVersion uint64       `json:"snapshotVersion"`
	Lease           LeaseStatus  `json:"lease"`
	Replication     FollowStatus `json:"replication"`
	// Durability is how this region acknowledges writes as the writer.
	Durability Durability `json:"durability"`
	Blobs      BlobStatus `json:"blobs"`
	Health     Health     `json:"health"`
	// Checksums of every application table, when asked for.
	Checksums map[string]string `json:"checksums,omitempty"`
}

// Durability is a writer's replication mode and what its follower has
// acknowledged.
type Durability struct {
	Mode          string `json:"mode"`
	FollowerAcked uint64 `json:"followerAcked"`
	// Degraded is true while a sync writer has fallen back to async.
	Degraded bool   `json:"degraded,omitempty"`
	MaxLag   uint64 `json:"maxLag,omitempty"`
}

// LeaseStatus is what a region knows of its writer lease.
type LeaseStatus struct {
	Held      bool   `json:"held"`
	Epoch     uint64 `json:"epoch,omitempty"`
	ExpiresMs int64  `json:"expiresInMs,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

// FollowStatus is what a follower knows of its replication from the writer.
type FollowStatus struct {
	Following  bool      `json:"following"`
	Source     string    `json:"source,omitempty"`
	Connected  bool      `json:"connected"`
	Applied    Position  `json:"applied"`
	Head       Position  `json:"head"`
	Lag        Lag       `json:"lag"`
	LastHeard  time.Time `json:"lastHeard,omitzero"`
	Reconnects int       `json:"reconnects"`
	LastError  string    `json:"lastError,omitempty"`
	Rejoins    int       `json:"rejoins"`
	LastRejoin *Rejoin   `json:"lastRejoin,omitempty"`
}

// Rejoin records a region's return after it diverged: where it forked from
// the writer, how many of its entries went to the quarantine, how long the
// rewind took.
type Rejoin struct {
	At          time.Time `json:"at"`
	ForkLSN     uint64    `json:"forkLsn"`
	Quarantined int       `json:"quarantined"`
	Took        string    `json:"took"`
}

// BlobStatus is what a region knows of the blobs it still has to fetch from
// the writer: the blobs referenced by rows it has but not yet stored and
// verified here.
type BlobStatus struct {
	Pending       int     `json:"pending"`
	PendingBytes  int64   `json:"pendingBytes"`
	OldestSeconds float64 `json:"oldestPendingSeconds"`
	// Fetched and TransferErrors count since the region started.
	Fetched        uint64 `json:"fetched"`
	TransferErrors uint64 `json:"transferErrors"`
	LastError      string `json:"lastError,omitempty"`
}

// Health is the result of a region's deep health check.
type Health struct {
	OK     bool              `json:"ok"`
	Checks map[string]string `json:"checks"` // check name → "ok" or what is wrong
}
