package main

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/httpapi"
)

// TestUIAppsBrowser drives the remittance and ToDo pages in chromium through
// the edge of `tandem up`: a user who is not an admin sees no failover
// button; the admin creates a remittance (listed, totals updated), is
// stopped by the form's validation, edits it (through a conflict with a
// change made elsewhere), deletes it after a confirmation; adds, edits and
// deletes a task; sees both pages disabled with the reference messages
// while fenced; and runs the failover from the remittance page, whose
// runbook is shown live, after which the navbar names the new writer and
// remittances can be created again.
func TestUIAppsBrowser(t *testing.T) {
	u := startUI(t)
	b, dir, edge, creds := u.browser, u.dir, u.edge, u.creds
	const wait = 15 * time.Second

	// A user who is not an admin: the remittance page without the failover.
	out := cli(t, "users", "add", "clerk-1", "--email", "clerk@example.com", "--dir", dir)
	m := regexp.MustCompile(`temporary password: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("users add:\n%s", out)
	}
	b.signIn(edge, "clerk-1", m[1], "Clerk-Browser-Passw0rd!", wait)
	b.openPage("remittances")
	b.waitFor("the remittance page for a user", `document.getElementById("rem-count").dataset.value === "0" && !document.getElementById("rem-submit").disabled && document.getElementById("rem-admin").hidden`, wait)
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	b.waitFor("the sign-in page", `!document.getElementById("view-signin").hidden`, wait)

	b.signIn(edge, creds.Username, creds.Password, "Browser-Test-Passw0rd!", wait)
	b.openPage("remittances")
	b.waitFor("the remittance page for the admin", `document.getElementById("rem-count").dataset.value === "0" && !document.getElementById("rem-submit").disabled && !document.getElementById("rem-admin").hidden && !document.getElementById("rem-empty").hidden`, wait)

	// Validation: nothing is sent, the wrong fields are marked.
	ana := map[string]string{"senderName": "Ana Lima", "senderBank": "Banco Um", "senderAccount": "0001-9", "receiverName": "Kenji Sato", "receiverBank": "Tokyo Bank", "receiverAccount": "9876", "amount": "0"}
	b.fillRemittance(ana)
	b.do("set an empty sender", chromedp.SetValue(chromedp.CSS("#rem-senderName"), "  "), chromedp.Click(chromedp.CSS("#rem-submit")))
	b.waitFor("the validation errors", `document.getElementById("rem-senderName").getAttribute("aria-invalid") === "true" && document.getElementById("rem-amount").getAttribute("aria-invalid") === "true" && document.getElementById("rem-amount-error").textContent.includes("greater than 0") && document.getElementById("rem-message").textContent !== "" && document.activeElement.id === "rem-senderName"`, wait)
	b.checkRemittances(0, 0)

	// Create.
	ana["amount"] = "250"
	b.fillRemittance(ana)
	b.do("create a remittance", chromedp.Click(chromedp.CSS("#rem-submit")))
	b.waitFor("the remittance listed", remittanceRow("Ana Lima", 250, 1)+` && document.getElementById("rem-notice").textContent === "Remittance created." && document.getElementById("rem-senderName").value === "" && document.getElementById("rem-senderName").getAttribute("aria-invalid") === null`, wait)
	b.checkRemittances(1, 250)
	b.waitFor("its creator", `document.querySelector("#rem-rows tr").cells[4].textContent === "`+creds.Username+`"`, wait)

	// Edit: a change made elsewhere in between is a conflict; the list is
	// read again and the second edit, at the new version, is saved.
	b.do("start editing", chromedp.Click(chromedp.CSS("#rem-rows tr:first-child button.secondary")))
	b.waitFor("the form holding the remittance", `document.getElementById("rem-amount").value === "250" && document.getElementById("rem-submit").textContent === "Save changes"`, wait)
	b.do("change it elsewhere", chromedp.Evaluate[chromedp.Void](`(async () => { const r = (await api("GET", "/remittance/get-remittances"))[0]; await api("POST", "/remittance/update-remittance", { ...r, amount: 999 }); return true; })()`, chromedp.EvalAwaitPromise))
	b.do("save the stale edit", chromedp.SetValue(chromedp.CSS("#rem-amount"), "300"), chromedp.Click(chromedp.CSS("#rem-submit")))
	b.waitFor("the conflict", `document.getElementById("rem-message").textContent.includes("changed elsewhere") && `+remittanceRow("Ana Lima", 999, 2), wait)
	b.do("edit again", chromedp.Click(chromedp.CSS("#rem-rows tr:first-child button.secondary")))
	b.waitFor("the form holding the new version", `document.getElementById("rem-amount").value === "999"`, wait)
	b.do("save the edit", chromedp.SetValue(chromedp.CSS("#rem-amount"), "300"), chromedp.Click(chromedp.CSS("#rem-submit")))
	b.waitFor("the new amount", remittanceRow("Ana Lima", 300, 3)+` && document.getElementById("rem-notice").textContent === "Remittance saved (version 3)." && document.getElementById("rem-message").textContent === ""`, wait)
	b.checkRemittances(1, 300)

	// Delete, after the confirmation.
	b.do("delete it", chromedp.Click(chromedp.CSS("#rem-rows tr:first-child button.danger")))
	b.waitFor("the confirmation", `document.getElementById("rem-delete-dialog").open && document.getElementById("rem-delete-text").textContent.includes("Ana Lima")`, wait)
	b.do("confirm", chromedp.Click(chromedp.CSS("#rem-delete-confirm")))
	b.waitFor("the remittance gone", `document.querySelectorAll("#rem-rows tr").length === 0 && document.getElementById("rem-notice").textContent === "Remittance deleted." && document.activeElement.id === "rem-senderName"`, wait)
	b.checkRemittances(0, 0)

	// ToDo: add (with the keyboard), change the status, delete (Escape
	// cancels the confirmation).
	b.openPage("todo")
	b.waitFor("the ToDo page", `!document.getElementById("todo-empty").hidden && !document.getElementById("todo-submit").disabled`, wait)
	b.do("add a task", chromedp.SendKeys(chromedp.CSS("#todo-task"), "Write the browser test"+kb.Enter))
	b.waitFor("the task listed", todoRow("Write the browser test", "todo")+` && document.getElementById("todo-notice").textContent.endsWith("added.")`, wait)
	b.do("edit the task", chromedp.Click(chromedp.CSS("#todo-rows tr:first-child button.secondary")))
	b.waitFor("the form holding the task", `document.getElementById("todo-task").value === "Write the browser test" && document.getElementById("todo-submit").textContent === "Save changes"`, wait)
	b.do("mark it done", chromedp.SetValue(chromedp.CSS("#todo-status"), "done"), chromedp.Click(chromedp.CSS("#todo-submit")))
	b.waitFor("the task done", todoRow("Write the browser test", "done")+` && document.getElementById("todo-notice").textContent.endsWith("saved.")`, wait)
	b.do("delete the task", chromedp.Click(chromedp.CSS("#todo-rows tr:first-child button.danger")))
	b.waitFor("the confirmation", `document.getElementById("todo-delete-dialog").open && document.activeElement.textContent === "Cancel"`, wait)
	b.do("cancel with Escape", chromedp.KeyEvent(kb.Escape))
	b.waitFor("the task kept", `!document.getElementById("todo-delete-dialog").open && document.activeElement.matches("#todo-rows button.danger") && `+todoRow("Write the browser test", "done"), wait)
	b.do("delete the task", chromedp.Click(chromedp.CSS("#todo-rows tr:first-child button.danger")))
	b.waitFor("the confirmation", `document.getElementById("todo-delete-dialog").open`, wait)
	b.do("confirm", chromedp.Click(chromedp.CSS("#todo-delete-confirm")))
	b.waitFor("the task gone", `document.querySelectorAll("#todo-rows tr").length === 0 && document.getElementById("todo-notice").textContent.endsWith("deleted.") && document.activeElement.id === "todo-task"`, wait)

	// Fenced: both pages disabled with the reference messages (within the
	// state polling interval, 3 s), enabled again when active.
	cli(t, "state", "set", "fenced", "--dir", dir)
	b.waitFor("the fenced ToDo page", `document.getElementById("todo-task").disabled && document.getElementById("todo-submit").disabled && document.getElementById("todo-fenced").textContent === `+jsString(httpapi.FencedToDoMessage), 10*time.Second)
	b.openPage("remittances")
	b.waitFor("the fenced remittance page", `document.getElementById("rem-senderName").disabled && document.getElementById("rem-submit").disabled && document.getElementById("rem-fenced").textContent === `+jsString(httpapi.FencedRemittanceMessage), 10*time.Second)
	cli(t, "state", "set", "active", "--dir", dir)
	b.waitFor("the remittance page enabled again", `!document.getElementById("rem-submit").disabled && document.getElementById("rem-fenced").textContent === ""`, 10*time.Second)

	// The admin's failover, followed live; then remittances are written in
	// the new writer region.
	b.do("start the failover", chromedp.Click(chromedp.CSS("#rem-failover")))
	b.waitFor("the confirmation", `document.getElementById("rem-failover-dialog").open`, wait)
	b.do("confirm", chromedp.Click(chromedp.CSS("#rem-failover-confirm")))
	b.waitFor("the failover's steps", `document.querySelector("#remittance-runbook[data-status=succeeded] .steps li") !== null && document.querySelector("#rem-runbook").getAttribute("aria-live") === "polite"`, 60*time.Second)
	b.waitFor("the navbar following the writer", `document.getElementById("region").textContent === "Current Region: `+tandem.DefaultStandbyRegion+`" && !document.getElementById("rem-failover").disabled`, wait)
	b.waitFor("the form enabled", `!document.getElementById("rem-submit").disabled`, wait)
	kenji := map[string]string{"senderName": "Kenji Sato", "senderBank": "Tokyo Bank", "senderAccount": "9876", "receiverName": "Ana Lima", "receiverBank": "Banco Um", "receiverAccount": "0001-9", "amount": "42"}
	b.fillRemittance(kenji)
	b.do("create a remittance after the failover", chromedp.Click(chromedp.CSS("#rem-submit")))
	b.waitFor("the remittance listed after the failover", remittanceRow("Kenji Sato", 42, 1)+` && document.getElementById("rem-notice").textContent === "Remittance created."`, wait)
	b.checkRemittances(1, 42)
}

// openPage shows the page name of the web app.
func (b *browser) openPage(name string) {
	b.t.Helper()
	b.do("open "+name, chromedp.Evaluate[chromedp.Void](`location.hash = "#/`+name+`"`))
	b.waitFor("the "+name+" page", `!document.getElementById("view-`+name+`").hidden`, 5*time.Second)
}

// fillRemittance types a remittance's fields into the form.
func (b *browser) fillRemittance(fields map[string]string) {
	b.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for name, value := range fields {
		actions = append(actions, chromedp.SetValue(chromedp.CSS("#rem-"+name), value))
	}
	b.do("fill the remittance form", actions...)
}

// checkRemittances waits for the totals and the table to show count
// remittances of total.
func (b *browser) checkRemittances(count, total int) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%d remittances of %d in all", count, total), fmt.Sprintf(`document.getElementById("rem-count").dataset.value === "%d" && document.getElementById("rem-total").dataset.value === "%d" && document.getElementById("rem-total").textContent === (%d).toLocaleString() && document.querySelectorAll("#rem-rows tr").length === %d && document.getElementById("rem-empty").hidden === (%d > 0)`, count, total, total, count, count), 10*time.Second)
}

// remittanceRow is a predicate: the table has the sender's remittance of
// amount at version.
func remittanceRow(sender string, amount, version int) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#rem-rows tr")].some((tr) => tr.querySelector(".party-name").textContent === %s && tr.cells[2].textContent === (%d).toLocaleString() && tr.cells[5].textContent === "%d" && tr.dataset.version === "%d")`, jsString(sender), amount, version, version)
}

// todoRow is a predicate: the ToDo table has the task with status.
func todoRow(task, status string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#todo-rows tr")].some((tr) => tr.cells[1].textContent === %s && tr.cells[2].textContent === %s)`, jsString(task), jsString(status))
}
