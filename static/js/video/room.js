// The reception room in the browser, for the official (host) and the petitioner (guest):
// createRoom(root, config) mounts one room on its root element and returns a handle.
// Importing this connects nothing; static/js/video/room-page.js is the room page's entry.
// The signalling protocol is video/PROTOCOL.md; socket.io-client is passed in as
// config.io (the page's global `io`, static/vendor/socket.io.min.js). Every user-facing
// string comes from config.strings (translated by the server).
//
// Media: in "mesh" topology browsers connect to each other (room/mesh.js), and while
// recording each admitted browser also sends its tracks to the server's recorder. In
// "sfu" topology every browser publishes to the engine and answers its subscribe offers
// (room/sfu.js). Only the ICE servers the portal gives are used: never a public
// STUN/TURN server.
//
// The state is one object made here (room/state.js) and handed, with the other modules,
// to every module through the `room` context; no module keeps room state of its own
// beyond the closure of its factory.
//
// config:
//   roomId, seatId      numbers (the seat is this person in this room)
//   token               the guest's join token, or null for staff (logged in)
//   isStaff             boolean: the host's view (waiting list, note panel, staff actions)
//   watchOnly           boolean: a watch-only seat (an observer): no camera or microphone
//                       is asked for, connections only receive, no chat; the server
//                       refuses anything else from such a seat anyway
//   namespace           the Socket.IO namespace, "/video" by default
//   lang                the page's language, for clock labels
//   strings             the translated strings (the #video-strings JSON)
//   io                  the socket.io-client factory (default: the global `io`)
//   controls            optional (api) => {sync(view), destroy()}: controls of one's own
//                       instead of the template's toolbar (room/controls.js has the api);
//                       null for none
//   hooks               optional {onSeatState(state), onEvent(event, {replay}),
//                       onClosed({title, body})}
// handle: {root, socket, state() (a snapshot: seatState, position, peers, isRecording,
//          audioOnly, muted, recorder, lastEventId, hellos), leave()}

import { createChat } from "./room/chat.js";
import { controlsApi, templateControls } from "./room/controls.js";
import { confirmAsk, finder } from "./room/dom.js";
import { createEvents } from "./room/events.js";
import { createKnock } from "./room/knock.js";
import { createLifecycle } from "./room/lifecycle.js";
import { createLobby } from "./room/lobby.js";
import { createMedia } from "./room/media.js";
import { createMesh } from "./room/mesh.js";
import { createNotePanel } from "./room/note-panel.js";
import { createNote } from "./room/note.js";
import { createParticipants } from "./room/participants.js";
import { createRecording } from "./room/recording.js";
import { createServerPeers } from "./room/server-peer.js";
import { createSession } from "./room/session.js";
import { createSfu } from "./room/sfu.js";
import { createSignalling } from "./room/signalling.js";
import { createStaffLobby } from "./room/staff-lobby.js";
import { createState, snapshot } from "./room/state.js";
import { createStatus } from "./room/status.js";
import { createTiles } from "./room/tiles.js";

export function createRoom(root, config = {}) {
  const cfg = {
    roomId: Number(config.roomId),
    seatId: Number(config.seatId),
    token: config.token || null,
    isStaff: !!config.isStaff,
    watchOnly: !!config.watchOnly,
    namespace: config.namespace || "/video",
    lang: config.lang || document.documentElement.lang || undefined,
    io: config.io || globalThis.io,
  };
  const S = config.strings || {};
  const hooks = config.hooks || {};
  const session = createSession(cfg);
  const st = createState(session);
  const $ = finder(root);
  const listeners = new AbortController(); // window and document listeners, until leave()

  // the context every module gets: config, strings, state, and each other
  const room = {
    root, cfg, S, st, $, session,
    signal: listeners.signal,
    confirm: (text) => confirmAsk($, text),
    hook(name, ...args) {
      if (typeof hooks[name] !== "function") return;
      try { hooks[name](...args); } catch (e) { console.warn("video: hook", name, e); }
    },
  };
  room.status = createStatus(room);
  room.signalling = createSignalling(room);
  room.request = room.signalling.request;
  room.failIfNot = room.signalling.failIfNot;
  room.events = createEvents(room);
  room.lifecycle = createLifecycle(room);
  room.lobby = createLobby(room);
  room.knock = createKnock(room);
  room.staffLobby = createStaffLobby(room);
  room.media = createMedia(room);
  room.serverPeers = createServerPeers(room);
  room.mesh = createMesh(room);
  room.sfu = createSfu(room);
  room.tiles = createTiles(room);
  room.participants = createParticipants(room);
  room.chat = createChat(room);
  room.recording = createRecording(room);
  room.note = createNote(room);
  room.notePanel = createNotePanel(room);
  room.leave = () => {
    room.lifecycle.leave();
    listeners.abort();
    room.controls?.destroy?.();
    room.knock.stop();
    room.status.stop();
  };

  room.status.setStatus(S.connecting);
  const makeControls = config.controls === undefined ? templateControls : config.controls;
  room.controls = makeControls ? makeControls(controlsApi(room)) : null;
  room.tiles.setup();
  room.chat.setup();
  room.media.sync();
  room.note.setup();
  if (cfg.isStaff) room.staffLobby.setup();
  window.addEventListener("pagehide", () => { room.lifecycle.stopMedia(); }, { signal: listeners.signal });
  room.signalling.connect();

  return {
    root,
    get socket() { return room.signalling.socket; },
    state: () => snapshot(st),
    leave: room.leave,
  };
}
