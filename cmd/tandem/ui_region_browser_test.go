package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestUIRegionBrowser opens the web app on each region directly, without the
// edge: on the writer a user signs in, comments and reads the console (the
// region passes /control/ to the controller); on the standby the app says it
// serves reads only, shows the writer's comment and disables the form.
func TestUIRegionBrowser(t *testing.T) {
	u := startUI(t)
	b, creds := u.browser, u.creds
	writer := fmt.Sprintf("http://127.0.0.1:%d", u.base+1)
	standby := fmt.Sprintf("http://127.0.0.1:%d", u.base+2)
	const wait = 15 * time.Second
	const password = "Region-Browser-Passw0rd!"

	b.signIn(writer, creds.Username, creds.Password, password, wait)
	b.waitFor("no standby banner on the writer", `appState.region === "`+tandem.DefaultWriterRegion+`" && appState.writer === "`+tandem.DefaultWriterRegion+`" && document.getElementById("state-banner").hidden`, wait)
	const comment = "written on the writer region directly"
	b.comment("photo-region", comment)
	b.waitFor("the comment in the list", `document.getElementById("comments").textContent.includes(`+jsString(comment)+`)`, wait)

	b.do("open the console", chromedp.Evaluate[chromedp.Void](`location.hash = "#/console"`))
	b.waitFor("the controller's status through the region", `document.getElementById("op-writer").textContent === "`+tandem.DefaultWriterRegion+`" && document.getElementById("op-regions").rows.length === 2`, wait)

	// Another origin, another session: sign in again on the standby.
	b.do("sign in on the standby", chromedp.Navigate(standby+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-user")),
		chromedp.SetValue(chromedp.CSS("#signin-user"), creds.Username),
		chromedp.SetValue(chromedp.CSS("#signin-password"), password),
		chromedp.Click(chromedp.CSS("#signin-form button")),
	)
	b.waitFor("the photos page on the standby", `document.getElementById("welcome").textContent === "welcome `+creds.Username+`" && document.getElementById("region").textContent === "Current Region: `+tandem.DefaultStandbyRegion+`"`, wait)
	b.do("open the photo", chromedp.Evaluate[chromedp.Void](`location.hash = "#/photo/photo-region"`))
	b.waitFor("the standby banner, the replicated comment and the disabled form", `document.getElementById("state-banner").textContent.includes("It is a standby") && document.getElementById("state-banner").textContent.includes("`+tandem.DefaultWriterRegion+`") && document.getElementById("comments").textContent.includes(`+jsString(comment)+`) && document.getElementById("comment-text").disabled && document.getElementById("comment-message").textContent === `+jsString(httpapi.FencedCommentMessage), wait)
	b.audit("on the standby's photo page")
}

// TestUIShowsOutages opens the app through the edge while both regions are
// down: the page still renders, says the state cannot be read, and a
// sign-in attempt fails with a message rather than silently.
func TestUIShowsOutages(t *testing.T) {
	u := startUI(t)
	b, dir, edge := u.browser, u.dir, u.edge
	for _, name := range []string{tandem.DefaultWriterRegion, tandem.DefaultStandbyRegion} {
		if err := os.WriteFile(filepath.Join(dir, "run", name+".hold"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(readPID(t, dir, name), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	retry.Until(t, 50*time.Millisecond, 10*time.Second, func() error {
		if r := call(t, "GET", edge+"/api/health", ""); r.status < 500 {
			return fmt.Errorf("the edge still reaches a region: %+v", r)
		}
		return nil
	})
	const wait = 15 * time.Second
	b.do("open the app", chromedp.Navigate(edge+"/"), chromedp.WaitVisible(chromedp.CSS("#signin-user")))
	b.waitFor("the state error", `document.getElementById("state-banner").textContent.startsWith("Cannot read the application state: ")`, wait)
	b.do("try to sign in",
		chromedp.SetValue(chromedp.CSS("#signin-user"), "someone"),
		chromedp.SetValue(chromedp.CSS("#signin-password"), "Some-Passw0rd!"),
		chromedp.Click(chromedp.CSS("#signin-form button")),
	)
	b.waitFor("the sign-in error", `document.getElementById("error").textContent.startsWith("Sign-in failed: ") && !document.getElementById("error").hidden`, wait)
}
