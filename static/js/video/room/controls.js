// The call's controls. Owns: the default controls, which drive the template's toolbar
// buttons (#btn-mute, #btn-camera, #btn-audio-only, #btn-share, #btn-record, #btn-end,
// #btn-leave), and the actions API every controls implementation gets. A page that
// mounts a room with controls of its own passes `controls: (api) => ({sync(view),
// destroy()})` to createRoom instead (see room.js).

import { fmt } from "./i18n.js";

/** The actions a controls implementation may use (the same ones the default uses). */
export function controlsApi(room) {
  const { st, S } = room;
  return {
    root: room.root,
    strings: S,
    $: room.$,
    /** The local media state, as sync() gets it. */
    view: () => room.media.view(),
    confirm: (text) => room.confirm(text),
    alert: (text, options) => room.status.showAlert(text, options),
    setMuted: (on) => room.media.setMuted(on),
    setCameraOff: (off) => room.media.setCameraOff(off),
    setAudioOnly: (on) => room.media.setAudioOnly(on),
    toggleShare: () => room.media.toggleShare(),
    /** Staff: recording on or off (the server tells everyone). */
    record: async (on) => room.failIfNot(await room.request("record", { on }, 30000)),
    /** Staff: the reception day ends for everyone. With people still booked or waiting
     * the server refuses and names them (`still_expected`); the official is asked again
     * with their names, and only then is the end confirmed. */
    end: async () => {
      const ack = await room.request("end", {}, 30000);
      const people = ack && !ack.ok && Array.isArray(ack.still_expected) ? ack.still_expected : [];
      if (!people.length) return room.failIfNot(ack);
      const names = people.map((p) => p.name).join(S.list_separator || ", ");
      if (!(await room.confirm(fmt(S.confirm_end_people, { names })))) return false;
      return room.failIfNot(await room.request("end", { confirm: true }, 30000));
    },
    /** This person leaves the room. */
    leave: () => room.leave(),
    isRecording: () => st.isRecording,
  };
}

/** The template's toolbar. */
export function templateControls(api) {
  const { $, strings: S } = api;
  const ac = new AbortController();
  const on = (id, handler) => $(id)?.addEventListener("click", handler, { signal: ac.signal });

  on("btn-mute", () => {
    const muted = !api.view().muted;
    api.setMuted(muted);
    api.alert(muted ? S.mic_off_notice : S.mic_on_notice);
  });
  on("btn-camera", () => api.setCameraOff(!api.view().cameraOff));
  on("btn-audio-only", () => api.setAudioOnly(!api.view().audioOnly));
  on("btn-share", () => api.toggleShare());
  on("btn-record", async () => {
    const rec = !api.isRecording();
    if (!(await api.confirm(rec ? S.confirm_record_on : S.confirm_record_off))) return;
    await api.record(rec);
  });
  on("btn-end", async () => {
    if (!(await api.confirm(S.confirm_end))) return;
    await api.end();
  });
  on("btn-leave", async () => {
    if (!(await api.confirm(S.confirm_leave))) return;
    api.leave();
  });

  function sync(view) {
    const set = (id, pressed, disabled = false) => {
      const b = $(id);
      if (!b) return;
      b.setAttribute("aria-pressed", String(pressed));
      b.disabled = disabled;
    };
    set("btn-mute", view.muted, !view.hasAudio);
    set("btn-camera", view.cameraOff || view.audioOnly, view.audioOnly || !view.hasVideo);
    set("btn-audio-only", view.audioOnly);
    set("btn-share", view.sharing, !view.canShare);
    $("btn-record")?.setAttribute("aria-pressed", String(view.isRecording));
  }

  return { sync, destroy: () => ac.abort() };
}
