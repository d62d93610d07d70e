package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
)

// consoleTest is a browser signed in as the admin on the console of a
// running `tandem up`.
type consoleTest struct {
	*uiDeployment
	wait time.Duration
}

func openConsole(t *testing.T, flags ...string) *consoleTest {
	t.Helper()
	c := &consoleTest{uiDeployment: startUI(t, flags...), wait: 15 * time.Second}
	b := c.browser
	b.signIn(c.edge, c.creds.Username, c.creds.Password, "Console-Test-Passw0rd!", c.wait)
	b.do("open the console", chromedp.Evaluate[chromedp.Void](`location.hash = "#/console"`))
	b.waitFor("the console's status", `document.getElementById("op-writer").textContent === "`+tandem.DefaultWriterRegion+`" && document.getElementById("op-regions").rows.length === 2`, c.wait)
	return c
}

// token is the signed-in admin's access token, from the page's session.
func (c *consoleTest) token() string {
	c.t.Helper()
	tok, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](`JSON.parse(sessionStorage.getItem("tandem.session")).accessToken`))
	if err != nil || tok == "" {
		c.fail("read the session's token: %v", err)
	}
	return tok
}

// text returns the text of the element selected by css.
func (c *consoleTest) text(css string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.querySelector(`+jsString(css)+`).textContent`))
	if err != nil {
		c.fail("read %s: %v", css, err)
	}
	return s
}

// confirm clicks a form's (or a button's) action and confirms its dialog.
func (c *consoleTest) confirm(what, click, confirmButton string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, c.wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(click)), chromedp.WaitVisible(chromedp.CSS(confirmButton)), chromedp.Click(chromedp.CSS(confirmButton))); err != nil {
		c.fail("%s: %v", what, err)
	}
	c.waitFor(what+": the dialog closed", `!document.querySelector(`+jsString(confirmButton)+`).closest("dialog").open`, c.wait)
}

// runbook starts a runbook from its form and waits until it succeeded.
func (c *consoleTest) runbook(kind string) {
	c.t.Helper()
	c.confirm("start a "+kind, "#"+kind+"-form button[type=submit]", "#"+kind+"-confirm")
	c.waitFor("the "+kind+" succeeded", `document.querySelector("#runbook-current[data-kind=`+kind+`][data-status=succeeded] .steps li") !== null || document.querySelector("#runbook-current[data-status=failed]") !== null`, 60*time.Second)
	if st := c.text("#runbook-current p"); !strings.Contains(st, "succeeded") {
		c.fail("the %s did not succeed: %s", kind, st)
	}
}

func (c *consoleTest) api(method, path, body string) response {
	c.t.Helper()
	return callWith(c.t, method, c.edge+path, body, "Authorization", "Bearer "+c.token())
}

// TestUIConsoleBrowser drives the operations console in chromium through
// the edge of `tandem up`: the regions' lag, a user and an OAuth client
// created with their one-time secrets (the user signs in with the temporary
// password, the client gets a token), a refusal, a password reset and a
// disabled user, the state set fenced and active,
// automatic failover paused and resumed, then a failover and a failback
// from the console's buttons.
func TestUIConsoleBrowser(t *testing.T) {
	c := openConsole(t)
	standbyRow := `document.querySelector('#op-regions tr[data-region="` + tandem.DefaultStandbyRegion + `"] .lag-entries')`
	c.waitFor("the standby's lag, a number", standbyRow+` !== null && /^[0-9]+$/.test(`+standbyRow+`.textContent)`, c.wait)

	// A user, with its temporary password shown once.
	const user = "console-user"
	c.do("create a user",
		chromedp.SetValue(chromedp.CSS("#user-name"), user),
		chromedp.SetValue(chromedp.CSS("#user-email"), user+"@example.com"),
		chromedp.SetValue(chromedp.CSS("#user-role"), "user"),
		chromedp.Click(chromedp.CSS("#user-form button[type=submit]")),
	)
	c.waitFor("the temporary password and the user listed", `!document.getElementById("user-secret").hidden && document.getElementById("user-secret-value").textContent.length >= 8 && document.querySelector('#users-list tr[data-username="`+user+`"][data-status=FORCE_CHANGE_PASSWORD]') !== null`, c.wait)
	temp := c.text("#user-secret-value")
	r := call(t, "POST", c.edge+"/api/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, temp))
	var login struct {
		ChallengeName string `json:"challengeName"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &login) != nil || login.ChallengeName != "NEW_PASSWORD_REQUIRED" {
		t.Fatalf("sign-in with the temporary password shown: %+v", r)
	}
	c.do("dismiss the password", chromedp.Click(chromedp.CSS("#user-secret-done")))
	c.waitFor("the password gone", `document.getElementById("user-secret").hidden && document.getElementById("user-secret-value").textContent === ""`, c.wait)

	// The server's refusal shown; a reset shows a new password once; a
	// disabled user is listed so.
	c.do("create the user again",
		chromedp.SetValue(chromedp.CSS("#user-name"), user),
		chromedp.SetValue(chromedp.CSS("#user-email"), user+"@example.com"),
		chromedp.Click(chromedp.CSS("#user-form button[type=submit]")),
	)
	c.waitFor("the refusal", `document.getElementById("user-message").textContent.startsWith("The user was not created: ") && document.getElementById("user-secret").hidden`, c.wait)
	userButton := `#users-list tr[data-username="` + user + `"] button`
	c.confirm("reset the password", userButton+`[aria-label^="Reset"]`, "#confirm-ok")
	c.waitFor("the new temporary password", `!document.getElementById("user-secret").hidden && document.getElementById("user-secret-value").textContent.length >= 8 && document.getElementById("user-secret-value").textContent !== `+jsString(temp), c.wait)
	c.confirm("disable the user", userButton+`[aria-label^="Disable"]`, "#confirm-ok")
	c.waitFor("the user disabled", `document.querySelector('#users-list tr[data-username="`+user+`"][data-status=DISABLED]') !== null`, c.wait)
	c.confirm("make the user an admin", userButton+`[aria-label^="Make"]`, "#confirm-ok")
	c.waitFor("the user an admin", `document.querySelector('#users-list tr[data-username="`+user+`"] .role').textContent === "admin"`, c.wait)

	// An OAuth client, with its secret shown once.
	c.do("create a client",
		chromedp.SetValue(chromedp.CSS("#client-name"), "console client"),
		chromedp.SetValue(chromedp.CSS("#client-scope"), "api/upsert-delete"),
		chromedp.Click(chromedp.CSS("#client-form button[type=submit]")),
	)
	c.waitFor("the client's secret and the client listed", `!document.getElementById("client-secret").hidden && document.getElementById("client-secret-value").textContent.length > 20 && document.querySelector('#clients-list tr[data-client-id="' + document.getElementById("client-secret-id").textContent + '"]') !== null`, c.wait)
	id, secret := c.text("#client-secret-id"), c.text("#client-secret-value")
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	r = callWith(t, "POST", c.edge+"/api/oauth2/token", form, "Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
	var issued struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &issued) != nil || issued.AccessToken == "" {
		t.Fatalf("client credentials with the secret shown: %+v", r)
	}
	// Deleted from the console, the client's token is refused at once.
	c.do("dismiss the secret", chromedp.Click(chromedp.CSS("#client-secret-done")))
	c.confirm("delete the client", `#clients-list tr[data-client-id="`+id+`"] button`, "#confirm-dialog button[value=confirm]")
	c.waitFor("the client gone", `document.querySelector('#clients-list tr[data-client-id="`+id+`"]') === null && document.getElementById("client-message").textContent.includes("deleted")`, c.wait)
	if r := callWith(t, "GET", c.edge+"/todo/v1?id=1", "", "Authorization", "Bearer "+issued.AccessToken); r.status != 401 {
		t.Fatalf("the deleted client's token: %+v, want 401", r)
	}

	// The state, set from the console, as the API reports it.
	var cfg struct {
		AppID string `json:"appId"`
	}
	if r := call(t, "GET", c.edge+"/ui/config.json", ""); r.status != 200 || json.Unmarshal([]byte(r.body), &cfg) != nil {
		t.Fatalf("config: %+v", r)
	}
	for _, state := range []string{"fenced", "active"} {
		c.do("choose "+state, chromedp.SetValue(chromedp.CSS("#state-value"), state))
		c.confirm("set "+state, "#state-form button[type=submit]", "#confirm-ok")
		c.waitFor("the console showing "+state, `document.getElementById("op-state").textContent === "`+state+`"`, c.wait)
		if r := call(t, "GET", c.edge+"/api/state/"+cfg.AppID, ""); r.status != 200 || !strings.Contains(r.body, `"state":"`+state+`"`) {
			t.Fatalf("state after setting %s in the console: %+v", state, r)
		}
	}

	// Automatic failover paused and resumed.
	for _, paused := range []bool{true, false} {
		c.confirm(fmt.Sprintf("set automatic failover paused=%v", paused), "#af-toggle", "#confirm-ok")
		c.waitFor("the automatic failover status", fmt.Sprintf(`document.getElementById("af-status").dataset.paused === "%v"`, paused), c.wait)
		if r := c.api("GET", "/control/v1/autofailover", ""); r.status != 200 || !strings.Contains(r.body, fmt.Sprintf(`"paused":%v`, paused)) {
			t.Fatalf("automatic failover after the console set paused=%v: %+v", paused, r)
		}
	}

	// A failover to the healthy standby, and back.
	c.runbook("failover")
	c.waitFor("the failover state", `document.getElementById("op-state").textContent === "failover" && document.getElementById("op-writer").textContent === "`+tandem.DefaultStandbyRegion+`"`, c.wait)
	c.runbook("failback")
	c.waitFor("active on the first writer again", `document.getElementById("op-state").textContent === "active" && document.getElementById("op-writer").textContent === "`+tandem.DefaultWriterRegion+`"`, c.wait)
	c.waitFor("both runbooks in the history", `document.querySelectorAll("#runbooks > li[data-status=succeeded]").length >= 2`, c.wait)
	c.audit("on the console with users, clients and runbooks")
}

// TestUIConsoleBrowserQuarantine stages divergent writes with hold files:
// the standby is held down while the writer acknowledges comments, then the
// writer is killed and held, the standby returns and the console fails over
// to it (forced). One of the lost comments is written again on the new
// writer. When the old writer is released it rejoins and quarantines its
// comments; the console lists them, shows one's row images and replays it
// (replayed), and replays the rewritten one (a conflict).
func TestUIConsoleBrowserQuarantine(t *testing.T) {
	c := openConsole(t, "--auto-failover=false") // the console fails over
	token := c.token()
	standby := fmt.Sprintf("http://127.0.0.1:%d", c.base+2)
	comment := func(id string) {
		t.Helper()
		retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
			if r := callWith(t, "POST", c.edge+"/api/comments/photo-1", commentJSON(id), "Authorization", "Bearer "+token); r.status != 201 {
				return fmt.Errorf("comment %s: %+v", id, r)
			}
			return nil
		})
	}
	hold := func(name string) string {
		path := filepath.Join(c.dir, "run", name+".hold")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	comment("base")
	waitComments(t, standby, 1)
	standbyHold := hold(tandem.DefaultStandbyRegion)
	syscall.Kill(readPID(t, c.dir, tandem.DefaultStandbyRegion), syscall.SIGKILL)
	lost := []string{"lost-1", "lost-2", "lost-3"}
	for _, id := range lost {
		comment(id)
	}
	writerHold := hold(tandem.DefaultWriterRegion)
	syscall.Kill(readPID(t, c.dir, tandem.DefaultWriterRegion), syscall.SIGKILL)
	os.Remove(standbyHold)
	retry.Until(t, 50*time.Millisecond, 20*time.Second, func() error {
		if r := call(t, "GET", standby+"/healthz", ""); r.status != 200 {
			return fmt.Errorf("standby not back: %+v", r)
		}
		return nil
	})

	c.do("force the failover", chromedp.Click(chromedp.CSS("#failover-force")))
	c.runbook("failover")
	c.waitFor("the standby is the writer", `document.getElementById("op-writer").textContent === "`+tandem.DefaultStandbyRegion+`"`, c.wait)
	comment("lost-3") // the same comment again: its quarantined insert will conflict
	os.Remove(writerHold)

	// The old writer rejoins and quarantines what it had alone.
	entries := map[string]string{} // comment id -> quarantine id
	retry.Until(t, 100*time.Millisecond, 30*time.Second, func() error {
		r := callWith(t, "GET", c.edge+"/api/admin/quarantine", "", "Authorization", "Bearer "+token)
		var q struct {
			Entries []tandem.QuarantinedEntry `json:"entries"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &q) != nil {
			return fmt.Errorf("quarantine: %+v", r)
		}
		for _, e := range q.Entries {
			var row struct {
				CommentID string `json:"comment_id"`
			}
			if e.Change.Table == "comments" && json.Unmarshal(e.Change.After, &row) == nil {
				entries[row.CommentID] = e.ID
			}
		}
		for _, id := range lost {
			if entries[id] == "" {
				return fmt.Errorf("comment %s not quarantined yet (%d entries)", id, len(q.Entries))
			}
		}
		return nil
	})

	row := func(id string) string { return `#q-list tr[data-id="` + entries[id] + `"]` }
	c.do("refresh the quarantine", chromedp.Click(chromedp.CSS("#q-refresh")))
	c.waitFor("the quarantined comments listed", `document.querySelector(`+jsString(row(lost[0]))+`) !== null && document.querySelector(`+jsString(row(lost[2]))+`) !== null && document.querySelectorAll("#q-list tr[data-status=quarantined]").length >= 3`, c.wait)

	c.do("show an entry", chromedp.Click(chromedp.CSS(row(lost[0])+" button")))
	c.waitFor("its row images", `!document.getElementById("q-detail").hidden && document.getElementById("q-detail-id").textContent === "`+entries[lost[0]]+`" && document.getElementById("q-before").textContent === "(no row)" && document.getElementById("q-after").textContent.includes("message `+lost[0]+`")`, c.wait)
	c.confirm("replay it", "#q-replay", "#confirm-ok")
	c.waitFor("replayed", `document.getElementById("q-outcome").dataset.status === "replayed" && document.querySelector(`+jsString(row(lost[0])+"[data-status=replayed]")+`) !== null`, c.wait)
	if !commentIDs(t, c.edge)[lost[0]] {
		t.Fatalf("the replayed comment %s is not on the writer", lost[0])
	}

	c.do("show the rewritten entry", chromedp.Click(chromedp.CSS(row(lost[2])+" button")))
	c.waitFor("its row images", `document.getElementById("q-detail-id").textContent === "`+entries[lost[2]]+`"`, c.wait)
	c.confirm("replay it", "#q-replay", "#confirm-ok")
	c.waitFor("a conflict", `document.getElementById("q-outcome").dataset.status === "conflict" && document.querySelector(`+jsString(row(lost[2])+"[data-status=conflict]")+`) !== null`, c.wait)
	c.audit("on the console with the quarantine open")
}
