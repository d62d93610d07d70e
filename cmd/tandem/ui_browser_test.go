package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/internal/phototest"
)

// chromiumPath is the browser the UI tests drive, or "" when none is
// installed (scripts/test installs Debian's chromium).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is a headless chromium tab on a fresh profile.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no chromium binary on PATH: install it (apt-get install -y chromium, as scripts/test does) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 900),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 4*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	return &browser{t: t, ctx: bctx}
}

// do runs actions, failing the test with a screenshot when one fails.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// waitFor polls the JavaScript predicate until it is true, for at most
// timeout.
func (b *browser) waitFor(what, predicate string, timeout time.Duration) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
}

// uiDeployment is a running `tandem up` and a browser to drive it: the
// data directory, the port base, the edge's URL and the admin's
// credentials.
type uiDeployment struct {
	*browser
	dir, edge string
	base      int
	creds     adminCredentials
}

// startUI starts `tandem up` with flags and a browser.
func startUI(t *testing.T, flags ...string) *uiDeployment {
	t.Helper()
	u := &uiDeployment{browser: newBrowser(t), dir: filepath.Join(t.TempDir(), "data"), base: freePortBase(t)}
	startUp(t, u.dir, u.base, flags...)
	u.edge = fmt.Sprintf("http://127.0.0.1:%d", u.base)
	var err error
	if u.creds, err = readAdminCredentials(filepath.Join(u.dir, adminCredentialsFile)); err != nil {
		t.Fatal(err)
	}
	return u
}

// fail saves a screenshot and the page's text, then fails the test.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir, _ := os.MkdirTemp("", "tandem-ui-failure")
		path := filepath.Join(dir, b.t.Name()+".png")
		if err := os.WriteFile(path, png, 0o644); err == nil {
			b.t.Logf("screenshot of the page: %s", path)
		}
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`)); err == nil {
		b.t.Logf("page text:\n%s", text)
	}
	b.t.Fatalf(format, args...)
}

// comment opens the photo's page and submits a comment.
func (b *browser) comment(photoID, text string) {
	b.t.Helper()
	b.do("post a comment",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/photo/`+photoID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#comment-text")),
		chromedp.WaitEnabled(chromedp.CSS("#comment-text")),
		chromedp.SetValue(chromedp.CSS("#comment-text"), text),
		chromedp.Click(chromedp.CSS("#comment-form button")),
	)
}

// signIn signs username in at base (the edge or a region) through the
// forced change to newPassword, and waits for the photos page. The first
// API call must have been answered by the writer region.
func (b *browser) signIn(base, username, password, newPassword string, wait time.Duration) {
	b.t.Helper()
	b.do("sign in", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-user")),
		chromedp.SetValue(chromedp.CSS("#signin-user"), username),
		chromedp.SetValue(chromedp.CSS("#signin-password"), password),
		chromedp.Click(chromedp.CSS("#signin-form button")),
		chromedp.WaitVisible(chromedp.CSS("#newpw-password")),
	)
	b.waitFor("the region after the login call", `document.getElementById("region").textContent === "Current Region: `+tandem.DefaultWriterRegion+`"`, wait)
	b.do("choose a new password",
		chromedp.SetValue(chromedp.CSS("#newpw-password"), newPassword),
		chromedp.SetValue(chromedp.CSS("#newpw-confirm"), newPassword),
		chromedp.Click(chromedp.CSS("#newpw-form button")),
	)
	b.waitFor("welcome and the photos page", `document.getElementById("welcome").textContent === "welcome `+username+`" && !document.getElementById("view-photos").hidden`, wait)
}

// auditJS lists what makes the page's current DOM (every view is in it,
// shown or not) hard to use with a keyboard or a screen reader: form fields
// without a label, buttons and links without a name, images without alt
// text, duplicate ids (which break label and ARIA references).
const auditJS = `(() => {
  const bad = [];
  const named = (el) => (el.textContent || "").trim() || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.getAttribute("title");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const label = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest("label") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!label) bad.push("a " + el.tagName.toLowerCase() + " without a label: " + el.outerHTML.slice(0, 100));
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!named(el) && !el.querySelector("img[alt]:not([alt=''])")) bad.push("a " + el.tagName.toLowerCase() + " without a name: " + el.outerHTML.slice(0, 100));
  }
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) bad.push("an image without alt: " + img.outerHTML.slice(0, 100));
  const seen = new Set();
  for (const el of document.querySelectorAll("[id]")) { if (seen.has(el.id)) bad.push("duplicate id " + el.id); seen.add(el.id); }
  if (!document.documentElement.lang) bad.push("no lang on <html>");
  for (const v of cspViolations) bad.push("blocked by the Content-Security-Policy: " + v);
  return bad;
})()`

// audit fails the test when the page has accessibility faults (see auditJS).
func (b *browser) audit(where string) {
	b.t.Helper()
	faults, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](auditJS))
	if err != nil {
		b.fail("audit %s: %v", where, err)
	}
	if len(faults) > 0 {
		b.fail("accessibility faults %s:\n%s", where, strings.Join(faults, "\n"))
	}
}

// fitsPhone shows every page at a phone's width and fails if one is wider
// than the screen (wide tables scroll inside themselves instead), then
// goes back to the desktop size.
func (b *browser) fitsPhone(wait time.Duration) {
	b.t.Helper()
	b.do("a phone's screen", chromedp.EmulateViewport(360, 740))
	for _, page := range []string{"photos", "remittances", "todo", "console"} {
		b.do("open "+page, chromedp.Evaluate[chromedp.Void](`location.hash = "#/`+page+`"`))
		b.waitFor("the "+page+" page", `!document.getElementById("view-`+page+`").hidden`, wait)
		ctx, cancel := context.WithTimeout(b.ctx, wait)
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.documentElement.scrollWidth <= window.innerWidth`, chromedp.WithPollingInterval(100*time.Millisecond)))
		cancel()
		if err != nil {
			wide, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter((e) => {
				const escapes = ["absolute", "fixed"].includes(getComputedStyle(e).position); // from any scroll container
				for (let a = e.parentElement; a && !escapes; a = a.parentElement) if (getComputedStyle(a).overflowX !== "visible") return false; // scrolls inside
				return e.getBoundingClientRect().right > window.innerWidth + 1 || (getComputedStyle(e).overflowX === "visible" && e.scrollWidth > e.clientWidth + 1);
			}).slice(-8).map((e) => e.outerHTML.slice(0, 160))`))
			b.fail("the %s page is wider than a phone (%v); too wide:\n%s", page, err, strings.Join(wide, "\n"))
		}
	}
	b.do("a desktop's screen", chromedp.EmulateViewport(1200, 900))
}

func jsString(s string) string { return strconv.Quote(s) }

// TestUIBrowser drives the web app in chromium through the edge of `tandem
// up`: sign-in through the forced password change, an upload shown in the
// gallery, a comment, fencing that disables both forms with the reference
// messages, a switchover from the operations console that the navbar
// follows without losing the session, the live dashboard, and sign-out.
func TestUIBrowser(t *testing.T) {
	u := startUI(t)
	b, dir, edge, creds := u.browser, u.dir, u.edge, u.creds
	const wait = 15 * time.Second

	b.signIn(edge, creds.Username, creds.Password, "Browser-Test-Passw0rd!", wait)

	photo := filepath.Join(t.TempDir(), "noise.png")
	if err := os.WriteFile(photo, phototest.NoisePNG(t, 320, 240, 7), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do("upload a photo",
		chromedp.WaitEnabled(chromedp.CSS("#upload-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{photo}),
		chromedp.Click(chromedp.CSS("#upload-form button")),
	)
	b.waitFor("the photo in the gallery", `document.getElementById("upload-message").textContent === "Uploaded." && document.querySelectorAll("#gallery img").length === 1 && document.getElementById("gallery-empty").hidden`, wait)
	b.waitFor("its thumbnail loaded", `document.querySelector("#gallery img").complete && document.querySelector("#gallery img").naturalWidth > 0`, wait)

	const comment = "hello from the browser"
	b.comment("photo-ui", comment)
	b.waitFor("the comment in the list", `document.getElementById("comments").textContent.includes(`+jsString(comment)+`)`, wait)

	// Fenced: the form is disabled with the reference message within the
	// page's polling interval (3 s), and enabled again when active.
	cli(t, "state", "set", "fenced", "--dir", dir)
	b.waitFor("the fenced form", `document.getElementById("comment-text").disabled && document.getElementById("comment-message").textContent === `+jsString(httpapi.FencedCommentMessage)+` && document.getElementById("upload-message").textContent === `+jsString(httpapi.FencedPhotoMessage)+` && !document.getElementById("state-banner").hidden`, 10*time.Second)
	cli(t, "state", "set", "active", "--dir", dir)
	b.waitFor("the form enabled again", `!document.getElementById("comment-text").disabled && document.getElementById("state-banner").hidden`, 10*time.Second)

	// The console runs a switchover; the navbar follows the writer.
	b.do("open the console", chromedp.Evaluate[chromedp.Void](`location.hash = "#/console"`))
	b.waitFor("the console's status", `document.getElementById("op-writer").textContent === "`+tandem.DefaultWriterRegion+`" && document.getElementById("op-regions").rows.length === 2 && document.getElementById("switch-target").value === "`+tandem.DefaultStandbyRegion+`"`, wait)
	b.do("start a switchover",
		chromedp.Click(chromedp.CSS("#switch-form button")),
		chromedp.WaitVisible(chromedp.CSS("#switch-confirm")),
		chromedp.Click(chromedp.CSS("#switch-confirm")),
	)
	b.waitFor("the switchover's steps", `document.querySelector("#runbook-current[data-status=succeeded] .steps li") !== null`, 60*time.Second)
	b.waitFor("the new writer in the console", `document.getElementById("op-writer").textContent === "`+tandem.DefaultStandbyRegion+`"`, wait)
	b.waitFor("the navbar following the writer", `document.getElementById("region").textContent === "Current Region: `+tandem.DefaultStandbyRegion+`" && document.getElementById("welcome").textContent === "welcome `+creds.Username+`"`, wait)

	dashboardStep(t, b, edge, wait)

	const after = "still signed in after the switchover"
	b.comment("photo-ui", after)
	b.waitFor("the comments from both regions", `document.getElementById("comments").textContent.includes(`+jsString(comment)+`) && document.getElementById("comments").textContent.includes(`+jsString(after)+`)`, wait)

	// The owner deletes the photo from its page, after a confirmation.
	b.do("open the photo from the gallery", chromedp.Evaluate[chromedp.Void](`location.hash = "#/photos"`))
	b.waitFor("the gallery", `document.querySelectorAll("#gallery a").length === 1`, wait)
	b.do("delete the photo",
		chromedp.Click(chromedp.CSS("#gallery a")),
		chromedp.WaitVisible(chromedp.CSS("#photo-delete")),
		chromedp.Click(chromedp.CSS("#photo-delete")),
		chromedp.WaitVisible(chromedp.CSS("#photo-delete-confirm")),
		chromedp.Click(chromedp.CSS("#photo-delete-confirm")),
	)
	b.waitFor("an empty gallery", `!document.getElementById("view-photos").hidden && document.getElementById("notice").textContent === "The photo was deleted." && document.querySelectorAll("#gallery img").length === 0 && !document.getElementById("gallery-empty").hidden`, wait)

	b.audit("after the photo, console and dashboard pages")
	b.fitsPhone(wait)
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	b.waitFor("the sign-in page", `!document.getElementById("view-signin").hidden && document.getElementById("welcome").textContent === "" && sessionStorage.getItem("tandem.session") === null`, wait)
}
