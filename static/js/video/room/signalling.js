// The signalling socket (Socket.IO namespace /video, video/PROTOCOL.md). Owns: the one
// socket of the room, connecting and reconnecting, `hello` (with retries) and the
// room events that arrive before its ack, acked requests with a bounded wait, and
// handing the server's messages to the modules that deal with them. Nothing connects
// until connect() is called.

import { fmt } from "./i18n.js";

export function createSignalling(room) {
  const { cfg, st, S, session } = room;
  let socket = null;

  /** emit with an ack and a bounded wait; resolves to the ack ({ok:false} on a timeout). */
  function request(event, payload, ms = 15000) {
    return new Promise((resolve) => {
      socket.timeout(ms).emit(event, payload, (err, ack) => {
        resolve(err ? { ok: false, error: "timeout" } : (ack || { ok: false, error: "no answer" }));
      });
    });
  }

  function failIfNot(ack) {
    if (!ack?.ok) room.status.showAlert(fmt(S.error, { error: ack?.error || "?" }));
    return !!ack?.ok;
  }

  /** A message without waiting for its ack (`signal`, `subscribe_answer`). */
  function emit(event, payload, ack) {
    if (ack) socket.emit(event, payload, ack); else socket.emit(event, payload);
  }

  function connect() {
    if (socket) return socket;
    socket = cfg.io(cfg.namespace, {
      auth: cfg.token ? { token: cfg.token } : { room: cfg.roomId },
      reconnectionDelayMax: 5000,
    });

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
        room.lifecycle.closeWith(S.link_invalid, "");
      } else {
        room.status.setStatus(S.reconnecting);
      }
    });

    socket.on("disconnect", (reason) => {
      console.info("video: disconnected", reason);
      st.helloDone = false;
      if (st.closed) return;
      room.status.setStatus(S.reconnecting);
      if (reason === "io server disconnect") {
        // the server let go of us without saying why: try again a few times
        if (st.serverKicks++ < 3) setTimeout(() => { if (!st.closed) socket.connect(); }, 2000 * st.serverKicks);
        else room.lifecycle.closeWith(S.closed_other, "");
      }
    });

    socket.on("room_event", (ev) => {
      if (!st.helloDone) st.buffered.push(ev);
      else room.events.apply(ev, { replay: false, fresh: false });
    });
    socket.on("signal", (msg) => { room.mesh.onSignal(msg).catch((e) => console.warn("signal", e)); });
    socket.on("subscribe_offer", (msg) => { room.sfu.onSubscribeOffer(msg).catch((e) => console.warn("subscribe", e)); });
    socket.on("seat_closed", (msg) => room.lifecycle.onSeatClosed(msg || {}));
    return socket;
  }

  function sendHello() {
    st.helloDone = false;
    st.buffered = [];
    socket.timeout(15000).emit("hello", { device: session.deviceId(), last_event_id: st.lastEventId }, (err, ack) => {
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
      room.lifecycle.closeWith(S.link_invalid, ack.error || "");
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
    for (const ev of ack.events || []) room.events.apply(ev, { replay: true, fresh });
    st.helloDone = true;
    const buffered = st.buffered;
    st.buffered = [];
    for (const ev of buffered) room.events.apply(ev, { replay: false, fresh: false });
    room.lifecycle.welcome(ack);
  }

  /** No more automatic reconnecting (the seat's part is over). */
  function stopReconnecting() {
    socket?.io.reconnection(false);
  }

  function disconnect() {
    socket?.disconnect();
  }

  return {
    get socket() { return socket; },
    connect, request, failIfNot, emit, stopReconnecting, disconnect,
  };
}
