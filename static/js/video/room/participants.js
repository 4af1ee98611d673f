// The people in the room (#participants, from the `participants` event). Owns: the
// admitted seats (st.participants), closing the connections of seats that left, telling
// the media when someone switched sound-only mode, and the list with the official's
// Mute / Finish / Remove buttons.

import { el } from "./dom.js";
import { fmt, kindLabel } from "./i18n.js";

export function createParticipants(room) {
  const { $, cfg, st, S } = room;

  function nameOf(seatId) {
    return st.participants.get(seatId)?.name || "";
  }

  /** `watchers`: how many watch-only seats there are, when the list leaves them out (what
   *  a watcher is sent: it does not learn the other watchers' names). */
  function update(seats, watchers) {
    st.watchers = typeof watchers === "number" ? watchers : null;
    const before = new Map(st.participants);
    st.participants = new Map(seats.map((s) => [Number(s.seat_id), { ...s, seat_id: Number(s.seat_id) }]));
    // seats that left: their connections go
    for (const id of before.keys()) {
      if (!st.participants.has(id) && id !== cfg.seatId) {
        room.mesh.closePeer(id);
        room.sfu.closeSub(id);
        room.tiles.remove(id);
      }
    }
    // a seat switched sound-only mode: what we send it changes
    let sendersChanged = false;
    for (const [id, p] of st.participants) {
      if (before.get(id)?.audio_only !== p.audio_only) sendersChanged = true;
      if (id !== cfg.seatId && st.seatState === "admitted" && (st.peers.has(id) || st.subs.has(id))) room.tiles.update(id);
    }
    if (sendersChanged) room.media.refreshVideoSenders();
    render();
    room.notePanel.refresh();
  }

  /** A staff action on one seat, asking first when `question` is given. */
  async function act(event, seatId, question) {
    if (question && !(await room.confirm(question))) return;
    room.failIfNot(await room.request(event, { seat_id: seatId }));
  }

  function render() {
    const list = $("participants");
    if (!list) return;
    list.replaceChildren(...[...st.participants.values()].map((p) => {
      const mine = p.seat_id === cfg.seatId;
      const name = p.name || "";
      const item = el("li", { class: "participant", "data-seat-id": String(p.seat_id) },
        el("span", { class: "participant-name", text: mine ? `${name} (${S.you})` : name }), " ",
        el("span", { class: "tag", text: kindLabel(S, p.kind) }),
        p.audio_only ? el("span", { class: "tag", text: S.sound_only_tag }) : null);
      if (cfg.isStaff && !mine && !p.is_staff) {
        item.append(el("span", { class: "participant-actions" },
          el("button", {
            type: "button", text: S.mute, "aria-label": fmt(S.participant_mute, { name }),
            onclick: () => act("mute", p.seat_id),
          }),
          el("button", {
            // the per-person action (ending the whole day is the toolbar's, apart)
            type: "button", class: "primary", text: fmt(S.participant_finish, { name }),
            onclick: () => act("finish", p.seat_id, fmt(S.confirm_finish, { name })),
          }),
          el("button", {
            type: "button", class: "danger", text: S.remove, "aria-label": fmt(S.participant_remove, { name }),
            onclick: () => act("remove", p.seat_id, fmt(S.confirm_remove, { name })),
          })));
      }
      return item;
    }));
    if (st.watchers) list.append(el("li", { class: "participant muted", text: fmt(S.watchers_count, { n: st.watchers }) }));
  }

  return { nameOf, update };
}
