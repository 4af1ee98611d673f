// The video tiles (#videos). Owns: this browser's own picture (#tile-self), one tile per
// other seat (made when its media arrives, removed when it goes), their names, flags and
// connection problems, and playing their sound: when the browser blocks sound until a
// click, the "press here to hear the others" button (#unmute-audio).

import { el } from "./dom.js";
import { fmt } from "./i18n.js";

export function createTiles(room) {
  const { $, root, st, S } = room;
  let soundBlocked = false;

  function tileFor(seatId) {
    let tile = $(`tile-${seatId}`);
    if (tile) return tile;
    const name = room.participants.nameOf(seatId);
    const video = el("video", { autoplay: true, playsinline: true, "aria-label": fmt(S.video_of, { name }) });
    video.playsInline = true;
    tile = el("figure", { class: "tile tile-remote", id: `tile-${seatId}`, "data-seat-id": String(seatId) },
      video,
      el("div", { class: "tile-placeholder", "aria-hidden": "true", text: name ? name.slice(0, 1) : "?" }),
      el("figcaption", {},
        el("span", { class: "tile-name", text: name }), " ",
        el("span", { class: "tile-flags" })),
      el("p", { class: "tile-problem", role: "status" }));
    $("videos").append(tile);
    countTiles();
    return tile;
  }

  function countTiles() {
    const n = root.querySelectorAll("#videos .tile-remote").length;
    $("videos").classList.toggle("has-remote", n > 0);
    $("videos").dataset.remotes = String(n);
  }

  function remove(seatId) {
    $(`tile-${seatId}`)?.remove();
    countTiles();
  }

  /** A line under the tile ("" clears it): a connection problem. */
  function flag(seatId, text) {
    const p = $(`tile-${seatId}`)?.querySelector(".tile-problem");
    if (p) p.textContent = text;
  }

  /** The seat's media plays in its tile (made if needed). */
  function attach(seatId, stream) {
    const tile = tileFor(seatId);
    const video = tile.querySelector("video");
    if (video.srcObject !== stream) video.srcObject = stream;
    video.muted = soundBlocked;
    video.play().catch(() => {
      // the browser wants a click before playing sound: play silently, offer the button
      soundBlocked = true;
      video.muted = true;
      video.play().catch(() => {});
      $("unmute-audio").hidden = false;
    });
    update(seatId);
  }

  function update(seatId) {
    const tile = $(`tile-${seatId}`);
    if (!tile) return;
    const p = st.participants.get(seatId);
    const name = p?.name || "";
    tile.querySelector(".tile-name").textContent = name;
    tile.querySelector(".tile-placeholder").textContent = name ? name.slice(0, 1) : "?";
    tile.querySelector("video").setAttribute("aria-label", fmt(S.video_of, { name }));
    tile.querySelector(".tile-flags").textContent = p?.audio_only ? `(${S.sound_only_tag})` : "";
    const video = tile.querySelector("video");
    const hasVideo = !st.local.audioOnly && !p?.audio_only &&
      video.srcObject?.getVideoTracks().some((t) => t.readyState === "live" && !t.muted);
    tile.classList.toggle("no-video", !hasVideo);
  }

  /** Our own tile shows what we send: the screen, the camera (mirrored) or nothing. */
  function showLocal() {
    const v = $("local-video");
    if (!v) return;
    const track = st.local.screen || (st.local.audioOnly ? null : st.local.video);
    v.srcObject = track ? new MediaStream([track]) : null;
    v.classList.toggle("mirror", !!track && track === st.local.video);
    $("tile-self").classList.toggle("no-video", !track || (track === st.local.video && st.local.cameraOff));
    if (track) v.play().catch(() => {});
  }

  /** Every video element lets go of its media (the end of the call). */
  function detachAll() {
    const v = $("local-video");
    if (v) v.srcObject = null;
    root.querySelectorAll("#videos video").forEach((video) => { video.srcObject = null; });
  }

  function setup() {
    $("unmute-audio")?.addEventListener("click", () => {
      soundBlocked = false;
      root.querySelectorAll("#videos .tile-remote video").forEach((v) => {
        v.muted = false;
        v.play().catch(() => {});
      });
      $("unmute-audio").hidden = true;
    });
  }

  return { attach, update, remove, flag, showLocal, detachAll, setup };
}
