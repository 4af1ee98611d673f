// The reception room in the browser, for the official (host) and the petitioner (guest).
// Loaded as <script type="module"> by templates/video/room.html; socket.io-client is the
// global `io` (static/vendor/socket.io.min.js). The signalling protocol is
// video/PROTOCOL.md. Every user-facing string comes from the page's #video-strings JSON
// (translated by the server); nothing in English is written here.
//
// Media: in "mesh" topology browsers connect to each other (one RTCPeerConnection per
// other seat; the newcomer offers; the receiver of an offer replaces any connection it
// had with that seat), and while recording each admitted browser also sends its tracks
// to the server's recorder (`media_offer`). In "sfu" topology every browser publishes
// to the engine (`media_offer`) and answers its `subscribe_offer`s. Only the ICE
// servers the portal gives are used: never a public STUN/TURN server.

const root = document.getElementById("video-room");
const S = JSON.parse(document.getElementById("video-strings")?.textContent || "{}");

/** "{name} is waiting" + {name: "X"} → "X is waiting" */
function fmt(text, vars = {}) {
  return String(text ?? "").replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

const $ = (id) => document.getElementById(id);
const MAX_PEER_RETRIES = 5;
const MAX_RECORDER_RETRIES = 5;
const KNOCK_EVERY_MS = 5000;
const CONNECT_TIMEOUT_MS = 20000;
const GATHER_TIMEOUT_MS = 5000;

const cfg = {
  roomId: Number(root.dataset.roomId),
  seatId: Number(root.dataset.seatId),
  token: root.dataset.token || null,
  isStaff: root.dataset.isStaff === "1",
  namespace: root.dataset.namespace || "/video",
  lang: document.documentElement.lang || undefined,
};

// -- per-tab identity and the last event seen (sessionStorage) ----------------------------

function storage() {
  try { return window.sessionStorage; } catch { return null; }
}

function randomId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID().replace(/-/g, "");
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const DEVICE_KEY = "video:device";
const LAST_KEY = `video:last:${cfg.roomId}:${cfg.seatId}`;
const NOTES_KEY = `video:notes:${cfg.roomId}:${cfg.seatId}`;

function deviceId() {
  const s = storage();
  let id = s?.getItem(DEVICE_KEY);
  if (!id) {
    id = randomId();
    s?.setItem(DEVICE_KEY, id);
  }
  return id;
}

function answeredNotes() {
  try { return new Set(JSON.parse(storage()?.getItem(NOTES_KEY) || "[]")); } catch { return new Set(); }
}

// -- state -------------------------------------------------------------------------------

const st = {
  seatState: "connecting", // connecting | waiting | admitted | denied | closed | ended | left
  seat: null,
  room: null,
  position: null,
  topology: "mesh",
  iceServers: [],
  isRecording: false,
  lastEventId: Number(storage()?.getItem(LAST_KEY) || 0),
  helloDone: false,
  buffered: [], // live room events that came before the hello ack
  participants: new Map(), // seat id → {seat_id, name, kind, is_staff, audio_only}
  waiting: [],
  local: {
    stream: null, audio: null, video: null, screen: null,
    muted: false, cameraOff: false, audioOnly: storage()?.getItem("video:audioOnly") === "1",
  },
  mediaReady: null, // a promise, once media is being started
  peers: new Map(), // mesh: seat id → peer
  pendingCandidates: new Map(), // pcid → [candidate], for candidates that came early
  recorder: null, // mesh while recording: {pc, retries}
  publisher: null, // sfu: {pc, retries}
  subs: new Map(), // sfu: feed seat id → {pc, stream}
  closed: false,
  serverKicks: 0,
  helloTries: 0,
  hellos: 0, // hello acks received (a reconnect adds one)
};

// -- small UI helpers ----------------------------------------------------------------------

function setStatus(text) {
  const el = $("call-status");
  if (el) el.textContent = text || "";
}

let alertTimer = null;
function showAlert(text, { keep = false } = {}) {
  const el = $("call-alert");
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
  clearTimeout(alertTimer);
  if (text && !keep) alertTimer = setTimeout(() => { el.hidden = true; }, 15000);
}

function setSeatState(state) {
  st.seatState = state;
  root.dataset.state = state;
}

function kindLabel(kind) {
  return S[`kind_${kind}`] || kind || "";
}

function timeLabel(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  // the portal keeps Beijing time on every page, whatever the device's own clock says
  return d.toLocaleTimeString(cfg.lang, { hour: "2-digit", minute: "2-digit",
                                          timeZone: "Asia/Shanghai" });
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function confirmAsk(text) {
  const dlg = $("confirm-dialog");
  if (!dlg?.showModal) return Promise.resolve(window.confirm(text));
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dlg.returnValue = "";
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "yes"), { once: true });
    dlg.showModal();
    // Enter on a destructive question should not end anything by accident
    dlg.querySelector('button[value="cancel"]')?.focus();
  });
}

function openDialog(dlg) {
  if (!dlg) return;
  if (dlg.open) return;
  if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
}

/** emit with an ack and a bounded wait; resolves to the ack ({ok:false} on a timeout). */
function request(event, payload, ms = 15000) {
  return new Promise((resolve) => {
    socket.timeout(ms).emit(event, payload, (err, ack) => {
      resolve(err ? { ok: false, error: "timeout" } : (ack || { ok: false, error: "no answer" }));
    });
  });
}

function failIfNot(ack) {
  if (!ack?.ok) showAlert(fmt(S.error, { error: ack?.error || "?" }));
  return !!ack?.ok;
}

// -- the socket ----------------------------------------------------------------------------

const socket = io(cfg.namespace, {
  auth: cfg.token ? { token: cfg.token } : { room: cfg.roomId },
  reconnectionDelayMax: 5000,
});

window.videoRoom = {
  socket,
  state() {
    const peers = [];
    if (st.topology === "sfu") {
      for (const [id, sub] of st.subs) if (sub.pc.connectionState === "connected") peers.push(id);
    } else {
      for (const [id, peer] of st.peers) if (peer.pc.connectionState === "connected") peers.push(id);
    }
    return {
      seatState: st.seatState,
      position: st.position,
      peers,
      isRecording: st.isRecording,
      audioOnly: st.local.audioOnly,
      muted: st.local.muted,
      recorder: st.recorder ? st.recorder.pc.connectionState : null,
      lastEventId: st.lastEventId,
      hellos: st.hellos,
    };
  },
};

setStatus(S.connecting);

socket.on("connect", () => {
  console.info("video: connected", socket.id);
  st.serverKicks = 0;
  st.helloTries = 0;
  sendHello();
});

socket.on("connect_error", (err) => {
  console.info("video: connect_error", err?.message, "active:", socket.active);
  if (st.closed) return;
  if (!socket.active) {
    // refused by the server (bad, expired or foreign link; no right to host)
    closeWith(S.link_invalid, "");
  } else {
    setStatus(S.reconnecting);
  }
});

socket.on("disconnect", (reason) => {
  console.info("video: disconnected", reason);
  st.helloDone = false;
  if (st.closed) return;
  setStatus(S.reconnecting);
  if (reason === "io server disconnect") {
    // the server let go of us without saying why: try again a few times
    if (st.serverKicks++ < 3) setTimeout(() => { if (!st.closed) socket.connect(); }, 2000 * st.serverKicks);
    else closeWith(S.closed_other, "");
  }
});

socket.on("room_event", (ev) => {
  if (!st.helloDone) st.buffered.push(ev);
  else applyEvent(ev, { replay: false, fresh: false });
});
socket.on("signal", (msg) => { onSignal(msg).catch((e) => console.warn("signal", e)); });
socket.on("subscribe_offer", (msg) => { onSubscribeOffer(msg).catch((e) => console.warn("subscribe", e)); });
socket.on("seat_closed", (msg) => onSeatClosed(msg || {}));

function sendHello() {
  st.helloDone = false;
  st.buffered = [];
  socket.timeout(15000).emit("hello", { device: deviceId(), last_event_id: st.lastEventId }, (err, ack) => {
    if (err) {
      console.info("video: hello timed out");
      if (socket.connected && !st.closed) setTimeout(sendHello, 2000);
      return;
    }
    onHello(ack || {});
  });
}

function onHello(ack) {
  if (!ack.ok) {
    console.info("video: hello refused", ack.error);
    // a passing server error: try again a few times before giving up on this window
    if (st.helloTries++ < 3 && socket.connected && !st.closed) {
      setTimeout(sendHello, 1500 * st.helloTries);
      return;
    }
    closeWith(S.link_invalid, ack.error || "");
    socket.disconnect();
    return;
  }
  console.info("video: hello", ack.seat?.state, "events:", (ack.events || []).length);
  st.hellos += 1;
  const fresh = st.lastEventId === 0;
  st.seat = ack.seat || st.seat;
  st.room = ack.room || st.room;
  st.topology = ack.topology || "mesh";
  if (Array.isArray(ack.ice_servers)) st.iceServers = ack.ice_servers;
  for (const ev of ack.events || []) applyEvent(ev, { replay: true, fresh });
  st.helloDone = true;
  const buffered = st.buffered;
  st.buffered = [];
  for (const ev of buffered) applyEvent(ev, { replay: false, fresh: false });
  if (st.closed) return;

  setStatus(S.connected);
  if (st.room) {
    setLobbyMessage(st.room.lobby_message || "");
    setRecording(!!st.room.is_recording);
  }
  const state = st.seat?.state;
  if (st.seat?.is_staff || cfg.isStaff) {
    enterCall(ack.peers || []);
  } else if (state === "waiting" || state === "booked") {
    enterLobby(ack.position ?? null);
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

// -- room events -----------------------------------------------------------------------------

function applyEvent(ev, { replay, fresh }) {
  if (!ev || typeof ev !== "object") return;
  if (typeof ev.id === "number") {
    if (ev.id <= st.lastEventId) return;
    st.lastEventId = ev.id;
    storage()?.setItem(LAST_KEY, String(ev.id));
  }
  const data = ev.data || {};
  switch (ev.kind) {
    case "lobby":
      renderWaiting(Array.isArray(data.waiting) ? data.waiting : []);
      break;
    case "position":
      if (!replay) setPosition(data.position ?? null);
      break;
    case "lobby_message":
      setLobbyMessage(data.text || "");
      if (st.room) st.room.lobby_message = data.text || "";
      break;
    case "admitted":
      if (replay) break; // the hello ack's seat state decides
      if (data.seat_id !== undefined && data.seat_id !== cfg.seatId) break;
      if (Array.isArray(data.ice_servers)) st.iceServers = data.ice_servers;
      if (data.topology) st.topology = data.topology;
      enterCall(data.peers || []);
      break;
    case "participants":
      updateParticipants(Array.isArray(data.seats) ? data.seats : []);
      break;
    case "chat":
      addChat(data);
      break;
    case "recording":
      if (st.room) st.room.is_recording = !!data.on;
      setRecording(!!data.on);
      break;
    case "muted":
      if (replay && fresh) break;
      setMuted(true);
      showAlert(S.muted_by, { keep: true });
      break;
    case "removed":
      closeWith(S.closed_removed, "");
      break;
    case "denied":
      closeWith(S.denied, "");
      break;
    case "closed":
      if (data.seat_id === undefined || Number(data.seat_id) === cfg.seatId) {
        onSeatClosed({ reason: data.reason, message: "" }, { fromEvent: true });
      }
      break;
    case "ended":
      onEnded();
      break;
    case "note":
      showNote(data);
      break;
    case "note_answered":
      if (cfg.isStaff) {
        refreshNoteForm(Number(data.seat_id));
        if (!replay) {
          const who = nameOf(Number(data.seat_id));
          showAlert(data.status === "confirmed" ? fmt(S.note_answer_confirmed, { name: who })
            : fmt(S.note_answer_refused, { name: who, reason: data.reason || "" }), { keep: true });
        }
      }
      break;
    default:
      break;
  }
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
    socket.io.reconnection(false);
    socket.disconnect();
  }
}

function onEnded() {
  // keep the socket: the reception note may still come to the petitioner
  socket.io.reconnection(false);
  closeWith(S.ended, S.ended_body, { keepSocket: true });
  setSeatState("ended");
}

/** The end of this window's part: a plain message, media stopped. */
function closeWith(title, body, { keepSocket = false } = {}) {
  st.closed = true;
  if (!keepSocket) socket.io.reconnection(false);
  stopMedia();
  stopKnock();
  if (st.seatState !== "ended") setSeatState(title === S.ended ? "ended" : "closed");
  $("lobby").hidden = true;
  $("call").hidden = true;
  const box = $("closed");
  $("closed-title").textContent = title;
  $("closed-body").textContent = body || "";
  box.hidden = false;
  setStatus("");
  if (!$("note-dialog")?.open) box.focus();
}

// -- the lobby: the guest's side ---------------------------------------------------------

function enterLobby(position) {
  if (st.closed) return;
  setSeatState("waiting");
  $("call").hidden = true;
  $("lobby").hidden = false;
  setPosition(position);
  if (st.room) setLobbyMessage(st.room.lobby_message || "");
}

function setPosition(position) {
  st.position = position;
  const text = $("lobby-position-text");
  if (text) text.textContent = position ? fmt(S.position, { n: position }) : "";
  const next = $("lobby-next");
  if (next) next.hidden = position !== 1;
}

function setLobbyMessage(text) {
  const box = $("lobby-message");
  if (box) {
    box.hidden = !text;
    $("lobby-message-text").textContent = text;
  }
}

// -- the lobby: the official's side ------------------------------------------------------

let knockTimer = null;
let audioCtx = null;
let knownWaiting = new Set();

function ensureAudio() {
  try {
    if (!audioCtx) audioCtx = new (window.AudioContext || window.webkitAudioContext)();
    if (audioCtx.state === "suspended") audioCtx.resume();
  } catch { /* no WebAudio: no knock */ }
}

/** Two short knocks on a wooden door, made with WebAudio (no audio file). */
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

function startKnock() {
  if (knockTimer) return;
  knock();
  knockTimer = setInterval(knock, KNOCK_EVERY_MS);
}

function stopKnock() {
  clearInterval(knockTimer);
  knockTimer = null;
}

function notifyWaiting(newcomers, count) {
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

function renderWaiting(waiting) {
  st.waiting = waiting;
  const list = $("waiting-list");
  if (!list) return; // not staff
  const ordered = [...waiting].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  list.replaceChildren(...ordered.map((w) => {
    const name = w.name || "";
    return el("li", { class: "waiting-item", "data-seat-id": String(w.seat_id) },
      el("div", { class: "waiting-who" },
        el("span", { class: "waiting-pos", text: fmt(S.queue_no, { n: w.position ?? "?" }) }),
        el("strong", { class: "waiting-name", text: name }),
        el("span", { class: "tag", text: kindLabel(w.kind) }),
        w.companion_of ? el("span", { class: "hint", text: fmt(S.companion_of, { name: nameInQueue(w.companion_of) }) }) : null,
        w.online === false ? el("span", { class: "tag tag-offline", text: S.offline }) : null),
      el("div", { class: "waiting-when hint", text: fmt(S.arrived, { time: timeLabel(w.arrived_at) }) }),
      el("div", { class: "waiting-actions" },
        el("button", {
          type: "button", class: "primary admit", text: S.admit,
          "aria-label": fmt(S.admit_named, { name }),
          onclick: (e) => admit(w, e.currentTarget),
        }),
        el("button", {
          type: "button", class: "deny", text: S.deny,
          "aria-label": fmt(S.deny_named, { name }),
          onclick: () => deny(w),
        })));
  }));
  $("waiting-empty").hidden = waiting.length > 0;
  const count = $("waiting-count");
  count.textContent = String(waiting.length);
  count.setAttribute("aria-label", fmt(S.waiting_count, { n: waiting.length }));

  const ids = new Set(waiting.map((w) => w.seat_id));
  const newcomers = waiting.filter((w) => !knownWaiting.has(w.seat_id));
  knownWaiting = ids;
  if (waiting.length && st.helloDone && !st.closed) {
    if (newcomers.length) { stopKnock(); notifyWaiting(newcomers, waiting.length); }
    startKnock();
  } else if (waiting.length && !st.closed) {
    startKnock();
  } else {
    stopKnock();
  }
}

function nameInQueue(seatId) {
  return st.waiting.find((w) => w.seat_id === seatId)?.name || st.participants.get(seatId)?.name || "";
}

async function admit(w, button) {
  ensureAudio();
  if (button) button.disabled = true;
  const ack = await request("admit", { seat_id: w.seat_id });
  if (button) button.disabled = false;
  failIfNot(ack);
}

async function deny(w) {
  ensureAudio();
  if (!(await confirmAsk(fmt(S.confirm_deny, { name: w.name })))) return;
  failIfNot(await request("deny", { seat_id: w.seat_id }));
}

function setupStaffLobby() {
  const alerts = $("btn-alerts");
  const alertsOn = () => {
    alerts.textContent = S.alerts_on;
    alerts.setAttribute("aria-pressed", "true");
  };
  if (alerts) {
    alerts.setAttribute("aria-pressed", "false");
    if ("Notification" in window && Notification.permission === "granted") alertsOn();
    alerts.addEventListener("click", async () => {
      ensureAudio();
      knock();
      if ("Notification" in window && Notification.permission === "default") {
        try { await Notification.requestPermission(); } catch { /* ignored */ }
      }
      alertsOn();
    });
  }
  // the knock needs a running AudioContext, which needs a user gesture: any click will do
  document.addEventListener("pointerdown", ensureAudio, { once: true });
  document.addEventListener("keydown", ensureAudio, { once: true });

  $("lobby-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("lobby-text").value.trim();
    const ack = await request("lobby_message", { text });
    if (failIfNot(ack)) {
      $("lobby-form-status").textContent = S.lobby_form_sent;
      setTimeout(() => { $("lobby-form-status").textContent = ""; }, 4000);
    }
  });
}

// -- the call ------------------------------------------------------------------------------

function enterCall(peerIds) {
  if (st.closed) return;
  const first = st.seatState !== "admitted";
  setSeatState("admitted");
  $("lobby").hidden = true;
  $("call").hidden = false;
  if (first) {
    if (!cfg.isStaff) setStatus(S.admitted);
    if (st.local.audioOnly) request("audio_only", { on: true });
  }
  const ready = startMedia();
  ready.then(() => {
    if (st.closed) return;
    if (st.topology === "sfu") {
      publish();
    } else {
      connectPeers(peerIds.map(Number).filter((id) => id !== cfg.seatId));
      if (st.isRecording) startRecorder();
    }
  });
}

function startMedia() {
  if (st.mediaReady) return st.mediaReady;
  st.mediaReady = (async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      showAlert(S.media_error, { keep: true });
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
          showAlert(S.camera_missing_audio_only, { keep: true });
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
    showLocal();
    syncControls();
  })();
  return st.mediaReady;
}

function mediaError(err) {
  const name = err?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") showAlert(S.media_denied, { keep: true });
  else if (name === "NotFoundError") showAlert(S.media_missing, { keep: true });
  else showAlert(S.media_error, { keep: true });
}

function stopMedia() {
  for (const id of [...st.peers.keys()]) closePeer(id);
  for (const id of [...st.subs.keys()]) closeSub(id);
  stopRecorder();
  if (st.publisher) { st.publisher.pc.close(); st.publisher = null; }
  st.local.stream?.getTracks().forEach((t) => t.stop());
  st.local.screen?.stop();
  st.local.screen = null;
  const v = $("local-video");
  if (v) v.srcObject = null;
  document.querySelectorAll("#videos video").forEach((video) => { video.srcObject = null; });
}

/** The video track this browser should send to `seatId` (null: none). */
function videoTrackFor(seatId) {
  if (st.local.screen) return st.local.screen;
  if (st.local.audioOnly) return null;
  if (seatId !== undefined && st.participants.get(seatId)?.audio_only) return null;
  return st.local.video;
}

function showLocal() {
  const v = $("local-video");
  if (!v) return;
  const track = st.local.screen || (st.local.audioOnly ? null : st.local.video);
  v.srcObject = track ? new MediaStream([track]) : null;
  v.classList.toggle("mirror", !!track && track === st.local.video);
  $("tile-self").classList.toggle("no-video", !track || (track === st.local.video && st.local.cameraOff));
  if (track) v.play().catch(() => {});
}

// -- mesh peers ------------------------------------------------------------------------------

/** The newcomer offers to everyone already in the room. After a reconnect of the
 *  signalling socket we are a newcomer again: the others may have dropped their side
 *  of the connection when our seat went offline, so a fresh offer goes to each. */
function connectPeers(ids) {
  const want = new Set(ids);
  for (const id of ids) offerTo(id, st.peers.get(id)?.retries || 0);
  // a reconnect: seats that left while we were away
  for (const id of [...st.peers.keys()]) {
    if (!want.has(id) && !st.participants.has(id)) closePeer(id);
  }
}

function signal(to, kind, data) {
  socket.emit("signal", { to, kind, data }, (ack) => {
    if (ack && ack.ok === false) console.warn("signal refused", kind, to, ack.error);
  });
}

function newPeer(seatId, pcid, retries = 0) {
  closePeer(seatId, { keepTile: true });
  const pc = new RTCPeerConnection({ iceServers: st.iceServers || [] });
  const peer = { seatId, pcid, pc, retries, stream: new MediaStream(), timer: null, connected: false };
  st.peers.set(seatId, peer);
  pc.onicecandidate = (e) => {
    if (e.candidate && st.peers.get(seatId) === peer) {
      signal(seatId, "candidate", { pcid, candidate: e.candidate.toJSON() });
    }
  };
  pc.ontrack = (e) => {
    for (const old of peer.stream.getTracks()) {
      if (old.kind === e.track.kind) peer.stream.removeTrack(old);
    }
    peer.stream.addTrack(e.track);
    e.track.addEventListener("mute", () => updateTile(seatId));
    e.track.addEventListener("unmute", () => updateTile(seatId));
    attachRemote(seatId, peer.stream);
  };
  pc.onconnectionstatechange = () => {
    if (st.peers.get(seatId) !== peer) return;
    const s = pc.connectionState;
    if (s === "connected") {
      peer.connected = true;
      peer.retries = 0;
      clearTimeout(peer.timer);
      tileFlag(seatId, "");
    } else if (s === "disconnected") {
      clearTimeout(peer.timer);
      peer.timer = setTimeout(() => {
        if (st.peers.get(seatId) === peer && pc.connectionState !== "connected") peerFailed(peer);
      }, 8000);
    } else if (s === "failed") {
      peerFailed(peer);
    }
  };
  peer.timer = setTimeout(() => {
    if (st.peers.get(seatId) === peer && pc.connectionState !== "connected") peerFailed(peer);
  }, CONNECT_TIMEOUT_MS);
  return peer;
}

function closePeer(seatId, { keepTile = false } = {}) {
  const peer = st.peers.get(seatId);
  if (!peer) return;
  clearTimeout(peer.timer);
  st.peers.delete(seatId);
  peer.pc.onconnectionstatechange = null;
  peer.pc.close();
  st.pendingCandidates.delete(peer.pcid);
  if (!keepTile) removeTile(seatId);
}

/** A connection failed: make a new one and offer again, a bounded number of times. The
 *  seat with the lower id offers at once; the other waits, so both do not offer together. */
function peerFailed(peer) {
  const { seatId } = peer;
  if (st.peers.get(seatId) !== peer || st.closed || st.seatState !== "admitted") return;
  clearTimeout(peer.timer);
  if (peer.retries >= MAX_PEER_RETRIES) {
    tileFlag(seatId, fmt(S.peer_failed, { name: nameOf(seatId) }));
    return;
  }
  const retries = peer.retries + 1;
  peer.retries = retries;
  tileFlag(seatId, fmt(S.reconnecting_peer, { name: nameOf(seatId) }));
  const delay = (cfg.seatId < seatId ? 500 : 5000) + 1000 * retries;
  peer.timer = setTimeout(() => {
    const current = st.peers.get(seatId);
    // an offer from the other side has replaced this connection: nothing to do
    if (current !== peer || st.closed) return;
    if (st.participants.size && !st.participants.has(seatId)) return;
    offerTo(seatId, retries);
  }, delay);
}

function addLocalTransceivers(pc, seatId) {
  const streams = st.local.stream ? [st.local.stream] : [];
  pc.addTransceiver(st.local.audio || "audio", { direction: "sendrecv", streams });
  pc.addTransceiver(videoTrackFor(seatId) || "video", { direction: "sendrecv", streams });
}

async function offerTo(seatId, retries = 0) {
  await startMedia();
  if (st.closed) return;
  const peer = newPeer(seatId, randomId(), retries);
  const { pc } = peer;
  addLocalTransceivers(pc, seatId);
  const offer = await pc.createOffer();
  if (st.peers.get(seatId) !== peer) return;
  await pc.setLocalDescription(offer);
  signal(seatId, "offer", { pcid: peer.pcid, sdp: pc.localDescription.sdp });
}

// offers and answers from one seat are handled one after another
const signalQueues = new Map();
function onSignal(msg) {
  const from = Number(msg?.from);
  const prev = signalQueues.get(from) || Promise.resolve();
  const next = prev.then(() => handleSignal(from, msg.kind, msg.data || {})).catch((e) => console.warn("signal", e));
  signalQueues.set(from, next);
  return next;
}

async function handleSignal(from, kind, data) {
  if (st.closed || !from) return;
  if (kind === "candidate") {
    const peer = st.peers.get(from);
    if (peer && peer.pcid === data.pcid && peer.pc.remoteDescription) {
      await peer.pc.addIceCandidate(data.candidate).catch(() => {});
    } else if (data.pcid && data.candidate) {
      const list = st.pendingCandidates.get(data.pcid) || [];
      if (list.length < 200) list.push(data.candidate);
      if (st.pendingCandidates.size < 100) st.pendingCandidates.set(data.pcid, list);
    }
    return;
  }
  if (kind === "offer") {
    await startMedia();
    if (st.closed || st.seatState !== "admitted") return;
    const old = st.peers.get(from);
    // both offered at once ("glare"): the lower seat id keeps its own offer, the other
    // side takes it; otherwise the newest offer replaces whatever we had with that seat
    if (old && old.pc.signalingState === "have-local-offer" && cfg.seatId < from) return;
    const peer = newPeer(from, data.pcid, old?.retries || 0);
    const { pc } = peer;
    await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
    const streams = st.local.stream ? [st.local.stream] : [];
    for (const tr of pc.getTransceivers()) {
      const kindOf = tr.receiver.track?.kind;
      tr.direction = "sendrecv";
      if (streams.length && tr.sender.setStreams) tr.sender.setStreams(...streams);
      if (kindOf === "audio") await tr.sender.replaceTrack(st.local.audio);
      else if (kindOf === "video") await tr.sender.replaceTrack(videoTrackFor(from));
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    signal(from, "answer", { pcid: peer.pcid, sdp: pc.localDescription.sdp });
    await flushCandidates(peer);
    return;
  }
  if (kind === "answer") {
    const peer = st.peers.get(from);
    if (!peer || peer.pcid !== data.pcid || peer.pc.signalingState !== "have-local-offer") return;
    await peer.pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
    await flushCandidates(peer);
  }
}

async function flushCandidates(peer) {
  const list = st.pendingCandidates.get(peer.pcid) || [];
  st.pendingCandidates.delete(peer.pcid);
  for (const c of list) await peer.pc.addIceCandidate(c).catch(() => {});
}

/** The video senders this browser has, with the seat each goes to (undefined: server). */
function videoSenders() {
  const out = [];
  for (const [seatId, peer] of st.peers) {
    for (const tr of peer.pc.getTransceivers()) {
      if (tr.sender && (tr.receiver.track?.kind === "video") && tr.currentDirection !== "stopped") {
        out.push({ sender: tr.sender, seatId });
      }
    }
  }
  for (const box of [st.recorder, st.publisher]) {
    if (!box) continue;
    for (const tr of box.pc.getTransceivers()) {
      if (tr.receiver.track?.kind === "video") out.push({ sender: tr.sender, seatId: undefined });
    }
  }
  return out;
}

function refreshVideoSenders() {
  for (const { sender, seatId } of videoSenders()) {
    const track = videoTrackFor(seatId);
    if (sender.track !== track) sender.replaceTrack(track).catch((e) => console.warn("replaceTrack", e));
  }
  showLocal();
}

// -- the server's peers: recorder (mesh) and publisher / subscriptions (sfu) --------------------

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        clearTimeout(timer);
        resolve();
      }
    };
    const timer = setTimeout(() => { pc.removeEventListener("icegatheringstatechange", done); resolve(); }, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/** A sendonly connection to the server (the recorder in mesh, the publisher in sfu). */
async function serverPeer(slot, retries) {
  await startMedia();
  if (st.closed) return;
  const pc = new RTCPeerConnection({ iceServers: st.iceServers || [] });
  const box = { pc, retries };
  st[slot] = box;
  const streams = st.local.stream ? [st.local.stream] : [];
  pc.addTransceiver(st.local.audio || "audio", { direction: "sendonly", streams });
  pc.addTransceiver(videoTrackFor(undefined) || "video", { direction: "sendonly", streams });
  pc.onconnectionstatechange = () => {
    if (st[slot] !== box) return;
    if (pc.connectionState === "connected") box.retries = 0;
    if (pc.connectionState === "failed") retryServerPeer(slot, box);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc); // the server (aiortc, Janus) does not trickle: send the whole SDP
  if (st[slot] !== box) { pc.close(); return; }
  const ack = await request("media_offer", { sdp: pc.localDescription.sdp }, 20000);
  if (st[slot] !== box) { pc.close(); return; }
  if (!ack.ok || !ack.sdp) {
    console.warn("media_offer", ack.error);
    retryServerPeer(slot, box);
    return;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
}

function retryServerPeer(slot, box) {
  if (st[slot] !== box) return;
  box.pc.close();
  st[slot] = null;
  if (box.retries >= MAX_RECORDER_RETRIES || st.closed) return;
  const again = slot === "recorder" ? st.isRecording && st.topology === "mesh" : st.topology === "sfu";
  if (!again) return;
  setTimeout(() => {
    if (!st[slot] && !st.closed && st.seatState === "admitted") serverPeer(slot, box.retries + 1);
  }, 1000 * (box.retries + 1));
}

function startRecorder() {
  if (st.recorder || st.topology !== "mesh" || st.seatState !== "admitted" || st.closed) return;
  serverPeer("recorder", 0).catch((e) => console.warn("recorder", e));
}

function stopRecorder() {
  if (!st.recorder) return;
  st.recorder.pc.close();
  st.recorder = null;
}

function publish() {
  if (st.publisher || st.closed) return;
  serverPeer("publisher", 0).catch((e) => console.warn("publish", e));
}

async function onSubscribeOffer({ feed, sdp }) {
  if (st.closed || st.seatState !== "admitted") return;
  feed = Number(feed);
  closeSub(feed, { keepTile: true });
  const pc = new RTCPeerConnection({ iceServers: st.iceServers || [] });
  const sub = { pc, stream: new MediaStream() };
  st.subs.set(feed, sub);
  pc.ontrack = (e) => {
    for (const old of sub.stream.getTracks()) if (old.kind === e.track.kind) sub.stream.removeTrack(old);
    sub.stream.addTrack(e.track);
    e.track.addEventListener("mute", () => updateTile(feed));
    e.track.addEventListener("unmute", () => updateTile(feed));
    attachRemote(feed, sub.stream);
  };
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  if (st.subs.get(feed) !== sub) return;
  socket.emit("subscribe_answer", { feed, sdp: pc.localDescription.sdp });
}

function closeSub(feed, { keepTile = false } = {}) {
  const sub = st.subs.get(feed);
  if (!sub) return;
  st.subs.delete(feed);
  sub.pc.close();
  if (!keepTile) removeTile(feed);
}

// -- remote tiles ----------------------------------------------------------------------------

function nameOf(seatId) {
  return st.participants.get(seatId)?.name || "";
}

let soundBlocked = false;

function tileFor(seatId) {
  let tile = $(`tile-${seatId}`);
  if (tile) return tile;
  const name = nameOf(seatId);
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
  const n = document.querySelectorAll("#videos .tile-remote").length;
  $("videos").classList.toggle("has-remote", n > 0);
  $("videos").dataset.remotes = String(n);
}

function removeTile(seatId) {
  $(`tile-${seatId}`)?.remove();
  countTiles();
}

function tileFlag(seatId, text) {
  const p = $(`tile-${seatId}`)?.querySelector(".tile-problem");
  if (p) p.textContent = text;
}

function attachRemote(seatId, stream) {
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
  updateTile(seatId);
}

function updateTile(seatId) {
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

// -- participants, chat, recording -------------------------------------------------------------

function updateParticipants(seats) {
  const before = new Map(st.participants);
  st.participants = new Map(seats.map((s) => [Number(s.seat_id), { ...s, seat_id: Number(s.seat_id) }]));
  // seats that left: their connections go
  for (const id of before.keys()) {
    if (!st.participants.has(id) && id !== cfg.seatId) {
      closePeer(id);
      closeSub(id);
      removeTile(id);
    }
  }
  // a seat switched sound-only mode: what we send it changes
  let sendersChanged = false;
  for (const [id, p] of st.participants) {
    if (before.get(id)?.audio_only !== p.audio_only) sendersChanged = true;
    if (id !== cfg.seatId && st.seatState === "admitted" && (st.peers.has(id) || st.subs.has(id))) updateTile(id);
  }
  if (sendersChanged) refreshVideoSenders();
  renderParticipants();
  refreshNotePanel();
}

/** Staff: a petitioner answered the note; their form comes back from the server (now
 *  locked, with the answer), the others stay as they are. */
async function refreshNoteForm(seatId) {
  const body = $("note-panel-body");
  const url = body?.dataset.url;
  if (!url) return;
  try {
    const r = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = doc.getElementById(`note-${seatId}`);
    const old = $(`note-${seatId}`);
    if (!fresh || !old) return;
    const node = document.importNode(fresh, true);
    old.replaceWith(node);
    window.htmx?.process(node);
  } catch (e) {
    console.warn("note form", e);
  }
}

/** Staff: the reception-note panel (the lead's htmx fragment) gets a form for each
 *  petitioner admitted; forms already there keep what the official is typing. */
let notePanelBusy = false;
async function refreshNotePanel() {
  const body = $("note-panel-body");
  const url = body?.dataset.url;
  if (!url || notePanelBusy) return;
  const missing = [...st.participants.values()].some(
    (p) => p.kind === "petitioner" && !body.querySelector(`#note-${p.seat_id}`));
  if (!missing) return;
  notePanelBusy = true;
  try {
    const r = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const forms = [...doc.querySelectorAll("form.note")];
    if (!forms.length) return;
    body.querySelector(".note-placeholder")?.remove();
    let list = body.querySelector("#notes");
    if (!list) { list = el("div", { id: "notes" }); body.replaceChildren(list); }
    list.querySelectorAll(":scope > p.muted").forEach((n) => n.remove());
    for (const form of forms) {
      if (body.querySelector(`#${CSS.escape(form.id)}`)) continue;
      const node = document.importNode(form, true);
      list.append(node);
      window.htmx?.process(node);
    }
  } catch (e) {
    console.warn("note panel", e);
  } finally {
    notePanelBusy = false;
  }
}

function renderParticipants() {
  const list = $("participants");
  if (!list) return;
  list.replaceChildren(...[...st.participants.values()].map((p) => {
    const mine = p.seat_id === cfg.seatId;
    const name = p.name || "";
    const item = el("li", { class: "participant", "data-seat-id": String(p.seat_id) },
      el("span", { class: "participant-name", text: mine ? `${name} (${S.you})` : name }), " ",
      el("span", { class: "tag", text: kindLabel(p.kind) }),
      p.audio_only ? el("span", { class: "tag", text: S.sound_only_tag }) : null);
    if (cfg.isStaff && !mine && !p.is_staff) {
      item.append(el("span", { class: "participant-actions" },
        el("button", {
          type: "button", text: S.mute, "aria-label": fmt(S.participant_mute, { name }),
          onclick: async () => failIfNot(await request("mute", { seat_id: p.seat_id })),
        }),
        el("button", {
          type: "button", text: S.finish, "aria-label": fmt(S.participant_finish, { name }),
          onclick: async () => {
            if (await confirmAsk(fmt(S.confirm_finish, { name }))) {
              failIfNot(await request("finish", { seat_id: p.seat_id }));
            }
          },
        }),
        el("button", {
          type: "button", class: "danger", text: S.remove, "aria-label": fmt(S.participant_remove, { name }),
          onclick: async () => {
            if (await confirmAsk(fmt(S.confirm_remove, { name }))) {
              failIfNot(await request("remove", { seat_id: p.seat_id }));
            }
          },
        })));
    }
    return item;
  }));
}

function addChat({ seat_id: seatId, name, text, at }) {
  const list = $("chat-list");
  if (!list) return;
  const mine = Number(seatId) === cfg.seatId;
  list.append(el("li", { class: mine ? "chat-item mine" : "chat-item" },
    el("div", { class: "chat-meta" },
      el("strong", { text: mine ? S.you : (name || "") }), " ",
      el("time", { datetime: at || "", text: timeLabel(at) })),
    el("p", { class: "chat-text", text: text || "" })));
  while (list.children.length > 300) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function setRecording(on) {
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
  const btn = $("btn-record");
  if (btn) btn.setAttribute("aria-pressed", String(on));
  if (on && !was && !st.closed) openDialog($("rec-notice"));
  if (st.topology === "mesh" && st.seatState === "admitted") {
    if (on) startRecorder(); else stopRecorder();
  }
}

// -- controls ----------------------------------------------------------------------------------

function setMuted(muted) {
  st.local.muted = muted;
  if (st.local.audio) st.local.audio.enabled = !muted;
  syncControls();
  $("tile-self")?.classList.toggle("is-muted", muted);
}

function setCameraOff(off) {
  st.local.cameraOff = off;
  if (st.local.video) st.local.video.enabled = !off;
  syncControls();
  showLocal();
}

async function setAudioOnly(on, { quiet = false } = {}) {
  st.local.audioOnly = on;
  storage()?.setItem("video:audioOnly", on ? "1" : "0");
  root.classList.toggle("audio-only", on);
  if (on) {
    // stop the camera: nothing is sent, and a weak phone saves its power
    st.local.video?.stop();
    if (st.local.video) st.local.stream?.removeTrack(st.local.video);
    st.local.video = null;
  } else if (!st.local.video && st.local.stream && navigator.mediaDevices?.getUserMedia) {
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
  for (const id of st.peers.keys()) updateTile(id);
  for (const id of st.subs.keys()) updateTile(id);
  syncControls();
  if (st.seatState === "admitted") {
    const ack = await request("audio_only", { on });
    if (!quiet) failIfNot(ack);
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
    syncControls();
  } catch (err) {
    if (err?.name !== "NotAllowedError" && err?.name !== "AbortError") showAlert(S.share_error);
  }
}

function stopShare(byBrowser = false) {
  const track = st.local.screen;
  st.local.screen = null;
  track?.stop();
  refreshVideoSenders();
  syncControls();
  if (byBrowser) showAlert(S.share_ended);
}

function syncControls() {
  const set = (id, pressed, disabled = false) => {
    const b = $(id);
    if (!b) return;
    b.setAttribute("aria-pressed", String(pressed));
    b.disabled = disabled;
  };
  set("btn-mute", st.local.muted, !st.local.audio);
  set("btn-camera", st.local.cameraOff || st.local.audioOnly, st.local.audioOnly || !st.local.video);
  set("btn-audio-only", st.local.audioOnly);
  set("btn-share", !!st.local.screen, !navigator.mediaDevices?.getDisplayMedia);
  root.classList.toggle("audio-only", st.local.audioOnly);
}

function setupControls() {
  $("btn-mute")?.addEventListener("click", () => {
    setMuted(!st.local.muted);
    showAlert(st.local.muted ? S.mic_off_notice : S.mic_on_notice);
  });
  $("btn-camera")?.addEventListener("click", () => setCameraOff(!st.local.cameraOff));
  $("btn-audio-only")?.addEventListener("click", () => setAudioOnly(!st.local.audioOnly));
  $("btn-share")?.addEventListener("click", toggleShare);
  $("btn-record")?.addEventListener("click", async () => {
    const on = !st.isRecording;
    if (!(await confirmAsk(on ? S.confirm_record_on : S.confirm_record_off))) return;
    failIfNot(await request("record", { on }, 30000));
  });
  $("btn-end")?.addEventListener("click", async () => {
    if (!(await confirmAsk(S.confirm_end))) return;
    failIfNot(await request("end", {}, 30000));
  });
  $("btn-leave")?.addEventListener("click", async () => {
    if (!(await confirmAsk(S.confirm_leave))) return;
    closeWith(S.left, "");
    setSeatState("left");
    socket.disconnect();
  });
  $("unmute-audio")?.addEventListener("click", () => {
    soundBlocked = false;
    document.querySelectorAll("#videos .tile-remote video").forEach((v) => {
      v.muted = false;
      v.play().catch(() => {});
    });
    $("unmute-audio").hidden = true;
  });
  $("chat-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("chat-text");
    const text = input.value.trim();
    if (!text) return;
    input.disabled = true;
    const ack = await request("chat", { text });
    input.disabled = false;
    if (failIfNot(ack)) input.value = "";
    input.focus();
  });
  syncControls();
}

// -- the reception note (the petitioner confirms or refuses it) --------------------------------

let currentNote = null;

function showNote(note) {
  const dlg = $("note-dialog");
  if (!dlg || !note?.note_id) return;
  if (answeredNotes().has(note.note_id)) return;
  currentNote = note;
  $("note-facts").textContent = note.facts || "";
  $("note-demands").textContent = note.demands || "";
  $("note-answer").textContent = note.answer || "";
  $("note-next").textContent = note.next_steps || "";
  $("note-buttons").hidden = false;
  $("note-refusal").hidden = true;
  $("note-result").hidden = true;
  $("note-close").hidden = true;
  $("note-reason").value = "";
  $("note-reason-error").hidden = true;
  openDialog(dlg);
  $("note-confirm").focus();
}

async function replyNote(confirm, reason) {
  if (!currentNote) return;
  const noteId = currentNote.note_id;
  const ack = await request("note_reply", { note_id: noteId, confirm, reason: reason || "" });
  if (!ack.ok) {
    const r = $("note-result");
    r.textContent = fmt(S.error, { error: ack.error || "?" });
    r.hidden = false;
    return;
  }
  const done = answeredNotes();
  done.add(noteId);
  storage()?.setItem(NOTES_KEY, JSON.stringify([...done]));
  currentNote = null;
  $("note-buttons").hidden = true;
  $("note-refusal").hidden = true;
  const r = $("note-result");
  r.textContent = confirm ? S.note_confirmed : S.note_refused;
  r.hidden = false;
  $("note-close").hidden = false;
  $("note-close").querySelector("button").focus();
}

function setupNote() {
  const dlg = $("note-dialog");
  if (!dlg) return;
  // the note waits for an answer: Escape does not close it while unanswered
  dlg.addEventListener("cancel", (e) => { if (currentNote) e.preventDefault(); });
  $("note-confirm").addEventListener("click", () => replyNote(true, ""));
  $("note-refuse").addEventListener("click", () => {
    $("note-buttons").hidden = true;
    $("note-refusal").hidden = false;
    $("note-reason").focus();
  });
  $("note-refusal-cancel").addEventListener("click", () => {
    $("note-refusal").hidden = true;
    $("note-buttons").hidden = false;
    $("note-refuse").focus();
  });
  $("note-refusal").addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = $("note-reason").value.trim();
    $("note-reason-error").hidden = !!reason;
    if (!reason) { $("note-reason").focus(); return; }
    replyNote(false, reason);
  });
}

// -- start -------------------------------------------------------------------------------------

setupControls();
setupNote();
if (cfg.isStaff) setupStaffLobby();
window.addEventListener("pagehide", () => { stopMedia(); });
