// The official's reception-note panel (#note-panel-body: the server's htmx fragment,
// staff pages only). Owns: adding a form for each petitioner admitted (forms already
// there keep what the official is typing) and bringing back one petitioner's form,
// locked with their answer, once they confirmed or refused the note.

import { el } from "./dom.js";
import { fmt } from "./i18n.js";

export function createNotePanel(room) {
  const { $, st, S } = room;
  let busy = false;

  async function fetchFragment(url) {
    const r = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!r.ok) return null;
    return new DOMParser().parseFromString(await r.text(), "text/html");
  }

  /** A petitioner answered the note: their form comes back from the server, the others
   *  stay as they are. */
  async function refreshForm(seatId) {
    const body = $("note-panel-body");
    const url = body?.dataset.url;
    if (!url) return;
    try {
      const doc = await fetchFragment(url);
      if (!doc) return;
      const fresh = doc.getElementById(`note-${seatId}`);
      const old = $(`note-${seatId}`);
      if (!fresh || !old) return;
      const node = document.importNode(fresh, true);
      old.replaceWith(node);
      window.htmx?.process(node);
    } catch (e) {
      console.warn("note form", e);
    }
  }

  /** A form for each admitted petitioner who has none yet. */
  async function refresh() {
    const body = $("note-panel-body");
    const url = body?.dataset.url;
    if (!url || busy) return;
    const missing = [...st.participants.values()].some(
      (p) => p.kind === "petitioner" && !body.querySelector(`#note-${p.seat_id}`));
    if (!missing) return;
    busy = true;
    try {
      const doc = await fetchFragment(url);
      if (!doc) return;
      const forms = [...doc.querySelectorAll("form.note")];
      if (!forms.length) return;
      body.querySelector(".note-placeholder")?.remove();
      let list = body.querySelector("#notes");
      if (!list) { list = el("div", { id: "notes" }); body.replaceChildren(list); }
      list.querySelectorAll(":scope > p.muted").forEach((n) => n.remove());
      for (const form of forms) {
        if (body.querySelector(`#${CSS.escape(form.id)}`)) continue;
        const node = document.importNode(form, true);
        list.append(node);
        window.htmx?.process(node);
      }
    } catch (e) {
      console.warn("note panel", e);
    } finally {
      busy = false;
    }
  }

  /** The note opened a case: its number and query code, to hand over to the petitioner
   *  (sent once, never stored: it stays on this panel until the page is left). */
  function showCaseOpened(data) {
    const body = $("note-panel-body");
    if (!body || !data.case_number) return;
    const seatId = Number(data.seat_id);
    $(`case-opened-${seatId}`)?.remove();
    const box = el("div", { class: "case-opened flash flash-success", role: "status", id: `case-opened-${seatId}` },
      el("p", { text: fmt(S.case_opened, { name: data.name || "", number: data.case_number }) }),
      el("p", {}, S.query_code_label, " ", el("strong", { class: "query-code", text: data.query_code || "" })),
      el("p", { class: "muted", text: S.query_code_once }));
    const form = $(`note-${seatId}`);
    if (form) form.before(box); else body.prepend(box);
  }

  return { refresh, refreshForm, showCaseOpened };
}
