// ops.js: the console's controls: application state, routing controls,
// automatic failover, and the quarantine.
"use strict";

(() => {
  consolePart({
    start() { $("q-detail").hidden = true; routingKey = ""; quarantineKey = ""; loadQuarantine(); },
    refresh(st) { renderRouting(st.snapshot || {}); renderAutoFailover(st.autoFailover); loadQuarantine(); },
  });

  function controlsMessage(text) { $("controls-message").textContent = text; }

  // State.
  $("state-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    controlsMessage("");
    const state = $("state-value").value;
    const now = consoleStatus && consoleStatus.snapshot ? consoleStatus.snapshot.state : "";
    if (state === now) { controlsMessage("The state is " + state + " already."); return; }
    let text = state === "fenced"
      ? "Fence the application? Every region refuses writes until the fence is lifted; reads go on."
      : state === "failover"
        ? "Return to the failover state? The promoted writer accepts writes again, and automatic failover stays off until a failback."
        : "Set the application active? The writer accepts writes again.";
    if (now === "failover" && state === "active") text += " It is in the failover state: this ends it without moving the writer back (a failback does both), and automatic failover may act again.";
    if (consoleRunbooks.some((rb) => rb.status === "running")) text += " A runbook is running: the controller refuses the change until it ends.";
    if (!(await confirmAction("Set the state", text, "Set " + state))) return;
    try {
      const snap = await api("PUT", "/control/v1/state", { state });
      controlsMessage("The state is now " + snap.state + ".");
      if (consoleStatus) consoleStatus.snapshot = snap;
      $("op-state").textContent = snap.state;
      refreshState();
    } catch (e) { controlsMessage("The state was not changed: " + e.message); }
  });

  // Routing controls, drawn again only when they change so that a focused
  // button keeps its focus.
  let routingKey = "";

  function renderRouting(snap) {
    const regions = (snap.regions || []).map((r) => r.name);
    const key = JSON.stringify([snap.writer, regions.map((n) => [n, !!(snap.routing || {})[n]])]);
    if (key === routingKey) return;
    routingKey = key;
    $("routing-list").replaceChildren(...regions.map((name) => {
      const on = !!(snap.routing || {})[name];
      const li = el("li");
      li.dataset.region = name;
      li.dataset.on = String(on);
      const b = el("button", on ? "Turn off…" : "Turn on…");
      b.type = "button";
      b.setAttribute("aria-label", (on ? "Turn off" : "Turn on") + " routing to " + name);
      b.addEventListener("click", () => setRouting(name, !on, name === snap.writer));
      li.append(el("span", name + (name === snap.writer ? " (writer)" : "") + ": " + (on ? "on" : "off") + " "), b);
      return li;
    }));
  }

  async function setRouting(region, on, isWriter) {
    controlsMessage("");
    const text = on
      ? "Turn routing to " + region + " on? The edge sends it traffic again" + (isWriter ? ", writes first." : ", as a fallback for reads.")
      : "Turn routing to " + region + " off? The edge sends it no traffic" + (isWriter ? ": as it is the writer, writes through the edge fail until it is on again." : ".");
    if (!(await confirmAction("Change a routing control", text, on ? "Turn on" : "Turn off"))) return;
    try {
      const snap = await api("PUT", "/control/v1/routing/" + encodeURIComponent(region), { on });
      controlsMessage("Routing to " + region + " is " + (snap.routing[region] ? "on" : "off") + ".");
      renderRouting(snap);
    } catch (e) { controlsMessage("The routing control was not changed: " + e.message); }
  }

  // Automatic failover.
  let autoFailover = null;

  function renderAutoFailover(af) {
    if (!af) return;
    autoFailover = af;
    let text;
    if (!af.enabled) text = "off in the configuration (auto_failover)";
    else if (af.paused) text = "paused since " + new Date(af.pausedAt).toLocaleString();
    else if (af.cooldownUntil) text = "on, cooling down after the last automatic failover until " + new Date(af.cooldownUntil).toLocaleTimeString();
    else text = "on";
    if (af.enabled && af.paused) text += " (resume to let the controller fail a dead writer over)";
    $("op-autofailover").textContent = text;
    $("af-status").textContent = "Automatic failover is " + text + ". It acts only on a dead writer, in the active state, with a fit standby at most " + af.maxLagEntries + " entries behind.";
    $("af-status").dataset.paused = String(af.paused);
    const b = $("af-toggle");
    b.disabled = false;
    b.textContent = af.paused ? "Resume automatic failover…" : "Pause automatic failover…";
  }

  $("af-toggle").addEventListener("click", async () => {
    controlsMessage("");
    const paused = !(autoFailover && autoFailover.paused);
    const text = paused
      ? "Pause automatic failover? From the next alarm on, a dead writer waits for an operator. A failover already running goes on."
      : "Resume automatic failover? From the next alarm on, the controller fails a dead writer over by itself when the guard rails hold.";
    if (!(await confirmAction(paused ? "Pause automatic failover" : "Resume automatic failover", text, paused ? "Pause" : "Resume"))) return;
    try {
      renderAutoFailover(await api("PUT", "/control/v1/autofailover", { paused }));
      controlsMessage("Automatic failover " + (paused ? "paused." : "resumed."));
    } catch (e) { controlsMessage("Automatic failover was not changed: " + e.message); }
  });

  // Quarantine.
  let quarantineKey = "";
  let quarantineOpen = "";
  let quarantineLoading = false;

  function quarantineMessage(text, kind = "") {
    $("q-message").textContent = text;
    $("q-message").dataset.kind = kind;
  }

  async function loadQuarantine() {
    if (quarantineLoading) return;
    quarantineLoading = true;
    try {
      const res = await api("GET", "/api/admin/quarantine");
      renderQuarantine(res.entries || []);
      if ($("q-message").dataset.kind === "load") quarantineMessage("");
    } catch (e) {
      quarantineMessage("Cannot list the quarantine: " + e.message, "load");
    } finally { quarantineLoading = false; }
  }

  function renderQuarantine(entries) {
    const key = JSON.stringify(entries.map((e) => [e.id, e.status]));
    if (key === quarantineKey) return;
    quarantineKey = key;
    const rows = entries.map((e) => {
      const tr = el("tr");
      tr.dataset.id = e.id;
      tr.dataset.status = e.status;
      const th = el("th", e.id);
      th.scope = "row";
      const b = el("button", "Show");
      b.type = "button";
      b.setAttribute("aria-label", "Show entry " + e.id);
      b.addEventListener("click", () => openQuarantine(e.id));
      const act = el("td");
      act.append(b);
      tr.append(th, cell(e.region), cell(e.change.table), cell(e.change.op), cell(e.status), cell(new Date(e.quarantinedAt).toLocaleString()), act);
      return tr;
    });
    if (!rows.length) {
      const td = cell("The quarantine is empty.");
      td.colSpan = 7;
      rows.push(el("tr"));
      rows[0].append(td);
    }
    $("q-list").replaceChildren(...rows);
  }

  function pretty(raw) {
    if (raw === undefined || raw === null) return "(no row)";
    return JSON.stringify(raw, null, 2);
  }

  async function openQuarantine(id) {
    quarantineMessage("");
    try {
      const e = await api("GET", "/api/admin/quarantine/" + encodeURIComponent(id));
      quarantineOpen = id;
      renderEntry(e);
      $("q-outcome").textContent = "";
      delete $("q-outcome").dataset.status;
      $("q-detail").hidden = false;
      $("q-detail-title").focus();
    } catch (err) { quarantineMessage("Cannot read entry " + id + ": " + err.message); }
  }

  function renderEntry(e) {
    const c = e.change;
    $("q-detail-id").textContent = e.id;
    $("q-detail").dataset.status = e.status;
    const facts = [
      ["Region", e.region], ["Table", c.table], ["Operation", c.op], ["Key", JSON.stringify(c.key)],
      ["LSN, epoch", c.lsn + ", " + c.epoch], ["Committed", new Date(c.time).toLocaleString()],
      ["Quarantined", new Date(e.quarantinedAt).toLocaleString()], ["Reason", e.reason], ["Status", e.status],
    ];
    if (e.resolution) facts.push(["Resolution", e.resolution + (e.resolvedAt ? " (" + new Date(e.resolvedAt).toLocaleString() + ")" : "")]);
    $("q-detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
    $("q-before").textContent = pretty(c.before);
    $("q-after").textContent = pretty(c.after);
    $("q-replay").hidden = e.status === "replayed";
  }

  $("q-detail-title").tabIndex = -1;
  $("q-refresh").addEventListener("click", () => { quarantineKey = ""; loadQuarantine(); });

  $("q-replay").addEventListener("click", async () => {
    const id = quarantineOpen;
    const out = $("q-outcome");
    if (!(await confirmAction("Replay a quarantined write", "Replay entry " + id + "? It is applied as a new write in the current epoch if its row is exactly as the entry found it; otherwise it is recorded as a conflict and nothing is written.", "Replay"))) return;
    out.textContent = "";
    let e;
    try {
      e = await api("POST", "/api/admin/quarantine/" + encodeURIComponent(id) + "/replay");
    } catch (err) {
      if (err.status !== 409) { out.dataset.status = "error"; out.textContent = "Not replayed: " + err.message; return; }
      // A conflict answers 409 with the entry as recorded: read it again.
      try { e = await api("GET", "/api/admin/quarantine/" + encodeURIComponent(id)); } catch { e = null; }
      const conflict = !e || e.status === "conflict";
      out.dataset.status = conflict ? "conflict" : e.status;
      out.textContent = (conflict ? "Conflict: " : "Not replayed: ") + err.message;
      if (e) renderEntry(e);
      quarantineKey = "";
      loadQuarantine();
      return;
    }
    renderEntry(e);
    out.dataset.status = e.status;
    out.textContent = e.status === "replayed" ? "Replayed: " + (e.resolution || "applied as a new write") + "." : "Outcome: " + e.status + (e.resolution ? " — " + e.resolution : "");
    quarantineKey = "";
    loadQuarantine();
  });
})();
