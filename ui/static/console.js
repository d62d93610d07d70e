// console.js: the operations console (admins): status, runbooks, and the
// confirmation dialog the other console scripts share. ops.js and people.js
// add their panels with consolePart().
"use strict";

let consoleTimer = null;
let liveRunbook = "";
let consoleStatus = null; // the newest GET /control/v1/status answer
let consoleRunbooks = []; // the newest runbooks, newest first

// consoleParts are the panels of other scripts: start() when the console
// opens, refresh(status) after every status poll, stop() when it closes.
const consoleParts = [];
function consolePart(part) { consoleParts.push(part); }

page("console", {
  admin: true,
  start() {
    for (const p of consoleParts) if (p.start) p.start();
    refreshConsole();
    consoleTimer = setInterval(refreshConsole, 2000);
  },
  stop() {
    clearInterval(consoleTimer);
    consoleTimer = null;
    for (const p of consoleParts) if (p.stop) p.stop();
  },
});

// askWith shows dialog (see askDialog) with text in its [data-role=text]
// paragraph, and opts.title and opts.ok as its heading and confirm button.
function askWith(dialog, text, opts = {}) {
  dialog.querySelector("[data-role=text]").textContent = text;
  if (opts.title) dialog.querySelector("h2").textContent = opts.title;
  if (opts.ok) dialog.querySelector("button[value=confirm]").textContent = opts.ok;
  return askDialog(dialog);
}

// confirmAction asks with the shared confirmation dialog.
function confirmAction(title, text, ok) {
  return askWith($("confirm-dialog"), text, { title, ok });
}

// setOptions replaces a select's options when the values differ, so that a
// choice being made is not reset every poll.
function setOptions(sel, values, preferred) {
  if (sel.options.length === values.length && [...sel.options].every((o, i) => o.value === values[i])) return;
  sel.replaceChildren(...values.map((n) => new Option(n, n)));
  if (preferred && values.includes(preferred)) sel.value = preferred;
}

async function refreshConsole() {
  try {
    const st = await api("GET", "/control/v1/status");
    consoleStatus = st;
    const snap = st.snapshot || {};
    $("op-state").textContent = snap.state || "unknown";
    $("op-writer").textContent = snap.writer || "none";
    $("op-epoch").textContent = String(snap.epoch ?? "");
    $("op-regions").replaceChildren(...(st.regions || []).map((r) => regionRow(r, snap)));
    const targets = (snap.regions || []).map((r) => r.name).filter((n) => n !== snap.writer);
    setOptions($("switch-target"), targets);
    setOptions($("failover-target"), targets);
    setOptions($("failback-target"), targets, failbackTarget(snap));
    for (const p of consoleParts) if (p.refresh) p.refresh(st);
    await refreshRunbooks();
    await refreshDashboard();
  } catch (e) { showError("Cannot read the controller's status: " + e.message); return; }
  showError("");
}

function regionRow(r, snap) {
  const tr = document.createElement("tr");
  tr.dataset.region = r.name;
  const th = el("th", r.name);
  th.scope = "row";
  const s = r.status;
  const lag = s && s.replication && s.replication.lag;
  const health = r.error ? (r.error.startsWith("unreachable") ? r.error : "unreachable: " + r.error) : s && s.health ? (s.health.ok ? "ok" : "failing") : "unknown";
  const entries = cell(lag ? String(lag.entries) : s ? "0" : "–");
  entries.className = "lag-entries";
  tr.append(th, cell(r.name === snap.writer ? "writer" : "standby"), cell(health),
    entries, cell(lag ? lag.seconds.toFixed(1) : s ? "0.0" : "–"),
    cell(snap.routing && snap.routing[r.name] ? "on" : "off"));
  return tr;
}

// failbackTarget is the region the newest failover moved away from.
function failbackTarget(snap) {
  const fo = consoleRunbooks.find((rb) => rb.kind === "failover");
  return fo && fo.from !== snap.writer ? fo.from : "";
}

function seconds(a, b) { return (new Date(b) - new Date(a)) / 1000; }

// stepItem is one step: its status, duration and message in words, and a
// bar as long as its share of the runbook's time (decoration only).
function stepItem(s, total) {
  const li = el("li");
  li.dataset.status = s.status;
  const took = s.started && s.ended ? seconds(s.started, s.ended) : null;
  const text = el("span", s.name + ": " + s.status + (took !== null ? " in " + took.toFixed(2) + " s" : "") + (s.message ? " — " + s.message : ""), "step-text");
  li.append(text);
  if (took !== null && total > 0) {
    const bar = el("span", undefined, "step-bar");
    bar.setAttribute("aria-hidden", "true");
    bar.style.width = Math.max(0.5, (100 * took) / total).toFixed(1) + "%";
    li.append(bar);
  }
  return li;
}

function runbookSummary(rb) {
  const parts = [rb.automatic ? "automatic " + rb.kind : rb.kind, (rb.from ? rb.from + " → " : "") + rb.target + ":", rb.status];
  if (rb.force) parts.push("(forced)");
  if (rb.message) parts.push("(" + rb.message + ")");
  parts.push("— started " + new Date(rb.started).toLocaleString());
  if (rb.ended) parts.push("in " + seconds(rb.started, rb.ended).toFixed(1) + " s");
  if (rb.rtoMs) parts.push("· RTO " + rb.rtoMs + " ms");
  if (rb.rpo) parts.push("· RPO " + (rb.rpo.settledEntries !== undefined ? rb.rpo.settledEntries + " entries (settled)" : "estimate " + rb.rpo.entries + " entries"));
  return parts.join(" ");
}

function runbookItem(rb) {
  const li = el("li");
  li.dataset.kind = rb.kind;
  li.dataset.status = rb.status;
  const steps = el("ol", undefined, "steps");
  const total = rb.ended ? seconds(rb.started, rb.ended) : seconds(rb.started, new Date());
  steps.append(...(rb.steps || []).map((s) => stepItem(s, total)));
  li.append(el("p", runbookSummary(rb)), steps);
  return li;
}

async function refreshRunbooks() {
  const res = await api("GET", "/control/v1/runbooks");
  const rbs = (consoleRunbooks = res.runbooks || []);
  $("runbooks").replaceChildren(...rbs.slice(0, 20).map(runbookItem));
  const live = rbs.find((r) => r.id === liveRunbook);
  if (live) {
    const item = runbookItem(live);
    item.id = "runbook-current";
    $("runbook-live").replaceChildren(item);
    if (live.status === "succeeded" || live.status === "failed") {
      liveRunbook = "";
      refreshState(); // shows the new writer region at once
    }
  }
}

// runbookKinds describes each runbook's form and what its dialog says.
const runbookKinds = {
  switchover: {
    form: "switch-form", target: "switch-target", dialog: "switch-dialog",
    text: (t) => "Make " + t + " the writer region? The application is fenced, " + t + " catches up with the writer and is promoted; writes pause briefly and no acknowledged write is lost.",
  },
  failover: {
    form: "failover-form", target: "failover-target", dialog: "failover-dialog",
    body: () => ({ force: $("failover-force").checked }),
    text: (t) => "Fail over to " + t + "? The current writer's lease is revoked (a new epoch with no writer), the runbook waits until it has expired, then " + t +
      " is promoted at whatever it has applied and the state becomes failover. Writes the old writer had not replicated are quarantined when it returns." +
      ($("failover-force").checked ? " Forced: " + t + " is promoted even if its store is unhealthy or it cannot be reached." : ""),
  },
  failback: {
    form: "failback-form", target: "failback-target", dialog: "failback-dialog",
    text: (t) => "Fail back to " + t + "? The runbook waits until " + t + " has rejoined and caught up (its unreplicated writes go to the quarantine), then switches the writer over to it and sets the state active.",
  },
};

async function startRunbook(kind) {
  const k = runbookKinds[kind];
  const target = $(k.target).value;
  const msg = $("runbook-message");
  msg.textContent = "";
  if (!target) { msg.textContent = "There is no region to run a " + kind + " to."; return; }
  if (!(await askWith($(k.dialog), k.text(target)))) return;
  $("runbook-live").replaceChildren();
  try {
    const rb = await api("POST", "/control/v1/runbooks", { kind, target, ...(k.body ? k.body() : {}) });
    liveRunbook = rb.id;
    show($("notice"), kind[0].toUpperCase() + kind.slice(1) + " to " + target + " started.");
    await refreshRunbooks();
  } catch (e) { msg.textContent = "Cannot start the " + kind + ": " + e.message; }
}

for (const kind of Object.keys(runbookKinds)) {
  $(runbookKinds[kind].form).addEventListener("submit", (ev) => { ev.preventDefault(); startRunbook(kind); });
}
