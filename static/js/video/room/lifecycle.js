// Where the seat is: connecting → waiting room → call → closed. Owns: acting on the
// hello ack's seat state, entering the call (media, then mesh peers or the sfu
// publisher), the end of this window's part (closed, ended, left: a plain message,
// every connection and the local media stopped) and `seat_closed`.

export function createLifecycle(room) {
  const { $, cfg, st, S } = room;

  /** After each `hello` ack (the events in it are applied): show what the seat state says. */
  function welcome(ack) {
    if (st.closed) return;
    room.status.setStatus(S.connected);
    if (st.room) {
      room.lobby.setMessage(st.room.lobby_message || "");
      room.recording.set(!!st.room.is_recording);
    }
    const state = st.seat?.state;
    if (st.seat?.is_staff || cfg.isStaff) {
      enterCall(ack.peers || []);
    } else if (state === "waiting" || state === "booked") {
      room.lobby.enter(ack.position ?? null);
    } else if (state === "admitted") {
      enterCall(ack.peers || []);
    } else if (state === "denied") {
      closeWith(S.denied, "");
    } else if (state === "removed") {
      closeWith(S.closed_removed, "");
    } else {
      closeWith(S.ended, S.ended_body);
    }
  }

  function enterCall(peerIds) {
    if (st.closed) return;
    const first = st.seatState !== "admitted";
    room.status.setSeatState("admitted");
    $("lobby").hidden = true;
    $("call").hidden = false;
    if (first) {
      if (!cfg.isStaff) room.status.setStatus(S.admitted);
      if (st.local.audioOnly) room.request("audio_only", { on: true });
    }
    const ready = room.media.start();
    ready.then(() => {
      if (st.closed) return;
      if (st.topology === "sfu") {
        if (cfg.watchOnly) room.sfu.watch(); else room.sfu.publish();
      } else {
        room.mesh.connectPeers(peerIds.map(Number).filter((id) => id !== cfg.seatId));
        if (st.isRecording) room.mesh.startRecorder();
      }
    });
  }

  /** Every connection and the local camera and microphone stop. */
  function stopMedia() {
    room.mesh.closeAll();
    room.sfu.closeAll();
    room.media.stopLocal();
    room.tiles.detachAll();
  }

  function onSeatClosed({ reason, message }, { fromEvent = false } = {}) {
    const text = {
      opened_elsewhere: S.closed_opened_elsewhere,
      removed: S.closed_removed,
      denied: S.denied,
      expired: S.closed_expired,
      logged_out: S.closed_logged_out,
    }[reason];
    if (reason === "ended") closeWith(S.ended, S.ended_body);
    else if (reason === "done") closeWith(S.closed_done, S.ended_body);
    else closeWith(text || message || S.closed_other, "");
    if (!fromEvent) {
      room.signalling.stopReconnecting();
      room.signalling.disconnect();
    }
  }

  function onEnded() {
    // keep the socket: the reception note may still come to the petitioner
    room.signalling.stopReconnecting();
    closeWith(S.ended, S.ended_body, { keepSocket: true });
    room.status.setSeatState("ended");
  }

  /** The end of this window's part: a plain message, media stopped. */
  function closeWith(title, body, { keepSocket = false } = {}) {
    st.closed = true;
    if (!keepSocket) room.signalling.stopReconnecting();
    stopMedia();
    room.knock.stop();
    if (st.seatState !== "ended") room.status.setSeatState(title === S.ended ? "ended" : "closed");
    $("lobby").hidden = true;
    $("call").hidden = true;
    const box = $("closed");
    $("closed-title").textContent = title;
    $("closed-body").textContent = body || "";
    box.hidden = false;
    room.status.setStatus("");
    if (!$("note-dialog")?.open) box.focus();
    room.hook("onClosed", { title, body: body || "" });
  }

  /** This person leaves (no question asked: the controls ask first). */
  function leave() {
    if (st.seatState === "left") return;
    closeWith(S.left, "");
    room.status.setSeatState("left");
    room.signalling.disconnect();
  }

  return { welcome, enterCall, stopMedia, onSeatClosed, onEnded, closeWith, leave };
}
