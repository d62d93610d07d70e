// dashboard.js: the console's live dashboard, drawn as inline SVG from
// GET /control/v1/dashboard (the controller computes the rates).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const lagHistory = {}; // region -> [{t, entries, seconds}], newest last, bounded

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// sparkline draws values (oldest first) as a line with its latest value.
function sparkline(label, values, fmt, cls) {
  const w = 220, h = 48, pad = 2;
  const box = document.createElement("figure");
  box.className = "spark " + (cls || "");
  const cap = document.createElement("figcaption");
  const last = values.length ? values[values.length - 1] : null;
  cap.textContent = label + ": " + (last === null ? "–" : fmt(last));
  const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": cap.textContent });
  s.append(svg("rect", { x: 0, y: 0, width: w, height: h, class: "spark-bg" }));
  const top = Math.max(...values, 0) || 1;
  if (values.length > 1) {
    const pts = values.map((v, i) => [pad + (i * (w - 2 * pad)) / (values.length - 1), h - pad - (v / top) * (h - 2 * pad)]);
    s.append(svg("polyline", { points: pts.map((p) => p.map((x) => x.toFixed(1)).join(",")).join(" "), class: "spark-line" }));
  }
  s.append(svg("text", { x: w - 4, y: 12, "text-anchor": "end", class: "spark-max" }, "max " + fmt(top)));
  box.append(cap, s);
  return box;
}

// healthStrip draws the recent health checks, oldest first, one cell each.
function healthStrip(results) {
  const cw = 8, h = 16, w = Math.max(1, results.length) * (cw + 1);
  const box = document.createElement("figure");
  box.className = "spark";
  const cap = document.createElement("figcaption");
  const bad = results.filter((r) => !r.ok).length;
  cap.textContent = "Health: " + (results.length ? `${results.length - bad} of ${results.length} checks ok` : "no checks yet");
  const s = svg("svg", { width: w, height: h, role: "img", "aria-label": cap.textContent, class: "health-strip" });
  results.forEach((r, i) => {
    const rect = svg("rect", { x: i * (cw + 1), y: 0, width: cw, height: h, class: r.ok ? "ok" : "bad" });
    rect.append(svg("title", {}, new Date(r.at).toLocaleTimeString() + (r.ok ? " ok" : " failing" + (r.error ? ": " + r.error : ""))));
    s.append(rect);
  });
  box.append(cap, s);
  return box;
}

function regionCard(r, writer) {
  const card = document.createElement("article");
  card.className = "dash-region";
  card.dataset.region = r.name;
  card.dataset.requestRate = String(r.latest.requestRate);
  card.dataset.errorRate = String(r.latest.errorRate);
  card.dataset.p99Ms = String(r.latest.p99Ms);
  card.dataset.healthChecks = String(r.health.length);
  const h = document.createElement("h3");
  h.textContent = r.name + (r.name === writer ? " (writer)" : " (standby)");
  const hist = (lagHistory[r.name] = lagHistory[r.name] || []);
  hist.push({ entries: r.lag ? r.lag.entries : 0, seconds: r.lag ? r.lag.seconds : 0 });
  if (hist.length > 60) hist.shift();
  card.append(h,
    sparkline("Requests/s", r.series.map((p) => p.requestRate), (v) => v.toFixed(1)),
    sparkline("Errors (5xx)", r.series.map((p) => p.errorRate * 100), (v) => v.toFixed(1) + " %", "errors"),
    sparkline("p99 latency", r.series.map((p) => p.p99Ms), (v) => v.toFixed(1) + " ms"),
    sparkline("Lag (entries)", hist.map((l) => l.entries), (v) => String(Math.round(v))),
    sparkline("Lag (s)", hist.map((l) => l.seconds), (v) => v.toFixed(1) + " s"),
    healthStrip(r.health));
  return card;
}

function timelineItems(d) {
  const items = [];
  for (const e of d.events) items.push({ at: e.at, kind: "event", text: `${e.what} (state ${e.state}, writer ${e.writer || "none"}, epoch ${e.epoch})` });
  for (const rb of d.runbooks) {
    items.push({ at: rb.started, kind: "runbook", status: rb.status,
      text: `${rb.automatic ? "automatic " : ""}${rb.kind} ${rb.from ? rb.from + " → " : ""}${rb.target}: ${rb.status}` +
        (rb.ended ? ` in ${((new Date(rb.ended) - new Date(rb.started)) / 1000).toFixed(1)} s` : "") });
  }
  return items.sort((a, b) => new Date(b.at) - new Date(a.at)).slice(0, 40);
}

async function refreshDashboard() {
  const d = await api("GET", "/control/v1/dashboard");
  $("dash-regions").replaceChildren(...d.regions.map((r) => regionCard(r, d.writer)));
  $("dash-alarms").replaceChildren(...d.alarms.map((a) => {
    const li = document.createElement("li");
    li.dataset.state = a.state;
    li.textContent = `${a.name}${a.region ? " (" + a.region + ")" : ""}: ${a.state} since ${new Date(a.since).toLocaleTimeString()}` + (a.reason ? " — " + a.reason : "");
    return li;
  }));
  if (!d.alarms.length) $("dash-alarms").replaceChildren(Object.assign(document.createElement("li"), { textContent: "No alarms." }));
  $("dash-timeline").replaceChildren(...timelineItems(d).map((it) => {
    const li = document.createElement("li");
    li.dataset.kind = it.kind;
    if (it.status) li.dataset.status = it.status;
    const time = document.createElement("time");
    time.dateTime = it.at;
    time.textContent = new Date(it.at).toLocaleTimeString();
    li.append(time, " " + (it.kind === "runbook" ? "Runbook: " : "") + it.text);
    return li;
  }));
  const dash = $("dashboard");
  dash.dataset.updated = d.at;
  dash.dataset.updates = String((+dash.dataset.updates || 0) + 1);
}
