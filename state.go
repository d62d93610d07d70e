package tandem

import (
	"fmt"
	"strings"
	"time"
)

// AppState is the application state of the reference design: it says whether
// the application accepts writes and which region it is run from.
type AppState string

// The application states. Writes are accepted in active and failover, and
// refused everywhere while fenced.
const (
	StateActive   AppState = "active"
	StateFenced   AppState = "fenced"
	StateFailover AppState = "failover"
)

// AppStates lists every valid state, in the order error messages show them.
var AppStates = []AppState{StateActive, StateFenced, StateFailover}

// ParseAppState returns the state named s. Returns EINVALID listing the valid
// states otherwise.
func ParseAppState(s string) (AppState, error) {
	for _, st := range AppStates {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(AppStates))
	for i, st := range AppStates {
		names[i] = string(st)
	}
	return "", Errorf(EINVALID, "invalid state %q: valid states are %s", s, strings.Join(names, ", "))
}

// AllowsWrites reports whether the application accepts writes in this state.
func (s AppState) AllowsWrites() bool { return s == StateActive || s == StateFailover }

// RegionInfo names a region and the base URL its peers and the edge reach it at.
type RegionInfo struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Snapshot is the controller's view of the deployment at one version. Every
// region and the edge act on the newest snapshot they have seen; Version grows
// with every change.
type Snapshot struct {
	Version uint64       `json:"version"`
	AppID   string       `json:"appId"`
	State   AppState     `json:"state"`
	Writer  string       `json:"writer"`
	Epoch   uint64       `json:"epoch"`
	Regions []RegionInfo `json:"regions"`
	// Routing holds the routing controls: a region receives traffic from the
	// edge only while its control is on.
	Routing map[string]bool `json:"routing"`
	Changed time.Time       `json:"changed"`
}

// Region returns the region named name.
func (s Snapshot) Region(name string) (RegionInfo, bool) {
	for _, r := range s.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return RegionInfo{}, false
}

// WriterInfo returns the writer region.
func (s Snapshot) WriterInfo() (RegionInfo, bool) { return s.Region(s.Writer) }

// BlobSource returns the region that region self fetches missing blobs
// from: the writer, or, when self is the writer, the first other region. A
// promoted standby may hold rows whose blobs never reached it; the old
// writer has them, and serves them once it is back.
func (s Snapshot) BlobSource(self string) (RegionInfo, bool) {
	if s.Version == 0 {
		return RegionInfo{}, false
	}
	if s.Writer != self {
		return s.WriterInfo()
	}
	for _, r := range s.Regions {
		if r.Name != self {
			return r, true
		}
	}
	return RegionInfo{}, false
}

// Routes returns the regions the edge sends a request to, in order: every
// region whose routing control is on, the writer first, then the others as
// fallbacks for idempotent reads.
func (s Snapshot) Routes() []RegionInfo {
	var out []RegionInfo
	if w, ok := s.WriterInfo(); ok && s.Routing[w.Name] {
		out = append(out, w)
	}
	for _, r := range s.Regions {
		if r.Name != s.Writer && s.Routing[r.Name] {
			out = append(out, r)
		}
	}
	return out
}

// CheckWrite returns nil when region may accept an application write under
// this snapshot: it is the writer and the state allows writes. Returns EFENCED
// or ENOTWRITER otherwise.
func (s Snapshot) CheckWrite(region string) error {
	if !s.State.AllowsWrites() {
		return Errorf(EFENCED, "the application is fenced: writes are refused until it is active again")
	}
	if s.Writer != region {
		return Errorf(ENOTWRITER, "region %s is a standby; writes go to the writer region %s", region, s.Writer)
	}
	return nil
}

// String is a one-line summary for logs.
func (s Snapshot) String() string {
	return fmt.Sprintf("v%d state=%s writer=%s epoch=%d", s.Version, s.State, s.Writer, s.Epoch)
}
