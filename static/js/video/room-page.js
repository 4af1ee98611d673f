// The reception room page's entry (templates/video/room.html loads it as
// <script type="module">). Owns: reading the page's config (#video-room's data
// attributes and the #video-strings JSON) and mounting the room with createRoom. The
// handle is window.videoRoom, for the browser tests and for looking at a call from the
// browser's console; the room's modules never read it.

import { createRoom } from "./room.js";
import { readStrings } from "./room/i18n.js";

const root = document.getElementById("video-room");
if (root) {
  const d = root.dataset;
  window.videoRoom = createRoom(root, {
    roomId: Number(d.roomId),
    seatId: Number(d.seatId),
    token: d.token || null,
    isStaff: d.isStaff === "1",
    watchOnly: d.watchOnly === "1",
    namespace: d.namespace || "/video",
    lang: document.documentElement.lang || undefined,
    strings: readStrings(document),
    io: window.io,
  });
}
