// api.js: the session, calls to the API, and the application state.
"use strict";

const FENCED_COMMENT = "Comments cannot currently be added. Please try again in a few minutes";
const FENCED_PHOTO = "New photos can not currently be uploaded. Please try again in a few minutes";

const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem("tandem.session")) || null; } catch { return null; }
  },
  set(s) { sessionStorage.setItem("tandem.session", JSON.stringify(s)); },
  clear() { sessionStorage.removeItem("tandem.session"); },
};

const $ = (id) => document.getElementById(id);


function show(el, text) {
  el.textContent = text || "";
  el.hidden = !text;
}

// currentRegion is the region that answered the last API call.
let currentRegion = "";

function noteRegion(resp) {
  const r = resp.headers.get("X-Tandem-Region");
  if (!r || r === currentRegion) return;
  if (currentRegion) show($("notice"), "The writer region changed from " + currentRegion + " to " + r + "; you are still signed in.");
  currentRegion = r;
  $("region").textContent = "Current Region: " + r;
}

// api calls the API and returns its JSON; a failure throws an Error with
// the server's message, or says what went wrong when it has none.
async function api(method, path, body, opts = {}) {
  try {
    return await call(method, path, body, opts);
  } catch (e) {
    if (e.status !== 401 || path.startsWith("/api/auth/") || !(await refreshSession())) throw e;
    return call(method, path, body, opts);
  }
}

// refreshSession trades the refresh token for a new access token; when it
// cannot, the session is over and the sign-in page is shown.
async function refreshSession() {
  const s = session.get();
  try {
    if (!s || !s.refreshToken) throw new Error("no refresh token");
    const t = await call("POST", "/api/auth/refresh", { refreshToken: s.refreshToken });
    session.set({ ...s, accessToken: t.accessToken });
    return true;
  } catch {
    session.clear();
    sessionStorage.setItem("tandem.flash", "Your session has ended. Please sign in again.");
    location.hash = "#/signin";
    return false;
  }
}

async function call(method, path, body, opts) {
  const headers = {};
  const s = session.get();
  if (s && s.accessToken) headers["Authorization"] = "Bearer " + s.accessToken;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, signal: opts.signal });
  } catch (e) {
    throw new Error("Cannot reach the server: " + e.message);
  }
  noteRegion(resp);
  let data = null;
  const text = await resp.text();
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!resp.ok) {
    const err = new Error((data && (data.message || (typeof data.response === "string" && data.response))) || ("The server answered " + resp.status + " " + resp.statusText));
    err.status = resp.status;
    throw err;
  }
  return data;
}

// appState holds the last state read from /api/state/{appId}: "active",
// "fenced", "failover", or "" when it could not be read; the writer region;
// and region, the region serving the app when it is not the edge.
const appState = { appId: "", regions: [], writer: "", region: "", state: "", error: "", listeners: [] };

async function loadConfig() {
  const c = await api("GET", "/ui/config.json");
  appState.appId = c.appId;
  appState.regions = c.regions || [];
  appState.writer = c.writer || "";
  appState.region = c.region || "";
}

// refreshState re-reads the state, and tells the listeners. It reads the
// deployment once, and again every time only on a region served directly,
// where the writer decides whether the page may write (through the edge the
// writer is whichever region answers). It never throws: an unreadable state
// is shown as a message and treated as not writable.
async function refreshState() {
  try {
    if (!appState.appId || appState.region) await loadConfig();
    const s = await api("GET", "/api/state/" + encodeURIComponent(appState.appId));
    appState.state = (s && s.state) || "";
    appState.error = appState.state ? "" : "The application state is unknown.";
  } catch (e) {
    appState.state = "";
    appState.error = "Cannot read the application state: " + e.message;
  }
  const banner = $("state-banner");
  if (appState.state === "fenced") show(banner, "The application is fenced: writes are paused.");
  else if (!appState.error && onStandby()) show(banner, "You are using region " + appState.region + " directly. It is a standby: it serves reads only. Writes go to the writer region, " + (appState.writer || "none at the moment") + ".");
  else show(banner, appState.error);
  for (const f of appState.listeners) f();
  return appState.state;
}

// onStandby reports whether a region serves the app directly and is not the
// writer, so nothing can be written through it.
function onStandby() {
  return appState.region !== "" && appState.region !== appState.writer;
}

function writable() {
  return (appState.state === "active" || appState.state === "failover") && !onStandby();
}
