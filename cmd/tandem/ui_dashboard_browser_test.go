package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tandemhq/tandem"
)

// dashboardStep checks the console's dashboard, on the console page after a
// switchover: under a little traffic through the edge it shows a request
// rate above zero for the writer region, health checks, and a timeline with
// the switchover runbook and the promotion.
func dashboardStep(t *testing.T, b *browser, edge string, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // about 20 requests a second through the edge
		defer close(done)
		client := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if resp, err := client.Get(edge + "/api/state/dashboard-traffic"); err == nil {
				resp.Body.Close()
			}
		}
	}()
	defer func() { cancel(); <-done }()

	region := `document.querySelector('#dash-regions [data-region="` + tandem.DefaultStandbyRegion + `"]')`
	b.waitFor("the dashboard's live request rate", region+` !== null && Number(`+region+`.dataset.requestRate) > 0 && `+region+`.querySelectorAll("polyline").length >= 3 && Number(`+region+`.dataset.healthChecks) > 0`, wait)
	updates, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`Number(document.getElementById("dashboard").dataset.updates)`))
	if err != nil {
		b.fail("read the dashboard's updates: %v", err)
	}
	b.waitFor("another dashboard update", `Number(document.getElementById("dashboard").dataset.updates) > `+strconv.Itoa(updates), 10*time.Second)
	b.waitFor("the switchover in the timeline", `[...document.querySelectorAll("#dash-timeline li[data-kind=runbook]")].some((li) => li.textContent.includes("switchover") && li.dataset.status === "succeeded") && document.getElementById("dash-timeline").textContent.includes("`+tandem.DefaultStandbyRegion+` promoted to writer")`, wait)
	b.waitFor("the alarms list", `document.querySelectorAll("#dash-alarms li").length > 0`, wait)
}
