// todo.js: the ToDo page — every task with its status, a form to add and
// edit one, and deletion, over the reference ToDo API (/todo/v1).
"use strict";

(() => {
  const FENCED = "ToDos cannot currently be changed. Please try again in a few minutes";
  const MAX_TASK = 500; // tandem.MaxToDoTask
  const REFRESH_MS = 5000;

  let timer = null;
  let shown = false;
  let items = [];
  let listKey = "";
  let editing = 0; // the id of the task in the form

  page("todo", {
    start() {
      shown = true;
      render();
      load();
      timer = setInterval(load, REFRESH_MS);
    },
    stop() {
      shown = false;
      clearInterval(timer);
      timer = null;
    },
  });
  appState.listeners.push(() => { if (shown) render(); });

  const form = writeForm("todo", FENCED);
  const { message, notice, render } = form;

  // checkTask mirrors tandem.CheckText for the task.
  function checkTask(value) {
    if (typeof value.isWellFormed === "function" && !value.isWellFormed()) return "Enter the task without broken characters.";
    if (value.trim() === "") return "Enter the task (1 to " + MAX_TASK + " characters).";
    if ([...value].length > MAX_TASK) return "Shorten the task to at most " + MAX_TASK + " characters.";
    if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return "Remove the control characters from the task.";
    return "";
  }

  async function load() {
    try {
      const res = await api("GET", "/todo/v1/items");
      items = (res && Array.isArray(res.response)) ? res.response : [];
      $("todo-list-error").textContent = "";
      renderList();
    } catch (e) {
      if (shown) $("todo-list-error").textContent = "Cannot load the tasks: " + e.message;
    }
  }

  // renderList shows the tasks when they changed, keeping the focus on the
  // button it was on.
  function renderList() {
    const key = JSON.stringify(items);
    if (key === listKey) return;
    listKey = key;
    const focused = document.activeElement && document.activeElement.closest("#todo-rows button");
    const focusKey = focused ? focused.dataset.focusKey : "";
    $("todo-rows").replaceChildren(...items.map((t) => {
      const tr = document.createElement("tr");
      tr.dataset.id = String(t.id);
      tr.dataset.status = t.status;
      const actions = document.createElement("td");
      actions.className = "actions";
      const edit = actionButton("Edit", "Edit task " + t.id + ": " + t.task, () => startEdit(t), "secondary");
      const del = actionButton("Delete", "Delete task " + t.id + ": " + t.task, () => confirmDelete(t), "danger");
      edit.dataset.focusKey = t.id + "/edit";
      del.dataset.focusKey = t.id + "/delete";
      actions.append(edit, del);
      tr.append(cell(String(t.id), "num"), cell(t.task), cell(t.status), actions);
      return tr;
    }));
    $("todo-empty").hidden = items.length > 0;
    if (focusKey) {
      const again = $("todo-rows").querySelector('button[data-focus-key="' + CSS.escape(focusKey) + '"]');
      if (again) again.focus();
    }
    render();
  }

  // setStatus selects status, adding it to the choices when the item has
  // one of its own (the API takes any status).
  function setStatus(status) {
    const sel = $("todo-status");
    for (const o of [...sel.options]) if (o.dataset.extra) o.remove();
    if (![...sel.options].some((o) => o.value === status)) {
      const o = new Option(status, status);
      o.dataset.extra = "1";
      sel.append(o);
    }
    sel.value = status;
  }

  function setTaskError(text) {
    show($("todo-task-error"), text);
    if (text) $("todo-task").setAttribute("aria-invalid", "true");
    else $("todo-task").removeAttribute("aria-invalid");
  }

  function startEdit(t) {
    editing = t.id;
    $("todo-task").value = t.task;
    setStatus(t.status);
    setTaskError("");
    $("todo-form-title").textContent = "Edit task " + t.id;
    $("todo-submit").textContent = "Save changes";
    $("todo-cancel").hidden = false;
    message("");
    notice("");
    $("todo-form").scrollIntoView({ block: "nearest" });
    $("todo-task").focus();
  }

  function endEdit() {
    editing = 0;
    $("todo-form").reset();
    setStatus("todo");
    setTaskError("");
    $("todo-form-title").textContent = "Add a task";
    $("todo-submit").textContent = "Add task";
    $("todo-cancel").hidden = true;
  }

  $("todo-cancel").addEventListener("click", () => { endEdit(); message(""); notice(""); $("todo-task").focus(); });


  function failed(e, what) {
    if (e.status === 503) { refreshState(); return FENCED; }
    if (e.status === 404) return "This task was deleted elsewhere.";
    return what + ": " + e.message;
  }

  $("todo-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message("");
    notice("");
    const task = $("todo-task").value;
    const bad = checkTask(task);
    setTaskError(bad);
    if (bad) { message("Please correct the marked field."); $("todo-task").focus(); return; }
    if (!(await form.gate())) return;
    const id = editing;
    const body = { task, status: $("todo-status").value };
    if (id) body.id = id;
    await form.run(async () => {
      try {
        const res = await api("POST", "/todo/v1", body);
        endEdit();
        notice(id ? "Task " + id + " saved." : "Task " + res.response.id + " added.");
      } catch (e) {
        message(failed(e, id ? "Cannot save the task" : "Cannot add the task"));
        if (e.status === 404) endEdit();
      }
      await load();
    });
  });

  async function confirmDelete(t) {
    message("");
    notice("");
    $("todo-delete-text").textContent = "Delete task " + t.id + ", “" + t.task + "”? This cannot be undone.";
    if (!(await askDialog($("todo-delete-dialog"))) || !(await form.gate())) return;
    await form.run(async () => {
      try {
        await api("DELETE", "/todo/v1", { id: t.id });
        if (editing === t.id) endEdit();
        notice("Task " + t.id + " deleted.");
      } catch (e) {
        message(e.status === 404 ? "This task was already deleted." : failed(e, "Cannot delete the task"));
      }
      await load();
    });
    // The row's buttons may be gone with the row: keep the focus in the page.
    if (document.activeElement === document.body) $("todo-task").focus();
  }
})();
