// console.js: the operations console (admins): status, switchover, runbooks.
"use strict";

let consoleTimer = null;
let liveRunbook = "";

page("console", {
  admin: true,
  start() { refreshConsole(); consoleTimer = setInterval(refreshConsole, 2000); },
  stop() { clearInterval(consoleTimer); consoleTimer = null; },
});

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

async function refreshConsole() {
  try {
    const st = await api("GET", "/control/v1/status");
    const snap = st.snapshot || {};
    $("op-state").textContent = snap.state || "unknown";
    $("op-writer").textContent = snap.writer || "none";
    $("op-epoch").textContent = String(snap.epoch ?? "");
    $("op-regions").replaceChildren(...(st.regions || []).map((r) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row"; th.textContent = r.name;
      const s = r.status;
      const lag = s && s.replication && s.replication.lag;
      const health = r.error ? "unreachable: " + r.error : s && s.health ? (s.health.ok ? "ok" : "failing") : "unknown";
      tr.append(th, cell(r.name === snap.writer ? "writer" : "standby"), cell(health),
        cell(lag ? String(lag.entries) : s ? "0" : "–"), cell(lag ? lag.seconds.toFixed(1) : s ? "0.0" : "–"));
      return tr;
    }));
    const sel = $("switch-target");
    const targets = (snap.regions || []).map((r) => r.name).filter((n) => n !== snap.writer);
    if (sel.options.length !== targets.length || [...sel.options].some((o, i) => o.value !== targets[i])) {
      sel.replaceChildren(...targets.map((n) => new Option(n, n)));
    }
    await refreshRunbooks();
    await refreshDashboard();
  } catch (e) { showError("Cannot read the controller's status: " + e.message); return; }
  showError("");
}

function runbookItem(rb) {
  const li = document.createElement("li");
  const head = document.createElement("p");
  head.textContent = rb.kind + " " + (rb.from ? rb.from + " → " : "") + rb.target + ": " + rb.status +
    (rb.message ? " (" + rb.message + ")" : "") + " — started " + new Date(rb.started).toLocaleString();
  const steps = document.createElement("ol");
  steps.className = "steps";
  for (const s of rb.steps || []) {
    const sli = document.createElement("li");
    sli.dataset.status = s.status;
    const took = s.started && s.ended ? " in " + ((new Date(s.ended) - new Date(s.started)) / 1000).toFixed(2) + " s" : "";
    sli.textContent = s.name + ": " + s.status + took + (s.message ? " — " + s.message : "");
    steps.append(sli);
  }
  li.append(head, steps);
  return li;
}

async function refreshRunbooks() {
  const res = await api("GET", "/control/v1/runbooks");
  const rbs = res.runbooks || [];
  $("runbooks").replaceChildren(...rbs.slice(0, 20).map(runbookItem));
  const live = rbs.find((r) => r.id === liveRunbook);
  if (live) {
    const box = $("runbook-live");
    box.replaceChildren(runbookItem(live));
    box.firstChild.id = "runbook-current";
    box.firstChild.dataset.status = live.status;
    if (live.status === "succeeded" || live.status === "failed") {
      liveRunbook = "";
      refreshState(); // shows the new writer region at once
    }
  }
}

$("switch-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const target = $("switch-target").value;
  if (!target) { showError("There is no region to switch over to."); return; }
  $("switch-dialog-text").textContent = "Make " + target + " the writer region? Writes pause briefly while the switchover runs.";
  $("switch-dialog").showModal();
});

$("switch-dialog").addEventListener("close", async () => {
  if ($("switch-dialog").returnValue !== "confirm") return;
  const target = $("switch-target").value;
  try {
    const rb = await api("POST", "/control/v1/runbooks", { kind: "switchover", target });
    liveRunbook = rb.id;
    show($("notice"), "Switchover to " + target + " started.");
    await refreshRunbooks();
  } catch (e) { showError("Cannot start the switchover: " + e.message); }
});
