// Recording (the `recording` event). Owns: the indicator (#rec-status) and the root's
// is-recording class, the notice the guests see when it starts (#rec-notice), and in mesh
// starting or stopping this browser's connection to the recorder. The record button
// belongs to the controls (they are told through sync).

import { el, openDialog } from "./dom.js";

export function createRecording(room) {
  const { $, cfg, root, st, S } = room;

  function set(on) {
    const was = st.isRecording;
    st.isRecording = on;
    const status = $("rec-status");
    if (on && !status.firstChild) {
      status.append(el("span", { class: "rec-indicator" },
        el("span", { class: "rec-dot", "aria-hidden": "true" }), " ", S.recording));
    } else if (!on) {
      status.replaceChildren();
    }
    root.classList.toggle("is-recording", on);
    room.media.sync();
    // the blocking notice is for the guests; the official started it and sees the
    // indicator (and the alert) only
    if (on && !was && !st.closed) {
      if (cfg.isStaff) room.status.showAlert(S.recording_started);
      else openDialog($("rec-notice"));
    }
    if (st.topology === "mesh" && st.seatState === "admitted") {
      if (on) room.mesh.startRecorder(); else room.mesh.stopRecorder();
    }
  }

  return { set };
}
