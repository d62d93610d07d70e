// dom.js: what the pages share to build the DOM (text only, never HTML)
// and to ask for confirmation.
"use strict";

// el returns a new element with text (when given) and class cls.
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// cell returns a table cell holding text.
function cell(text, cls) { return el("td", text, cls); }

// actionButton returns a button showing text that runs onClick; label is
// its name for screen readers, which says what it acts on.
function actionButton(text, label, onClick, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

// askDialog shows dialog (a <dialog> holding a form of method="dialog" with
// a button of value "confirm") and resolves to whether it was confirmed;
// Escape and Cancel do not confirm. The close event is queued, so one from
// an earlier closing can arrive once the dialog is open again: it is not
// the answer.
function askDialog(dialog) {
  return new Promise((resolve) => {
    const onClose = () => {
      if (dialog.open) return;
      dialog.removeEventListener("close", onClose);
      resolve(dialog.returnValue === "confirm");
    };
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    dialog.showModal();
  });
}

// writeForm is the write side of a page whose element ids start with
// prefix: the form PREFIX-form (whose button PREFIX-cancel stays enabled),
// the row buttons in PREFIX-rows, and PREFIX-fenced, PREFIX-message and
// PREFIX-notice for what it says. render disables every control while the
// app cannot be written, showing fenced; run lets one write go at a time,
// after gate has re-read the state.
function writeForm(prefix, fenced) {
  let busy = false;
  const f = {
    message(text) { $(prefix + "-message").textContent = text || ""; },
    notice(text) { $(prefix + "-notice").textContent = text || ""; },
    // A write in flight only marks the form busy: disabling the button the
    // focus is on would drop the focus.
    render() {
      const off = !writable();
      $(prefix + "-fenced").textContent = off ? fenced : "";
      for (const e of $(prefix + "-form").elements) {
        if (e.id !== prefix + "-cancel") e.disabled = off;
      }
      for (const b of $(prefix + "-rows").querySelectorAll("button")) b.disabled = off;
      $(prefix + "-form").setAttribute("aria-busy", String(busy));
    },
    // gate re-reads the state before a write; it returns whether the write
    // may go on (writable, and no other write in flight).
    async gate() {
      if (busy) return false;
      if ((await refreshState(), !writable())) { f.message(fenced); return false; }
      return true;
    },
    async run(fn) {
      busy = true;
      f.render();
      try { return await fn(); } finally { busy = false; f.render(); }
    },
  };
  return f;
}
