// The presiding officer's and clerk's controls: each is one acked socket event; the
// screen changes when the server's broadcast arrives (so every screen changes together).
// Going back a stage and ending ask first.

import { el } from "./render.js";

export function createControls(root, S, request, getState) {
  const message = root.querySelector("#live-message");

  function show(ack) {
    message.textContent = ack && !ack.ok ? S.error.replace("{error}", ack.error || "?") : "";
    return ack;
  }

  const send = (event, payload = {}) => request(event, payload).then(show);

  for (const button of root.querySelectorAll("[data-live]")) {
    button.addEventListener("click", () => {
      const action = button.dataset.live;
      if (button.dataset.ask && !window.confirm(button.dataset.ask)) return;
      if (action === "start") send("start");
      else if (action === "end") send("end");
      else send("stage", { direction: action, from: getState().stage });
    });
  }
  for (const button of root.querySelectorAll("[data-speaker]")) {
    button.addEventListener("click", () => send("speaker", { action: button.dataset.speaker }));
  }
  root.querySelector("#speaker-add")?.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    send("speaker", { action: "add", participant_id: Number(form.participant_id.value),
                      seconds: Math.round(Number(form.minutes.value || 0) * 60) });
  });
  root.querySelector("#recusal-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const answer = form.answer.value.trim() || form.answer.placeholder;
    send("recusal", { participant_id: Number(form.participant_id.value), answer })
      .then((ack) => { if (ack?.ok) form.answer.value = ""; });
  });

  /** Which buttons show for the hearing's status and stage. */
  function update(state) {
    const running = state.status === "running" && state.stage !== "ended";
    const can = { start: state.status === "scheduled" || state.status === "published",
                  previous: running && !["opening"].includes(state.stage),
                  next: running && state.stage !== "opinion", end: running };
    for (const button of root.querySelectorAll("[data-live]")) {
      button.hidden = !can[button.dataset.live];
    }
    for (const note of root.querySelectorAll("[data-when-startable]")) note.hidden = !can.start;
  }

  function queueButtons(turn) {
    const b = (label, action) => el("button", { type: "button", class: "small",
      onclick: () => send("speaker", { action, speaker_id: turn.id }) }, label);
    return el("span", { class: "queue-buttons" }, b(S.start, "start"), b(S.up, "up"),
              b(S.down, "down"), b(S.remove, "remove"));
  }

  function checkInButtons(person) {
    const box = el("span", { class: "checkin-buttons", role: "group" });
    // present in the room / online are the two states a button shows as chosen; "not
    // present" is the default (not checked in): its button undoes a check-in, and is
    // off while there is nothing to undo, never shown as chosen
    for (const [state, label] of [["in_room", S.mark_in_room], ["online", S.mark_online]]) {
      box.append(el("button", { type: "button", class: "small",
        "aria-pressed": String(person.attendance === state),
        "aria-label": `${person.name}: ${label}`,
        onclick: () => send("check_in", { participant_id: person.id, state }) }, label));
    }
    box.append(el("button", { type: "button", class: "small",
      disabled: person.attendance === "absent",
      "aria-label": `${person.name}: ${S.mark_absent}`,
      onclick: () => send("check_in", { participant_id: person.id, state: "absent" }) },
      S.mark_absent));
    return box;
  }

  return { update, queueButtons, checkInButtons };
}
