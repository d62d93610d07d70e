package control

import (
	"testing"
	"time"
)

func TestAlarmStateMachine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type obs struct {
		ms   int
		bad  bool
		want string // the transition's new state, or "" for none
	}
	tests := []struct {
		name string
		rule alarmRule
		obs  []obs
	}{
		{"three in a row", alarmRule{Consecutive: 3}, []obs{
			{0, true, ""}, {500, true, ""}, {1000, true, AlarmFiring}, {1500, true, ""}, {2000, false, AlarmOK}, {2500, false, ""},
		}},
		{"a good check resets the streak", alarmRule{Consecutive: 3}, []obs{
			{0, true, ""}, {500, true, ""}, {1000, false, ""}, {1500, true, ""}, {2000, true, ""}, {2500, true, AlarmFiring},
		}},
		{"over a threshold for a while", alarmRule{For: 10 * time.Second}, []obs{
			{0, true, ""}, {5000, true, ""}, {9999, true, ""}, {10000, true, AlarmFiring}, {11000, false, AlarmOK},
		}},
		{"interrupted before the duration", alarmRule{For: 10 * time.Second}, []obs{
			{0, true, ""}, {9000, false, ""}, {10000, true, ""}, {19000, true, ""}, {20000, true, AlarmFiring},
		}},
		{"no rule fires at the first bad observation", alarmRule{}, []obs{
			{0, false, ""}, {1, true, AlarmFiring}, {2, true, ""}, {3, false, AlarmOK},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAlarmSet(map[string]alarmRule{"a": tt.rule})
			for i, o := range tt.obs {
				ev, changed := s.observe("a", "us-east-1", o.bad, "why", at(o.ms))
				got := ""
				if changed {
					got = ev.State
				}
				if got != o.want {
					t.Fatalf("observation %d (%+v): transition %q, want %q", i, o, got, o.want)
				}
			}
		})
	}
}

func TestAlarmFirstBadIsDetectionTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newAlarmSet(map[string]alarmRule{AlarmWriterUnhealthy: {Consecutive: 3}})
	s.observe(AlarmWriterUnhealthy, "w", false, "", t0)
	for i := 1; i <= 3; i++ {
		s.observe(AlarmWriterUnhealthy, "w", true, "unreachable", t0.Add(time.Duration(i)*500*time.Millisecond))
	}
	if got, want := s.firstBad(AlarmWriterUnhealthy, "w"), t0.Add(500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("first bad = %v, want %v", got, want)
	}
	alarms := s.list()
	if len(alarms) != 1 || alarms[0].State != AlarmFiring || alarms[0].Reason != "unreachable" {
		t.Fatalf("alarms = %+v", alarms)
	}
}

func TestWriterAndStandbyCriteria(t *testing.T) {
	ok := map[string]string{"store": "ok", "control": "ok", "lease": "ok", "disk": "ok"}
	tests := []struct {
		name       string
		res        HealthResult
		writerBad  bool
		standbyBad bool
	}{
		{"healthy writer", HealthResult{Reachable: true, OK: true, Checks: ok}, false, false},
		{"unreachable", HealthResult{Error: "connection refused"}, true, true},
		{"lease lost", HealthResult{Reachable: true, Checks: map[string]string{"store": "ok", "control": "ok", "lease": "no lease", "disk": "ok"}}, true, false},
		{"store broken", HealthResult{Reachable: true, Checks: map[string]string{"store": "unreadable", "control": "ok", "disk": "ok"}}, true, true},
		{"disk full is no reason to fail over", HealthResult{Reachable: true, Checks: map[string]string{"store": "ok", "control": "ok", "lease": "ok", "disk": "only 3 MiB free"}}, false, true},
		{"standby cut off from a dead writer", HealthResult{Reachable: true, Checks: map[string]string{"store": "ok", "control": "ok", "replication": "not connected", "disk": "ok"}}, false, false},
	}
	for _, tt := range tests {
		if bad, _ := writerFailure(tt.res); bad != tt.writerBad {
			t.Errorf("%s: writerFailure = %v, want %v", tt.name, bad, tt.writerBad)
		}
		if bad, _ := standbyFailure(tt.res.Checks); tt.res.Reachable && bad != tt.standbyBad {
			t.Errorf("%s: standbyFailure = %v, want %v", tt.name, bad, tt.standbyBad)
		}
	}
}

func TestHealthGrace(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	graceEnds := t0.Add(10 * time.Second)
	var h healthLog
	if !h.inGrace("w", true, t0, graceEnds) {
		t.Fatal("a writer never seen healthy failed a check during the grace, and it counted")
	}
	if h.inGrace("w", true, graceEnds, graceEnds) {
		t.Fatal("the grace did not end")
	}
	h.inGrace("v", false, t0, graceEnds)
	if h.inGrace("v", true, t0.Add(time.Second), graceEnds) {
		t.Fatal("a writer seen healthy got a grace")
	}
}

func TestEdgeErrorWindow(t *testing.T) {
	tests := []struct {
		name                  string
		prevTotal, prevErrors float64
		total, errors         float64
		bad                   bool
	}{
		{"too few requests to judge", 0, 0, 10, 10, false},
		{"under the limit", 100, 0, 200, 4, false},
		{"over the limit", 100, 1, 200, 11, true},
		{"old errors do not count", 100, 50, 200, 50, false},
	}
	for _, tt := range tests {
		if bad, why := edgeErrorWindow(tt.prevTotal, tt.prevErrors, tt.total, tt.errors, 0.05); bad != tt.bad {
			t.Errorf("%s: bad = %v (%s), want %v", tt.name, bad, why, tt.bad)
		}
	}
}
