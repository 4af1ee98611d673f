// The official's alert that someone waits. Owns: the knock sound (WebAudio, no audio
// file; repeated while anyone waits), its AudioContext (which needs a user gesture to
// run) and the desktop notification for newcomers when the window has no focus.

import { fmt } from "./i18n.js";

const KNOCK_EVERY_MS = 5000;

export function createKnock(room) {
  const { cfg, S } = room;
  let knockTimer = null;
  let audioCtx = null;

  function ensureAudio() {
    try {
      if (!audioCtx) audioCtx = new (window.AudioContext || window.webkitAudioContext)();
      if (audioCtx.state === "suspended") audioCtx.resume();
    } catch { /* no WebAudio: no knock */ }
  }

  /** Two short knocks on a wooden door. */
  function knock() {
    if (!audioCtx || audioCtx.state !== "running") return;
    const t0 = audioCtx.currentTime + 0.02;
    for (const dt of [0, 0.22]) {
      const osc = audioCtx.createOscillator();
      const gain = audioCtx.createGain();
      osc.type = "triangle";
      osc.frequency.setValueAtTime(260, t0 + dt);
      osc.frequency.exponentialRampToValueAtTime(90, t0 + dt + 0.12);
      gain.gain.setValueAtTime(0.0001, t0 + dt);
      gain.gain.exponentialRampToValueAtTime(0.8, t0 + dt + 0.006);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + dt + 0.16);
      osc.connect(gain).connect(audioCtx.destination);
      osc.start(t0 + dt);
      osc.stop(t0 + dt + 0.2);
    }
  }

  function start() {
    if (knockTimer) return;
    knock();
    knockTimer = setInterval(knock, KNOCK_EVERY_MS);
  }

  function stop() {
    clearInterval(knockTimer);
    knockTimer = null;
  }

  function notify(newcomers, count) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.hasFocus()) return;
    try {
      const n = new Notification(fmt(S.waiting_count, { n: count }), {
        body: newcomers.map((w) => fmt(S.notify_new, { name: w.name })).join("\n"),
        tag: `video-lobby-${cfg.roomId}`,
        renotify: true,
        requireInteraction: true,
      });
      n.onclick = () => { window.focus(); n.close(); };
    } catch { /* some browsers allow notifications only from a service worker */ }
  }

  return { ensureAudio, knock, start, stop, notify };
}
