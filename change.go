package tandem

import (
	"encoding/json"
	"time"
)

// Op is the kind of row change a changelog entry records.
type Op string

// The row operations.
const (
	OpInsert Op = "insert"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one changelog entry: one row change of an application table,
// captured by the store in the transaction that made it.
//
// LSNs are gapless and grow by one per entry. Epoch is the writer epoch the
// change was committed in. Key holds the row's primary key columns, Before
// and After the whole row as JSON objects (Before is null for an insert,
// After for a delete).
type Change struct {
	LSN        uint64          `json:"lsn"`
	Epoch      uint64          `json:"epoch"`
	CommitTime time.Time       `json:"time"`
	Table      string          `json:"table"`
	Key        json.RawMessage `json:"key"`
	Op         Op              `json:"op"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// Position is where a store's changelog ends: the head LSN, the commit time
// of the entry at the head, and the epoch the store is in.
type Position struct {
	LSN   uint64    `json:"lsn"`
	Time  time.Time `json:"time"`
	Epoch uint64    `json:"epoch"`
}

// Lag is how far a follower is behind its writer, in entries and in time
// (the head's commit time minus the commit time of the last applied entry).
type Lag struct {
	Entries uint64   `json:"entries"`
	Seconds float64  `json:"seconds"`
	Applied Position `json:"applied"`
	Head    Position `json:"head"`
}

// LagBetween returns the lag of a follower at applied behind a writer at head.
func LagBetween(applied, head Position) Lag {
	l := Lag{Applied: applied, Head: head}
	if head.LSN > applied.LSN {
		l.Entries = head.LSN - applied.LSN
		if d := head.Time.Sub(applied.Time); d > 0 {
			l.Seconds = d.Seconds()
		}
	}
	return l
}
