// DOM helpers. Owns: look-ups by id inside one room's root element, a small element
// builder, the yes/no confirm dialog (#confirm-dialog) and opening a <dialog>.
// No state of its own.

/** `$("call")` → the element with that id inside `root` (null if none). */
export function finder(root) {
  return (id) => root.querySelector(`#${CSS.escape(id)}`);
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function openDialog(dlg) {
  if (!dlg) return;
  if (dlg.open) return;
  if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
}

/** Asks `text` in the room's confirm dialog; resolves to true for "yes". */
export function confirmAsk($, text) {
  const dlg = $("confirm-dialog");
  if (!dlg?.showModal) return Promise.resolve(window.confirm(text));
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dlg.returnValue = "";
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "yes"), { once: true });
    dlg.showModal();
    // Enter on a destructive question should not end anything by accident
    dlg.querySelector('button[value="cancel"]')?.focus();
  });
}
