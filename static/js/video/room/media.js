// This browser's own camera, microphone and screen. Owns: starting them (falling back to
// sound only when there is no camera), the errors shown when they cannot start, mute,
// camera off, sound-only mode (remembered for the tab, told to the server), screen
// sharing, which video track goes to whom, and stopping them. Buttons are not here:
// the controls call these and are told (sync) when something changed.

export function createMedia(room) {
  const { root, st, S } = room;

  function start() {
    if (st.mediaReady) return st.mediaReady;
    st.mediaReady = (async () => {
      if (room.cfg.watchOnly) {
        // a watcher sends nothing: the camera and microphone are never asked for
        st.local.stream = new MediaStream();
        sync();
        return;
      }
      if (!navigator.mediaDevices?.getUserMedia) {
        room.status.showAlert(S.media_error, { keep: true });
        return;
      }
      const video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
      let stream = null;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: st.local.audioOnly ? false : video });
      } catch (err) {
        if (!st.local.audioOnly && ["NotFoundError", "OverconstrainedError", "NotReadableError"].includes(err.name)) {
          try {
            stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
            setAudioOnly(true, { quiet: true });
            room.status.showAlert(S.camera_missing_audio_only, { keep: true });
          } catch (err2) {
            mediaError(err2);
          }
        } else {
          mediaError(err);
        }
      }
      if (st.closed) {
        stream?.getTracks().forEach((t) => t.stop());
        return;
      }
      st.local.stream = stream || new MediaStream();
      st.local.audio = st.local.stream.getAudioTracks()[0] || null;
      st.local.video = st.local.stream.getVideoTracks()[0] || null;
      if (st.local.audio) st.local.audio.enabled = !st.local.muted;
      if (st.local.video) st.local.video.enabled = !st.local.cameraOff;
      room.tiles.showLocal();
      sync();
    })();
    return st.mediaReady;
  }

  function mediaError(err) {
    const name = err?.name || "";
    const { showAlert } = room.status;
    if (name === "NotAllowedError" || name === "SecurityError") showAlert(S.media_denied, { keep: true });
    else if (name === "NotFoundError") showAlert(S.media_missing, { keep: true });
    else showAlert(S.media_error, { keep: true });
  }

  function stopLocal() {
    st.local.stream?.getTracks().forEach((t) => t.stop());
    st.local.screen?.stop();
    st.local.screen = null;
  }

  /** The video track this browser should send to `seatId` (undefined: the server; null: none). */
  function videoTrackFor(seatId) {
    if (st.local.screen) return st.local.screen;
    if (st.local.audioOnly) return null;
    if (seatId !== undefined && st.participants.get(seatId)?.audio_only) return null;
    return st.local.video;
  }

  /** Each connection's video sender gets the track it should send now. */
  function refreshVideoSenders() {
    for (const { sender, seatId } of [...room.mesh.videoSenders(), ...room.sfu.videoSenders()]) {
      const track = videoTrackFor(seatId);
      if (sender.track !== track) sender.replaceTrack(track).catch((e) => console.warn("replaceTrack", e));
    }
    room.tiles.showLocal();
  }

  function setMuted(muted) {
    st.local.muted = muted;
    if (st.local.audio) st.local.audio.enabled = !muted;
    sync();
    room.$("tile-self")?.classList.toggle("is-muted", muted);
  }

  function setCameraOff(off) {
    st.local.cameraOff = off;
    if (st.local.video) st.local.video.enabled = !off;
    sync();
    room.tiles.showLocal();
  }

  async function setAudioOnly(on, { quiet = false } = {}) {
    st.local.audioOnly = on;
    room.session.saveAudioOnly(on);
    root.classList.toggle("audio-only", on);
    if (on) {
      // stop the camera: nothing is sent, and a weak phone saves its power
      st.local.video?.stop();
      if (st.local.video) st.local.stream?.removeTrack(st.local.video);
      st.local.video = null;
    } else if (!room.cfg.watchOnly && !st.local.video && st.local.stream && navigator.mediaDevices?.getUserMedia) {
      // (a watcher's sound-only mode only stops incoming video: it has no camera to start)
      try {
        const s = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } } });
        st.local.video = s.getVideoTracks()[0] || null;
        if (st.local.video) {
          st.local.video.enabled = !st.local.cameraOff;
          st.local.stream.addTrack(st.local.video);
        }
      } catch (err) {
        mediaError(err);
      }
    }
    refreshVideoSenders();
    for (const id of st.peers.keys()) room.tiles.update(id);
    for (const id of st.subs.keys()) room.tiles.update(id);
    sync();
    if (st.seatState === "admitted") {
      const ack = await room.request("audio_only", { on });
      if (!quiet) room.failIfNot(ack);
    }
  }

  async function toggleShare() {
    if (st.local.screen) { stopShare(); return; }
    try {
      const s = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const track = s.getVideoTracks()[0];
      st.local.screen = track;
      track.addEventListener("ended", () => { if (st.local.screen === track) stopShare(true); });
      refreshVideoSenders();
      sync();
    } catch (err) {
      if (err?.name !== "NotAllowedError" && err?.name !== "AbortError") room.status.showAlert(S.share_error);
    }
  }

  function stopShare(byBrowser = false) {
    const track = st.local.screen;
    st.local.screen = null;
    track?.stop();
    refreshVideoSenders();
    sync();
    if (byBrowser) room.status.showAlert(S.share_ended);
  }

  /** What the controls show: pressed and usable buttons. */
  function view() {
    return {
      muted: st.local.muted,
      cameraOff: st.local.cameraOff,
      audioOnly: st.local.audioOnly,
      sharing: !!st.local.screen,
      hasAudio: !!st.local.audio,
      hasVideo: !!st.local.video,
      canShare: !!navigator.mediaDevices?.getDisplayMedia,
      isRecording: st.isRecording,
    };
  }

  /** The controls show the current state; the root's class follows sound-only mode. */
  function sync() {
    try { room.controls?.sync?.(view()); } catch (e) { console.warn("controls", e); }
    root.classList.toggle("audio-only", st.local.audioOnly);
  }

  return {
    start, stopLocal, mediaError, videoTrackFor, refreshVideoSenders,
    setMuted, setCameraOff, setAudioOnly, toggleShare, stopShare, view, sync,
  };
}
