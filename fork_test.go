package tandem_test

import (
	"testing"

	"github.com/tandemhq/tandem"
)

func TestForkLSN(t *testing.T) {
	h := func(pairs ...uint64) []tandem.EpochStart {
		var out []tandem.EpochStart
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, tandem.EpochStart{Epoch: pairs[i], LSN: pairs[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name             string
		local            []tandem.EpochStart
		localHead        uint64
		remote           []tandem.EpochStart
		remoteHead, want uint64
	}{
		{"both empty", nil, 0, nil, 0, 0},
		{"follower behind", h(1, 1), 5, h(1, 1), 10, 5},
		{"same", h(1, 1), 10, h(1, 1), 10, 10},
		{"local ahead in the same epoch", h(1, 1), 12, h(1, 1), 10, 10},
		{"old writer ahead, new writer wrote", h(1, 1), 12, h(1, 1, 2, 11), 15, 10},
		{"old writer ahead, new writer idle", h(1, 1), 12, h(1, 1), 10, 10},
		{"promoted with nothing new, epochs later", h(1, 1, 2, 6), 8, h(1, 1, 3, 6), 9, 5},
		{"many epochs agree", h(1, 1, 2, 4, 4, 9), 12, h(1, 1, 2, 4, 4, 9, 5, 13), 20, 12},
		{"diverged at the start", h(2, 1), 3, h(1, 1), 3, 0},
		{"local empty", nil, 0, h(1, 1), 4, 0},
	} {
		if got := tandem.ForkLSN(tc.local, tc.localHead, tc.remote, tc.remoteHead); got != tc.want {
			t.Errorf("%s: ForkLSN = %d, want %d", tc.name, got, tc.want)
		}
	}
}
