// Room events (`room_event {id, kind, data}`, PROTOCOL.md). Owns: skipping events
// already seen and remembering the last id, and sending each kind to the module that
// shows it; then the page's onEvent hook sees every event (a hearing may add kinds).

import { fmt } from "./i18n.js";

export function createEvents(room) {
  const { cfg, st, S, session } = room;

  function apply(ev, { replay, fresh }) {
    if (!ev || typeof ev !== "object") return;
    if (typeof ev.id === "number") {
      if (ev.id <= st.lastEventId) return;
      st.lastEventId = ev.id;
      session.saveLastEventId(ev.id);
    }
    const data = ev.data || {};
    switch (ev.kind) {
      case "lobby":
        room.staffLobby.render(Array.isArray(data.waiting) ? data.waiting : []);
        break;
      case "position":
        if (!replay) room.lobby.setPosition(data.position ?? null);
        break;
      case "lobby_message":
        room.lobby.setMessage(data.text || "");
        if (st.room) st.room.lobby_message = data.text || "";
        break;
      case "admitted":
        if (replay) break; // the hello ack's seat state decides
        if (data.seat_id !== undefined && data.seat_id !== cfg.seatId) break;
        if (Array.isArray(data.ice_servers)) st.iceServers = data.ice_servers;
        if (data.topology) st.topology = data.topology;
        room.lifecycle.enterCall(data.peers || []);
        break;
      case "participants":
        room.participants.update(Array.isArray(data.seats) ? data.seats : [], data.watchers);
        break;
      case "chat":
        room.chat.add(data);
        break;
      case "recording":
        if (st.room) st.room.is_recording = !!data.on;
        room.recording.set(!!data.on);
        break;
      case "muted":
        if (replay && fresh) break;
        room.media.setMuted(true);
        room.status.showAlert(S.muted_by, { keep: true });
        break;
      case "removed":
        room.lifecycle.closeWith(S.closed_removed, "");
        break;
      case "denied":
        room.lifecycle.closeWith(S.denied, "");
        break;
      case "closed":
        if (data.seat_id === undefined || Number(data.seat_id) === cfg.seatId) {
          room.lifecycle.onSeatClosed({ reason: data.reason, message: "" }, { fromEvent: true });
        }
        break;
      case "ended":
        room.lifecycle.onEnded();
        break;
      case "note":
        room.note.show(data);
        break;
      case "note_answered":
        if (cfg.isStaff) {
          room.notePanel.refreshForm(Number(data.seat_id));
          if (!replay) {
            const who = room.participants.nameOf(Number(data.seat_id));
            room.status.showAlert(data.status === "confirmed" ? fmt(S.note_answer_confirmed, { name: who })
              : fmt(S.note_answer_refused, { name: who, reason: data.reason || "" }), { keep: true });
          }
        }
        break;
      case "case_opened":
        if (cfg.isStaff && !replay) room.notePanel.showCaseOpened(data);
        break;
      default:
        break;
    }
    room.hook("onEvent", ev, { replay });
  }

  return { apply };
}
