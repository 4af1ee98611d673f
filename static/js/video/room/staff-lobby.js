// The official's side of the waiting room (#staff-lobby, staff pages only). Owns: the
// list of people waiting with Admit / Deny, the count, the knock and notification
// button, and the form that sends a message to those waiting.

import { el } from "./dom.js";
import { fmt, kindLabel, timeLabel } from "./i18n.js";

export function createStaffLobby(room) {
  const { $, cfg, st, S } = room;
  let knownWaiting = new Set();

  function render(waiting) {
    st.waiting = waiting;
    const list = $("waiting-list");
    if (!list) return; // not staff
    const ordered = [...waiting].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
    list.replaceChildren(...ordered.map((w) => {
      const name = w.name || "";
      return el("li", { class: "waiting-item", "data-seat-id": String(w.seat_id) },
        el("div", { class: "waiting-who" },
          el("span", { class: "waiting-pos", text: fmt(S.queue_no, { n: w.position ?? "?" }) }),
          el("strong", { class: "waiting-name", text: name }),
          el("span", { class: "tag", text: kindLabel(S, w.kind) }),
          w.companion_of ? el("span", { class: "hint", text: fmt(S.companion_of, { name: nameInQueue(w.companion_of) }) }) : null,
          w.online === false ? el("span", { class: "tag tag-offline", text: S.offline }) : null),
        el("div", { class: "waiting-when hint", text: fmt(S.arrived, { time: timeLabel(w.arrived_at, cfg.lang) }) }),
        el("div", { class: "waiting-actions" },
          el("button", {
            type: "button", class: "primary admit", text: S.admit,
            "aria-label": fmt(S.admit_named, { name }),
            onclick: (e) => admit(w, e.currentTarget),
          }),
          el("button", {
            type: "button", class: "deny", text: S.deny,
            "aria-label": fmt(S.deny_named, { name }),
            onclick: () => deny(w),
          })));
    }));
    $("waiting-empty").hidden = waiting.length > 0;
    const count = $("waiting-count");
    count.textContent = String(waiting.length);
    count.setAttribute("aria-label", fmt(S.waiting_count, { n: waiting.length }));

    const ids = new Set(waiting.map((w) => w.seat_id));
    const newcomers = waiting.filter((w) => !knownWaiting.has(w.seat_id));
    knownWaiting = ids;
    const { knock } = room;
    if (waiting.length && st.helloDone && !st.closed) {
      if (newcomers.length) { knock.stop(); knock.notify(newcomers, waiting.length); }
      knock.start();
    } else if (waiting.length && !st.closed) {
      knock.start();
    } else {
      knock.stop();
    }
  }

  function nameInQueue(seatId) {
    return st.waiting.find((w) => w.seat_id === seatId)?.name || st.participants.get(seatId)?.name || "";
  }

  async function admit(w, button) {
    room.knock.ensureAudio();
    if (button) button.disabled = true;
    const ack = await room.request("admit", { seat_id: w.seat_id });
    if (button) button.disabled = false;
    room.failIfNot(ack);
  }

  async function deny(w) {
    room.knock.ensureAudio();
    if (!(await room.confirm(fmt(S.confirm_deny, { name: w.name })))) return;
    room.failIfNot(await room.request("deny", { seat_id: w.seat_id }));
  }

  function setup() {
    const { knock } = room;
    const alerts = $("btn-alerts");
    const alertsOn = () => {
      alerts.textContent = S.alerts_on;
      alerts.setAttribute("aria-pressed", "true");
    };
    if (alerts) {
      alerts.setAttribute("aria-pressed", "false");
      if ("Notification" in window && Notification.permission === "granted") alertsOn();
      alerts.addEventListener("click", async () => {
        knock.ensureAudio();
        knock.knock();
        if ("Notification" in window && Notification.permission === "default") {
          try { await Notification.requestPermission(); } catch { /* ignored */ }
        }
        alertsOn();
      });
    }
    // the knock needs a running AudioContext, which needs a user gesture: any click will do
    document.addEventListener("pointerdown", knock.ensureAudio, { once: true, signal: room.signal });
    document.addEventListener("keydown", knock.ensureAudio, { once: true, signal: room.signal });

    // a multi-party room: everyone waiting comes in at once (a hearing's people)
    $("btn-admit-all")?.addEventListener("click", async (e) => {
      room.knock.ensureAudio();
      const button = e.currentTarget;
      button.disabled = true;
      const ack = await room.request("admit_all", {});
      button.disabled = false;
      if (room.failIfNot(ack)) room.status.showAlert(fmt(S.admitted_count, { n: (ack.admitted || []).length }));
    });

    $("lobby-form")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = $("lobby-text").value.trim();
      const ack = await room.request("lobby_message", { text });
      if (room.failIfNot(ack)) {
        $("lobby-form-status").textContent = S.lobby_form_sent;
        setTimeout(() => { $("lobby-form-status").textContent = ""; }, 4000);
      }
    });
  }

  return { render, setup };
}
