package replication

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem"
)

func TestMetricsRegisterAndRecord(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.observeStatus(tandem.FollowStatus{Connected: true, Applied: tandem.Position{LSN: 3}, Head: tandem.Position{LSN: 5}, Lag: tandem.Lag{Entries: 2}})
	m.applied([]tandem.Change{{LSN: 3, CommitTime: time.Now()}}, time.Now())
	m.reconnect()
	m.rejoined(4)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			switch {
			case mt.GetGauge() != nil:
				got[f.GetName()] = mt.GetGauge().GetValue()
			case mt.GetCounter() != nil:
				got[f.GetName()] = mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				got[f.GetName()] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"tandem_replication_lag_entries":               2,
		"tandem_replication_connected":                 1,
		"tandem_replication_applied_entries_total":     1,
		"tandem_replication_apply_delay_seconds":       1,
		"tandem_replication_stream_reconnects_total":   1,
		"tandem_replication_rejoins_total":             1,
		"tandem_replication_quarantined_entries_total": 4,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
