package tandem_test

import (
	"testing"

	"github.com/tandemhq/tandem"
)

func TestSnapshotBlobSource(t *testing.T) {
	regions := []tandem.RegionInfo{{Name: "a", URL: "http://a"}, {Name: "b", URL: "http://b"}, {Name: "c", URL: "http://c"}}
	for _, tt := range []struct {
		name   string
		snap   tandem.Snapshot
		self   string
		want   string
		wantOK bool
	}{
		{"standby fetches from the writer", tandem.Snapshot{Version: 1, Writer: "a", Regions: regions}, "b", "http://a", true},
		{"writer fetches from a peer", tandem.Snapshot{Version: 1, Writer: "a", Regions: regions}, "a", "http://b", true},
		{"no writer: nowhere", tandem.Snapshot{Version: 1, Regions: regions}, "b", "", false},
		{"alone: nowhere", tandem.Snapshot{Version: 1, Writer: "a", Regions: regions[:1]}, "a", "", false},
		{"no snapshot yet: nowhere", tandem.Snapshot{Writer: "a", Regions: regions}, "b", "", false},
	} {
		got, ok := tt.snap.BlobSource(tt.self)
		if got.URL != tt.want || ok != tt.wantOK {
			t.Errorf("%s: got %q %v, want %q %v", tt.name, got.URL, ok, tt.want, tt.wantOK)
		}
	}
}
