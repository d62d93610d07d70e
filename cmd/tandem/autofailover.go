package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemhq/tandem/control"
)

// configureMonitoring sets the embedded controller's health checks, alarms
// and automatic failover from the edge configuration; zero values keep the
// controller's defaults.
func configureMonitoring(c *control.Controller, cc ControllerConfig) {
	setIf := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setIf(&c.HealthInterval, cc.HealthInterval)
	setIf(&c.HealthTimeout, cc.HealthTimeout)
	setIf(&c.LagAlarmFor, cc.LagAlarmFor)
	setIf(&c.BlobPendingAlarm, cc.BlobPendingAlarm)
	setIf(&c.AutoFailoverCooldown, cc.AutoFailoverCooldown)
	setIf(&c.WebhookTimeout, cc.WebhookTimeout)
	setIf(&c.ErrorRateFor, cc.ErrorRateFor)
	if cc.ErrorRateAlarm > 0 {
		c.ErrorRateAlarm = cc.ErrorRateAlarm
	}
	if cc.HealthHistory > 0 {
		c.HealthHistory = cc.HealthHistory
	}
	if cc.UnhealthyThreshold > 0 {
		c.UnhealthyThreshold = cc.UnhealthyThreshold
	}
	if cc.LagAlarmSeconds > 0 {
		c.LagAlarmSeconds = cc.LagAlarmSeconds
	}
	if cc.MaxAutoFailoverLag > 0 {
		c.MaxAutoFailoverLag = cc.MaxAutoFailoverLag
	}
	c.AutoFailoverEnabled = cc.AutoFailover
	c.Webhooks = cc.AlarmWebhooks
}

// edgeRequests returns a function that reads the edge's requests so far,
// and those answered 5xx, from the metrics gathered by g.
func edgeRequests(g prometheus.Gatherer) func() (total, errors float64) {
	return func() (total, errors float64) {
		families, _ := g.Gather()
		for _, f := range families {
			if f.GetName() != "tandem_edge_requests_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				v := m.GetCounter().GetValue()
				total += v
				for _, l := range m.GetLabel() {
					if l.GetName() == "code" && strings.HasPrefix(l.GetValue(), "5") {
						errors += v
					}
				}
			}
		}
		return total, errors
	}
}

// runAutoFailover is `tandem autofailover pause|resume|status`.
func runAutoFailover(args []string) error {
	fs := flag.NewFlagSet("autofailover", flag.ContinueOnError)
	var t target
	t.flags(fs)
	if err := parse(fs, args, "Usage: tandem autofailover pause|resume|status\n\nPauses or resumes automatic failover (kept across restarts), or shows whether\nthe controller may fail over by itself: enabled, paused, cooldown, the last\nautomatic failover. A pause does not stop a failover already running.\n\n"); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) != 1 || (rest[0] != "pause" && rest[0] != "resume" && rest[0] != "status") {
		fs.Usage()
		return errUsage
	}
	c, ctx, cancel, err := t.connect(10 * time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	var st control.AutoFailoverStatus
	if rest[0] == "status" {
		st, err = c.AutoFailover(ctx)
	} else {
		st, err = c.SetAutoFailoverPaused(ctx, rest[0] == "pause")
	}
	if err != nil {
		return err
	}
	fmt.Println(autoFailoverSummary(st))
	return nil
}

// autoFailoverSummary says in one line whether the controller may fail
// over by itself.
func autoFailoverSummary(st control.AutoFailoverStatus) string {
	var b strings.Builder
	switch {
	case !st.Enabled:
		b.WriteString("automatic failover: off (auto_failover is not set)")
	case st.Paused:
		fmt.Fprintf(&b, "automatic failover: paused since %s", st.PausedAt.Format(time.RFC3339))
	default:
		fmt.Fprintf(&b, "automatic failover: on (standby lag at most %d entries, cooldown %v)", st.MaxLagEntries, time.Duration(st.CooldownMs)*time.Millisecond)
	}
	if !st.CooldownUntil.IsZero() {
		fmt.Fprintf(&b, "; cooldown until %s", st.CooldownUntil.Format(time.RFC3339))
	}
	if st.Last != "" {
		fmt.Fprintf(&b, "; last automatic failover %s", st.Last)
	}
	return b.String()
}

// printMonitoring prints the controller's recent health checks, the alarms
// and whether it may fail over by itself, below `tandem status`'s table.
func printMonitoring(w io.Writer, st control.Status) {
	if len(st.Health) > 0 {
		fmt.Fprintln(w)
		for _, h := range st.Health {
			fmt.Fprintf(w, "checks   %-15s %s\n", h.Region, healthHistory(h.Recent))
		}
	}
	for _, a := range st.Alarms {
		if a.State == control.AlarmFiring {
			fmt.Fprintf(w, "ALARM    %s %s since %s: %s\n", a.Name, a.Region, a.Since.Format(time.RFC3339), a.Reason)
		}
	}
	if st.AutoFailover != nil {
		fmt.Fprintln(w, autoFailoverSummary(*st.AutoFailover))
	}
}

// healthHistory draws recent checks oldest first (+ ok, ! unhealthy, x
// unreachable) with the last one's latency.
func healthHistory(rs []control.HealthResult) string {
	if len(rs) == 0 {
		return "no checks yet"
	}
	var b strings.Builder
	for _, r := range rs {
		switch {
		case !r.Reachable:
			b.WriteByte('x')
		case !r.OK:
			b.WriteByte('!')
		default:
			b.WriteByte('+')
		}
	}
	last := rs[len(rs)-1]
	fmt.Fprintf(&b, "  last %.1fms", last.LatencyMs)
	if last.Error != "" {
		fmt.Fprintf(&b, " (%s)", last.Error)
	}
	return b.String()
}
