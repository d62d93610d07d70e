// app.js: the router, sign-in and the photo pages.
"use strict";

const MAX_PHOTO_BYTES = 10 << 20; // the API's default (blobs.max_photo_bytes)
let pollTimer = null;
let galleryNext = "";

// pages maps each view (a <section id="view-NAME">) to what it does when
// shown and left: start(arg) and stop(), both optional; admin pages are for
// admins only. The other scripts register their pages with page().
const pages = { signin: {} };
let currentPage = "";

function page(name, hooks) { pages[name] = hooks; }

function showError(msg) { show($("error"), msg); }

function route() {
  showError(sessionStorage.getItem("tandem.flash") || "");
  sessionStorage.removeItem("tandem.flash");
  const s = session.get();
  let [, view, arg] = (location.hash || "#/photos").split("/");
  if (!s) view = "signin";
  else if (!pages[view] || view === "signin") view = "photos";
  if (pages[view].admin && s.role !== "admin") view = "photos";
  for (const v of Object.keys(pages)) $("view-" + v).hidden = v !== view;
  for (const a of document.querySelectorAll("#nav-links a")) {
    if (a.getAttribute("href") === "#/" + view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  renderNav();
  clearInterval(pollTimer);
  if (currentPage && pages[currentPage].stop) pages[currentPage].stop();
  currentPage = view;
  refreshState();
  if (view === "signin") { $("signin-user").focus(); return; }
  pollTimer = setInterval(refreshState, 3000);
  if (pages[view].start) pages[view].start(decodeURIComponent(arg || ""));
}

function renderNav() {
  const s = session.get();
  $("nav-links").hidden = !s;
  $("signout").hidden = !s;
  for (const a of document.querySelectorAll("#nav-links .admin")) a.hidden = !s || s.role !== "admin";
  $("welcome").textContent = s ? "welcome " + s.username : "";
}

// Sign-in, with the forced new-password step.
let challenge = null;

async function signedIn(tokens, username) {
  session.set({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, username });
  try {
    const me = await api("GET", "/api/auth/me");
    session.set({ ...session.get(), username: me.username || username, role: me.role || "" });
  } catch (e) { showError("Signed in, but cannot read your profile: " + e.message); }
  go("#/photos");
}

// go shows the page at hash, also when it is the current one.
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError("");
  const username = $("signin-user").value.trim();
  try {
    const res = await api("POST", "/api/auth/login", { username, password: $("signin-password").value });
    if (res.challengeName) {
      challenge = { name: res.challengeName, session: res.session, username };
      $("signin-form").hidden = true;
      $("newpw-form").hidden = false;
      $("newpw-password").focus();
      return;
    }
    await signedIn(res, username);
  } catch (e) { showError("Sign-in failed: " + e.message); }
});

$("newpw-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showError("");
  if ($("newpw-password").value !== $("newpw-confirm").value) { showError("The two passwords differ."); return; }
  try {
    const tokens = await api("POST", "/api/auth/respond", { challengeName: challenge.name, session: challenge.session, newPassword: $("newpw-password").value });
    $("newpw-form").hidden = true;
    $("signin-form").hidden = false;
    $("signin-form").reset();
    $("newpw-form").reset();
    await signedIn(tokens, challenge.username);
  } catch (e) { showError("Setting the new password failed: " + e.message); }
});

$("signout").addEventListener("click", async () => {
  const s = session.get();
  try { if (s && s.refreshToken) await api("POST", "/api/auth/logout", { refreshToken: s.refreshToken }); } catch { /* signed out here anyway */ }
  session.clear();
  go("#/signin");
});

// Photos.
page("photos", { start: () => loadGallery(true) });
page("photo", { start: (id) => openPhoto(id) });

async function loadGallery(reset) {
  const list = $("gallery");
  try {
    const q = "?limit=24" + (reset || !galleryNext ? "" : "&after=" + encodeURIComponent(galleryNext));
    const page = await api("GET", "/api/photos" + q);
    if (reset) list.replaceChildren();
    for (const p of page.photos || []) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "#/photo/" + encodeURIComponent(p.photoId);
      const img = document.createElement("img");
      img.src = p.thumb; img.alt = "Photo by " + p.owner; img.loading = "lazy";
      a.append(img);
      li.append(a);
      list.append(li);
    }
    galleryNext = page.next || "";
    $("gallery-more").hidden = !galleryNext;
    $("gallery-empty").hidden = list.children.length > 0;
  } catch (e) { showError("Cannot list the photos: " + e.message); }
}
$("gallery-more").addEventListener("click", () => loadGallery(false));
// Infinite scroll: the next page loads when the "Load more" button comes
// into view; the button stays for keyboards and for browsers without it.
if ("IntersectionObserver" in window) {
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && galleryNext && !$("view-photos").hidden) loadGallery(false);
  }).observe($("gallery-more"));
}

$("open-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  location.hash = "#/photo/" + encodeURIComponent($("open-id").value.trim());
});

function checkUpload(f) {
  if (!f) return "Choose a file first.";
  if (!/^image\/(jpeg|png|gif|webp)$/.test(f.type)) return "Only JPEG, PNG, GIF and WebP images can be uploaded.";
  if (f.size > MAX_PHOTO_BYTES) return "The image is larger than " + (MAX_PHOTO_BYTES >> 20) + " MiB.";
  return "";
}

async function upload(f) {
  const msg = $("upload-message");
  const bad = checkUpload(f);
  if (bad) { msg.textContent = bad; return; }
  if (!writable() && (await refreshState(), !writable())) { msg.textContent = FENCED_PHOTO; return; }
  const form = new FormData();
  form.append("file", f);
  const xhr = new XMLHttpRequest();
  const bar = $("upload-progress");
  bar.hidden = false; bar.value = 0;
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
  xhr.onloadend = () => {
    bar.hidden = true;
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch { data = null; }
    if (xhr.status === 201) { msg.textContent = "Uploaded."; $("upload-form").reset(); loadGallery(true); return; }
    msg.textContent = (data && data.message) || (xhr.status ? "Upload failed: " + xhr.status : "Upload failed: cannot reach the server.");
  };
  xhr.open("POST", "/api/photos");
  xhr.setRequestHeader("Authorization", "Bearer " + session.get().accessToken);
  xhr.send(form);
}

$("upload-form").addEventListener("submit", (ev) => { ev.preventDefault(); upload($("upload-file").files[0]); });
$("drop").addEventListener("dragover", (ev) => { ev.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (ev) => { ev.preventDefault(); $("drop").classList.remove("over"); upload(ev.dataTransfer.files[0]); });

// One photo and its comments.
let photoID = "";

async function openPhoto(id) {
  photoID = id;
  $("photo-id").textContent = id;
  const img = $("photo-img");
  img.hidden = true;
  $("photo-delete").hidden = true;
  $("photo-owner").textContent = "";
  api("GET", "/api/photos/" + encodeURIComponent(id)).then((p) => {
    img.src = p.image; img.alt = "Photo by " + p.owner; img.hidden = false;
    $("photo-owner").textContent = "Uploaded by " + p.owner + " on " + new Date(p.created).toLocaleString();
    const s = session.get();
    $("photo-delete").hidden = !s || (s.username !== p.owner && s.role !== "admin");
  }).catch(() => { /* comments work on any id, as the reference's do */ });
  await loadComments();
}

async function loadComments() {
  try {
    const res = await api("GET", "/api/comments/" + encodeURIComponent(photoID));
    $("comments").replaceChildren(...(res.comments || []).map((c) => {
      const li = document.createElement("li");
      const who = document.createElement("strong");
      who.textContent = c.user + ": ";
      li.append(who, document.createTextNode(c.message));
      return li;
    }));
  } catch (e) { showError("Cannot load the comments: " + e.message); }
}

$("photo-delete").addEventListener("click", async () => {
  if (!(await askDialog($("photo-delete-dialog")))) return;
  if ((await refreshState(), !writable())) { showError(FENCED_PHOTO); return; }
  try {
    await api("DELETE", "/api/photos/" + encodeURIComponent(photoID));
    show($("notice"), "The photo was deleted.");
    go("#/photos");
  } catch (e) { showError("Cannot delete the photo: " + e.message); }
});

function renderWritable() {
  const fenced = !writable();
  const cf = $("comment-form").elements;
  for (const el of cf) el.disabled = fenced;
  $("comment-message").textContent = fenced ? FENCED_COMMENT : "";
  for (const el of $("upload-form").elements) el.disabled = fenced;
  $("photo-delete").disabled = fenced;
  $("upload-message").textContent = fenced ? FENCED_PHOTO : "";
}
appState.listeners.push(renderWritable);

$("comment-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = $("comment-message");
  if ((await refreshState(), !writable())) { msg.textContent = FENCED_COMMENT; return; }
  const commentId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
  try {
    await api("POST", "/api/comments/" + encodeURIComponent(photoID), { commentId, photoId: photoID, message: $("comment-text").value });
    $("comment-text").value = "";
    msg.textContent = "Comment added.";
    await loadComments();
  } catch (e) { msg.textContent = e.message; }
});

window.addEventListener("hashchange", route);
window.addEventListener("error", (e) => showError("Something went wrong: " + e.message));
window.addEventListener("unhandledrejection", (e) => showError("Something went wrong: " + (e.reason && e.reason.message || e.reason)));
document.addEventListener("DOMContentLoaded", route);
