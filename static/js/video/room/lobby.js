// The petitioner's waiting room (#lobby). Owns: showing it, the place in the queue and
// the official's message to those waiting. Nothing to press: the official lets people in.

import { fmt } from "./i18n.js";

export function createLobby(room) {
  const { $, st, S } = room;

  function enter(position) {
    if (st.closed) return;
    room.status.setSeatState("waiting");
    $("call").hidden = true;
    $("lobby").hidden = false;
    setPosition(position);
    if (st.room) setMessage(st.room.lobby_message || "");
  }

  function setPosition(position) {
    st.position = position;
    const text = $("lobby-position-text");
    if (text) text.textContent = position ? fmt(S.position, { n: position }) : "";
    const next = $("lobby-next");
    if (next) next.hidden = position !== 1;
  }

  function setMessage(text) {
    const box = $("lobby-message");
    if (box) {
      box.hidden = !text;
      $("lobby-message-text").textContent = text;
    }
  }

  return { enter, setPosition, setMessage };
}
