// remittance.js: the remittances page — a dashboard of every remittance
// with totals, a form to create and edit one, deletion, and (for admins) a
// failover whose runbook is shown live.
"use strict";

(() => {
  const FENCED = "Remittances cannot currently be changed. Please try again in a few minutes";
  const FIELDS = [
    { name: "senderName", what: "the sender's name" },
    { name: "senderBank", what: "the sender's bank" },
    { name: "senderAccount", what: "the sender's account" },
    { name: "receiverName", what: "the receiver's name" },
    { name: "receiverBank", what: "the receiver's bank" },
    { name: "receiverAccount", what: "the receiver's account" },
  ];
  // MAX_TEXT is tandem.MaxRemittanceText. Amounts stop at the largest
  // integer JavaScript holds exactly (the server takes up to 2^63-1), so that
  // what is shown and sent back on an edit is what is stored.
  const MAX_TEXT = 100;
  const MAX_AMOUNT = BigInt(Number.MAX_SAFE_INTEGER);
  const REFRESH_MS = 5000;
  const RUNBOOK_POLL_MS = 1000;

  let listTimer = null;
  let shown = false;
  let rows = []; // the last list read
  let listKey = ""; // what the table shows, to re-render only on change
  let editing = null; // {id, version} of the remittance in the form
  let runbookID = ""; // the failover being followed
  let runbookTimer = null;
  let runbookErrors = 0;

  page("remittances", {
    start() {
      shown = true;
      $("rem-admin").hidden = !isAdmin();
      $("rem-failover").disabled = !!runbookID;
      render();
      load();
      listTimer = setInterval(load, REFRESH_MS);
      if (runbookID) followRunbook();
    },
    stop() {
      shown = false;
      clearInterval(listTimer);
      listTimer = null;
      clearTimeout(runbookTimer);
      runbookTimer = null;
    },
  });
  appState.listeners.push(() => { if (shown) render(); });

  function isAdmin() {
    const s = session.get();
    return !!s && s.role === "admin";
  }

  const input = (name) => $("rem-" + name);

  // checkText mirrors tandem.CheckText: 1 to max characters, not blank, no
  // control characters.
  function checkText(value, what, max) {
    if (typeof value.isWellFormed === "function" && !value.isWellFormed()) return "Enter " + what + " without broken characters.";
    if (value.trim() === "") return "Enter " + what + " (1 to " + max + " characters).";
    if ([...value].length > max) return "Shorten " + what + " to at most " + max + " characters.";
    if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return "Remove the control characters from " + what + ".";
    return "";
  }

  function checkAmount(value) {
    const v = value.trim();
    if (v === "") return "Enter the amount (a whole number greater than 0).";
    if (!/^\d+$/.test(v)) return "The amount must be a whole number, digits only.";
    const n = BigInt(v);
    if (n <= 0n) return "The amount must be greater than 0.";
    if (n > MAX_AMOUNT) return "The amount must be at most " + MAX_AMOUNT.toLocaleString() + ".";
    return "";
  }

  function setFieldError(name, text) {
    const el = input(name);
    show($("rem-" + name + "-error"), text);
    if (text) el.setAttribute("aria-invalid", "true");
    else el.removeAttribute("aria-invalid");
  }

  // validate checks the form as the server would and marks each wrong
  // field; it returns the remittance to send, or null.
  function validate() {
    const rem = {};
    let first = null;
    for (const f of FIELDS) {
      const bad = checkText(input(f.name).value, f.what, MAX_TEXT);
      setFieldError(f.name, bad);
      if (bad && !first) first = f.name;
      rem[f.name] = input(f.name).value;
    }
    const bad = checkAmount(input("amount").value);
    setFieldError("amount", bad);
    if (bad && !first) first = "amount";
    if (first) {
      message("Please correct the marked fields.");
      input(first).focus();
      return null;
    }
    rem.amount = Number(input("amount").value.trim());
    return rem;
  }

  const form = writeForm("rem", FENCED);
  const { message, notice, render } = form;

  async function load() {
    try {
      const list = await api("GET", "/remittance/get-remittances");
      rows = Array.isArray(list) ? list : [];
      $("rem-list-error").textContent = "";
      renderList();
    } catch (e) {
      if (shown) $("rem-list-error").textContent = "Cannot load the remittances: " + e.message;
    }
  }

  function formatAmount(n) { return Number(n).toLocaleString(); }

  // partyCell shows a sender or receiver: name, bank and account.
  function partyCell(name, bank, account) {
    const td = document.createElement("td");
    const line = (text, cls) => {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      return span;
    };
    td.append(line(name, "party-name"), line(bank, "party-bank"), line("Account " + account, "party-account"));
    return td;
  }

  function describe(r) {
    return "from " + r.senderName + " to " + r.receiverName + ", " + formatAmount(r.amount);
  }

  // renderList shows the list and totals when they changed, keeping the
  // focus on the button it was on.
  function renderList() {
    const key = JSON.stringify(rows);
    if (key === listKey) return;
    listKey = key;
    const focused = document.activeElement && document.activeElement.closest("#rem-rows button");
    const focusKey = focused ? focused.dataset.focusKey : "";
    let total = 0n;
    const trs = rows.map((r) => {
      total += BigInt(Math.trunc(Number(r.amount) || 0));
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      tr.dataset.version = String(r.version);
      const created = r.creationTimestamp ? new Date(r.creationTimestamp) : null;
      const actions = document.createElement("td");
      actions.className = "actions";
      const edit = actionButton("Edit", "Edit remittance " + describe(r), () => startEdit(r), "secondary");
      const del = actionButton("Delete", "Delete remittance " + describe(r), () => confirmDelete(r), "danger");
      edit.dataset.focusKey = r.id + "/edit";
      del.dataset.focusKey = r.id + "/delete";
      actions.append(edit, del);
      tr.append(partyCell(r.senderName, r.senderBank, r.senderAccount),
        partyCell(r.receiverName, r.receiverBank, r.receiverAccount),
        cell(formatAmount(r.amount), "num"),
        cell(created ? created.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "", "created"),
        cell(r.createdBy || ""), cell(String(r.version), "num"), actions);
      return tr;
    });
    $("rem-rows").replaceChildren(...trs);
    $("rem-empty").hidden = rows.length > 0;
    $("rem-count").textContent = rows.length.toLocaleString();
    $("rem-count").dataset.value = String(rows.length);
    $("rem-total").textContent = total.toLocaleString();
    $("rem-total").dataset.value = total.toString();
    if (focusKey) {
      const again = $("rem-rows").querySelector('button[data-focus-key="' + CSS.escape(focusKey) + '"]');
      if (again) again.focus();
    }
    render();
  }

  function startEdit(r) {
    editing = { id: r.id, version: r.version };
    for (const f of FIELDS) input(f.name).value = r[f.name] || "";
    input("amount").value = String(r.amount);
    for (const f of [...FIELDS, { name: "amount" }]) setFieldError(f.name, "");
    $("rem-form-title").textContent = "Edit remittance " + describe(r);
    $("rem-submit").textContent = "Save changes";
    $("rem-cancel").hidden = false;
    message("");
    notice("");
    $("rem-form").scrollIntoView({ block: "nearest" });
    input("senderName").focus();
  }

  function endEdit() {
    editing = null;
    $("rem-form").reset();
    for (const f of [...FIELDS, { name: "amount" }]) setFieldError(f.name, "");
    $("rem-form-title").textContent = "New remittance";
    $("rem-submit").textContent = "Create remittance";
    $("rem-cancel").hidden = true;
  }

  $("rem-cancel").addEventListener("click", () => { endEdit(); message(""); notice(""); input("senderName").focus(); });


  $("rem-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message("");
    notice("");
    const rem = validate();
    if (!rem || !(await form.gate())) return;
    const was = editing;
    await form.run(async () => {
      try {
        if (was) {
          const saved = await api("POST", "/remittance/update-remittance", { ...rem, id: was.id, version: was.version });
          endEdit();
          notice("Remittance saved (version " + saved.version + ").");
        } else {
          await api("POST", "/remittance/create-remittance", rem);
          endEdit();
          notice("Remittance created.");
        }
      } catch (e) {
        if (e.status === 409) {
          message("This remittance was changed elsewhere, so your changes were not saved. The list now shows it as it is; edit it again.");
          endEdit();
        } else if (e.status === 404) {
          message("This remittance was deleted elsewhere.");
          endEdit();
        } else {
          message(e.status === 503 ? FENCED : e.message);
          if (e.status === 503) refreshState();
        }
      }
      await load();
    });
  });

  async function confirmDelete(r) {
    message("");
    notice("");
    $("rem-delete-text").textContent = "Delete the remittance " + describe(r) + "? This cannot be undone.";
    if (!(await askDialog($("rem-delete-dialog"))) || !(await form.gate())) return;
    await form.run(async () => {
      try {
        await api("POST", "/remittance/delete-remittance", { id: r.id, version: r.version });
        if (editing && editing.id === r.id) endEdit();
        notice("Remittance deleted.");
      } catch (e) {
        if (e.status === 409) message("This remittance was changed elsewhere, so it was not deleted. The list now shows it as it is.");
        else if (e.status === 404) message("This remittance was already deleted.");
        else message(e.status === 503 ? FENCED : e.message);
      }
      await load();
    });
    // The row's buttons may be gone with the row: keep the focus in the page.
    if (document.activeElement === document.body) input("senderName").focus();
  }

  // The admin's failover: the region passes it to the controller, whose
  // runbook record is then read every second until it ends.
  $("rem-failover").addEventListener("click", async () => {
    $("rem-failover-message").textContent = "";
    if (!(await askDialog($("rem-failover-dialog")))) return;
    $("rem-failover").disabled = true;
    try {
      const rb = await api("POST", "/remittance/execute-runbook", { kind: "failover" });
      runbookID = rb.id;
      runbookErrors = 0;
      showRunbook(rb);
      followRunbook();
    } catch (e) {
      $("rem-failover-message").textContent = "Cannot start the failover: " + e.message;
      $("rem-failover").disabled = false;
    }
  });

  function showRunbook(rb) {
    const item = runbookItem(rb);
    item.id = "remittance-runbook";
    item.dataset.status = rb.status;
    $("rem-runbook").replaceChildren(item);
  }

  function followRunbook() {
    clearTimeout(runbookTimer);
    $("rem-failover").disabled = true;
    runbookTimer = setTimeout(pollRunbook, RUNBOOK_POLL_MS);
  }

  async function pollRunbook() {
    runbookTimer = null;
    const id = runbookID;
    if (!id || !shown) return;
    try {
      const rb = await api("GET", "/control/v1/runbooks/" + encodeURIComponent(id));
      runbookErrors = 0;
      if (id !== runbookID || !shown) return;
      showRunbook(rb);
      if (rb.status === "succeeded" || rb.status === "failed") {
        runbookID = "";
        $("rem-failover").disabled = false;
        await refreshState(); // shows the new writer region at once
        await load();
        return;
      }
    } catch (e) {
      // The edge may briefly have no writer to ask; give up only when the
      // controller stays unreachable.
      if (++runbookErrors >= 30) {
        $("rem-failover-message").textContent = "Cannot follow the failover: " + e.message + ". See the operations console.";
        runbookID = "";
        $("rem-failover").disabled = false;
        return;
      }
    }
    if (shown && id === runbookID) runbookTimer = setTimeout(pollRunbook, RUNBOOK_POLL_MS);
  }
})();
