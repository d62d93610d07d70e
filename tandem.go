// Package tandem runs one web application in two regions, active/passive, and
// moves it between them in seconds without losing data.
//
// The root package holds the domain: the application state, the control
// snapshot every component acts on, changelog entries, the store and blob
// interfaces and the error codes. Subpackages implement it (store/sqlite,
// replication, control, edge, httpapi) and cmd/tandem wires them together.
package tandem

import "time"

// Default region names, as in the reference demo.
const (
	DefaultWriterRegion  = "us-east-1"
	DefaultStandbyRegion = "ap-northeast-1"
)

// Defaults shared by several components.
const (
	// DefaultLeaseTTL is how long a writer lease lasts once granted. The writer
	// renews it every DefaultLeaseTTL/3 and stops accepting writes
	// DefaultLeaseSafety before it runs out, so that it has stepped down before
	// the controller could grant the lease to another region. A failover
	// waits out the dead writer's lease, so the TTL bounds its RTO; a shorter
	// one makes the writer stop sooner when it cannot reach the controller
	// (after about 0.8 s without a renewal at 2 s, 1.5 s at 3 s).
	DefaultLeaseTTL    = 2 * time.Second
	DefaultLeaseSafety = 500 * time.Millisecond

	// DefaultHeartbeatInterval is how often an idle replication stream carries
	// a heartbeat.
	DefaultHeartbeatInterval = 250 * time.Millisecond
)
