// The reception note on the petitioner's screen (#note-dialog, guest pages only). Owns:
// showing a `note` event, confirming it or refusing it with a reason (`note_reply`), and
// remembering the answered notes so a replayed event does not ask again.

import { openDialog } from "./dom.js";
import { fmt } from "./i18n.js";

export function createNote(room) {
  const { $, S, session } = room;
  let currentNote = null;

  function show(note) {
    const dlg = $("note-dialog");
    if (!dlg || !note?.note_id) return;
    if (session.answeredNotes().has(note.note_id)) return;
    currentNote = note;
    $("note-facts").textContent = note.facts || "";
    $("note-demands").textContent = note.demands || "";
    $("note-answer").textContent = note.answer || "";
    $("note-next").textContent = note.next_steps || "";
    $("note-buttons").hidden = false;
    $("note-refusal").hidden = true;
    $("note-result").hidden = true;
    $("note-close").hidden = true;
    $("note-reason").value = "";
    $("note-reason-error").hidden = true;
    openDialog(dlg);
    $("note-confirm").focus();
  }

  async function reply(confirm, reason) {
    if (!currentNote) return;
    const noteId = currentNote.note_id;
    const ack = await room.request("note_reply", { note_id: noteId, confirm, reason: reason || "" });
    if (!ack.ok) {
      const r = $("note-result");
      r.textContent = fmt(S.error, { error: ack.error || "?" });
      r.hidden = false;
      return;
    }
    const done = session.answeredNotes();
    done.add(noteId);
    session.saveAnsweredNotes(done);
    currentNote = null;
    $("note-buttons").hidden = true;
    $("note-refusal").hidden = true;
    const r = $("note-result");
    r.textContent = confirm ? S.note_confirmed : S.note_refused;
    r.hidden = false;
    $("note-close").hidden = false;
    $("note-close").querySelector("button").focus();
  }

  function setup() {
    const dlg = $("note-dialog");
    if (!dlg) return;
    // the note waits for an answer: Escape does not close it while unanswered
    dlg.addEventListener("cancel", (e) => { if (currentNote) e.preventDefault(); });
    $("note-confirm").addEventListener("click", () => reply(true, ""));
    $("note-refuse").addEventListener("click", () => {
      $("note-buttons").hidden = true;
      $("note-refusal").hidden = false;
      $("note-reason").focus();
    });
    $("note-refusal-cancel").addEventListener("click", () => {
      $("note-refusal").hidden = true;
      $("note-buttons").hidden = false;
      $("note-refuse").focus();
    });
    $("note-refusal").addEventListener("submit", (e) => {
      e.preventDefault();
      const reason = $("note-reason").value.trim();
      $("note-reason-error").hidden = !!reason;
      if (!reason) { $("note-reason").focus(); return; }
      reply(false, reason);
    });
  }

  return { show, setup };
}
