// The live hearing page (templates/hearings/live.html) for every audience: connects to
// the socket namespace /hearings, joins with the page's link (or the login), draws the
// snapshot, and follows the broadcasts (`stage`, `speaker`, `attendance`, `recusal`,
// `minutes`). On a reconnect it joins again and redraws from the new snapshot: the state
// lives on the server. Controls and the minutes editor only on the presiding officer's
// and clerk's page.

import { createClock } from "./clock.js";
import { createControls } from "./controls.js";
import { createMinutes, showMinutes } from "./minutes.js";
import { drawLog, drawPeople, drawRecusal, drawSpeakers, drawStage } from "./render.js";

const root = document.getElementById("hearing-live");
const read = (id) => JSON.parse(document.getElementById(id)?.textContent || "{}");

if (root && window.io) {
  const cfg = read("hearing-live-config");
  const S = read("hearing-live-strings");
  const lang = document.documentElement.lang || undefined;
  const status = document.getElementById("live-connection");
  const clock = createClock(root.querySelector("#live-countdown"));
  let state = {};
  let log = [];
  const socket = window.io(cfg.namespace, { reconnectionDelayMax: 5000 });

  function request(event, payload, ms = 10000) {
    return new Promise((resolve) => {
      socket.timeout(ms).emit(event, payload, (err, ack) => {
        resolve(err ? { ok: false, error: "timeout" } : (ack || { ok: false }));
      });
    });
  }

  const controls = cfg.mode === "run" ? createControls(root, S, request, () => state) : null;
  const minutes = cfg.mode === "run" ? createMinutes(root, cfg, S) : null;

  function onStage(s) {
    if (state.stage && s.stage !== state.stage) {
      log = [...log, { at: s.stage_started_at || s.server_time, stage: s.stage,
                       stage_label: s.stage_label }];
      drawLog(root, log, lang);
    }
    state = { ...state, ...s };
    clock.sync(s.server_time);
    drawStage(root, state, S, lang);
    controls?.update(state);
  }
  const onSpeaker = (s) => drawSpeakers(root, s, S, clock, controls);
  const onPeople = (s) => drawPeople(root, s, S, controls);
  const onRecusal = (s) => drawRecusal(root, s, S);
  function onMinutes(s, fromOthers) {
    if (minutes) minutes.update(s, fromOthers);
    else showMinutes(root, s);
  }

  socket.on("connect", async () => {
    status.textContent = S.connecting;
    const ack = await request("join", { hearing_id: cfg.hearing_id, token: cfg.token,
                                        observer_token: cfg.observer_token });
    if (!ack.ok) {
      status.textContent = ack.error || S.refused;
      return;
    }
    status.textContent = S.connected;
    log = ack.log || [];
    drawLog(root, log, lang);
    state = {};
    onStage(ack);
    onSpeaker(ack.speakers);
    onPeople(ack.attendance);
    onRecusal(ack.recusal);
    if (ack.minutes) onMinutes(ack.minutes, false);
  });
  socket.on("disconnect", () => { status.textContent = S.offline; });
  socket.on("connect_error", () => { status.textContent = S.offline; });
  socket.on("stage", onStage);
  socket.on("speaker", onSpeaker);
  socket.on("attendance", onPeople);
  socket.on("recusal", onRecusal);
  socket.on("minutes", (s) => onMinutes(s, true));
  window.hearingLive = { socket, clock, get state() { return state; } };
}
