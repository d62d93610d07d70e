// people.js: the console's users and OAuth clients. Temporary passwords and
// client secrets are shown once, and forgotten when the console closes.
"use strict";

(() => {
  consolePart({
    start() { loadUsers(); loadClients(); },
    stop() { hideSecret("user-secret"); hideSecret("client-secret"); },
  });

  function hideSecret(id) {
    $(id).hidden = true;
    for (const c of $(id).querySelectorAll("code")) c.textContent = "";
  }

  function showUserSecret(what, password) {
    $("user-secret-what").textContent = what;
    $("user-secret-value").textContent = password;
    $("user-secret").hidden = false;
    $("user-secret-done").focus();
  }

  $("user-secret-done").addEventListener("click", () => hideSecret("user-secret"));
  $("client-secret-done").addEventListener("click", () => hideSecret("client-secret"));

  function when(t) { return t ? new Date(t).toLocaleString() : ""; }

  async function loadUsers() {
    try {
      const res = await api("GET", "/api/admin/users");
      $("users-list").replaceChildren(...(res.users || []).map(userRow));
    } catch (e) { $("user-message").textContent = "Cannot list the users: " + e.message; }
  }

  function userRow(u) {
    const tr = el("tr");
    tr.dataset.username = u.username;
    tr.dataset.status = u.status;
    const th = el("th", u.username);
    th.scope = "row";
    const act = el("td", undefined, "actions");
    if (u.status !== "DISABLED") act.append(actionButton("Disable…", "Disable " + u.username, () => disableUser(u.username)));
    act.append(actionButton("Reset password…", "Reset the password of " + u.username, () => resetPassword(u.username)));
    const other = u.role === "admin" ? "user" : "admin";
    act.append(actionButton("Make " + other + "…", "Make " + u.username + " " + (other === "admin" ? "an admin" : "a user"), () => setRole(u.username, other)));
    tr.append(th, cell(u.email), cell(u.role, "role"), cell(u.status), cell(when(u.created)), act);
    return tr;
  }

  $("user-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = $("user-message");
    msg.textContent = "";
    const body = { username: $("user-name").value.trim(), email: $("user-email").value.trim(), role: $("user-role").value };
    try {
      const res = await api("POST", "/api/admin/users", body);
      $("user-form").reset();
      msg.textContent = "User " + res.user.username + " created.";
      showUserSecret("Temporary password for " + res.user.username + ":", res.temporaryPassword);
      await loadUsers();
    } catch (e) { msg.textContent = "The user was not created: " + e.message; }
  });

  async function disableUser(username) {
    const msg = $("user-message");
    msg.textContent = "";
    if (!(await confirmAction("Disable a user", "Disable " + username + "? Sign-in stops, and the tokens already issued are refused, at once.", "Disable"))) return;
    try {
      await api("POST", "/api/admin/users/" + encodeURIComponent(username) + "/disable");
      msg.textContent = "User " + username + " disabled.";
      await loadUsers();
    } catch (e) { msg.textContent = "The user was not disabled: " + e.message; }
  }

  async function setRole(username, role) {
    const msg = $("user-message");
    msg.textContent = "";
    const what = role === "admin" ? "Make " + username + " an admin? They may then run runbooks and manage users." : "Make " + username + " a user? They lose the operations console at once.";
    if (!(await confirmAction("Change a role", what + " Their current tokens are refused until they sign in again.", "Make " + role))) return;
    try {
      await api("POST", "/api/admin/users/" + encodeURIComponent(username) + "/role", { role });
      msg.textContent = username + " is now " + (role === "admin" ? "an admin." : "a user.");
      await loadUsers();
    } catch (e) { msg.textContent = "The role was not changed: " + e.message; }
  }

  async function resetPassword(username) {
    const msg = $("user-message");
    msg.textContent = "";
    if (!(await confirmAction("Reset a password", "Reset the password of " + username + "? The current password stops working and its sessions end; a temporary password is shown here once.", "Reset password"))) return;
    try {
      const res = await api("POST", "/api/admin/users/" + encodeURIComponent(username) + "/reset");
      msg.textContent = "The password of " + username + " was reset.";
      showUserSecret("New temporary password for " + username + ":", res.temporaryPassword);
      await loadUsers();
    } catch (e) { msg.textContent = "The password was not reset: " + e.message; }
  }

  async function loadClients() {
    try {
      const res = await api("GET", "/api/admin/clients");
      $("clients-list").replaceChildren(...(res.clients || []).map((c) => {
        const tr = el("tr");
        tr.dataset.clientId = c.clientId;
        const th = el("th", c.name);
        th.scope = "row";
        const act = el("td", undefined, "actions");
        act.append(actionButton("Delete…", "Delete the client " + c.name, () => deleteClient(c)));
        tr.append(th, cell(c.clientId), cell(c.scope), cell(when(c.created)), act);
        return tr;
      }));
    } catch (e) { $("client-message").textContent = "Cannot list the clients: " + e.message; }
  }

  async function deleteClient(c) {
    const msg = $("client-message");
    msg.textContent = "";
    if (!(await confirmAction("Delete a client", "Delete the client " + c.name + " (" + c.clientId + ")? It gets no new token, and the tokens it holds are refused at once.", "Delete"))) return;
    try {
      await api("DELETE", "/api/admin/clients/" + encodeURIComponent(c.clientId));
      msg.textContent = "Client " + c.name + " deleted.";
      await loadClients();
    } catch (e) { msg.textContent = "The client was not deleted: " + e.message; }
  }

  $("client-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = $("client-message");
    msg.textContent = "";
    try {
      const res = await api("POST", "/api/admin/clients", { name: $("client-name").value.trim(), scope: $("client-scope").value.trim() });
      $("client-name").value = "";
      msg.textContent = "Client " + res.client.name + " created.";
      $("client-secret-id").textContent = res.client.clientId;
      $("client-secret-value").textContent = res.clientSecret;
      $("client-secret").hidden = false;
      $("client-secret-done").focus();
      await loadClients();
    } catch (e) { msg.textContent = "The client was not created: " + e.message; }
  });
})();
