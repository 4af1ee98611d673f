// The chat (#chat-box). Owns: showing the `chat` events (the last 300) and sending
// what is typed in #chat-form.

import { el } from "./dom.js";
import { timeLabel } from "./i18n.js";

export function createChat(room) {
  const { $, cfg, S } = room;

  function add({ seat_id: seatId, name, text, at }) {
    const list = $("chat-list");
    if (!list) return;
    const mine = Number(seatId) === cfg.seatId;
    list.append(el("li", { class: mine ? "chat-item mine" : "chat-item" },
      el("div", { class: "chat-meta" },
        el("strong", { text: mine ? S.you : (name || "") }), " ",
        el("time", { datetime: at || "", text: timeLabel(at, cfg.lang) })),
      el("p", { class: "chat-text", text: text || "" })));
    while (list.children.length > 300) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  function setup() {
    $("chat-form")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = $("chat-text");
      const text = input.value.trim();
      if (!text) return;
      input.disabled = true;
      const ack = await room.request("chat", { text });
      input.disabled = false;
      if (room.failIfNot(ack)) input.value = "";
      input.focus();
    });
  }

  return { add, setup };
}
