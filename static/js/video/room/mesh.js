// The "mesh" topology: browsers connect to each other, one RTCPeerConnection per other
// admitted seat, through `signal` messages. Owns: the newcomer's offers, answering offers
// (the newest replaces any connection with that seat; on glare the lower seat id keeps
// its offer), early ICE candidates, bounded retries of failed connections, and, while
// recording, the send-only connection to the server's recorder.

import { fmt } from "./i18n.js";
import { randomId } from "./session.js";

const MAX_PEER_RETRIES = 5;
const CONNECT_TIMEOUT_MS = 20000;

export function createMesh(room) {
  const { cfg, st, S } = room;
  const signalQueues = new Map(); // offers and answers from one seat, one after another

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
    room.signalling.emit("signal", { to, kind, data }, (ack) => {
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
      e.track.addEventListener("mute", () => room.tiles.update(seatId));
      e.track.addEventListener("unmute", () => room.tiles.update(seatId));
      room.tiles.attach(seatId, peer.stream);
    };
    pc.onconnectionstatechange = () => {
      if (st.peers.get(seatId) !== peer) return;
      const s = pc.connectionState;
      if (s === "connected") {
        peer.connected = true;
        peer.retries = 0;
        clearTimeout(peer.timer);
        room.tiles.flag(seatId, "");
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
    if (!keepTile) room.tiles.remove(seatId);
  }

  /** A connection failed: make a new one and offer again, a bounded number of times. The
   *  seat with the lower id offers at once; the other waits, so both do not offer together. */
  function peerFailed(peer) {
    const { seatId } = peer;
    if (st.peers.get(seatId) !== peer || st.closed || st.seatState !== "admitted") return;
    clearTimeout(peer.timer);
    const name = room.participants.nameOf(seatId);
    if (peer.retries >= MAX_PEER_RETRIES) {
      room.tiles.flag(seatId, fmt(S.peer_failed, { name }));
      return;
    }
    const retries = peer.retries + 1;
    peer.retries = retries;
    room.tiles.flag(seatId, fmt(S.reconnecting_peer, { name }));
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
    if (cfg.watchOnly) {
      // a watcher only receives (the server refuses an offer that would send)
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
      return;
    }
    const streams = st.local.stream ? [st.local.stream] : [];
    pc.addTransceiver(st.local.audio || "audio", { direction: "sendrecv", streams });
    pc.addTransceiver(room.media.videoTrackFor(seatId) || "video", { direction: "sendrecv", streams });
  }

  async function offerTo(seatId, retries = 0) {
    await room.media.start();
    if (st.closed) return;
    const peer = newPeer(seatId, randomId(), retries);
    const { pc } = peer;
    addLocalTransceivers(pc, seatId);
    const offer = await pc.createOffer();
    if (st.peers.get(seatId) !== peer) return;
    await pc.setLocalDescription(offer);
    signal(seatId, "offer", { pcid: peer.pcid, sdp: pc.localDescription.sdp });
  }

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
      await room.media.start();
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
        if (cfg.watchOnly) {
          tr.direction = "recvonly";
          continue;
        }
        tr.direction = "sendrecv";
        if (streams.length && tr.sender.setStreams) tr.sender.setStreams(...streams);
        if (kindOf === "audio") await tr.sender.replaceTrack(st.local.audio);
        else if (kindOf === "video") await tr.sender.replaceTrack(room.media.videoTrackFor(from));
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

  function startRecorder() {
    if (st.recorder || st.topology !== "mesh" || st.seatState !== "admitted" || st.closed) return;
    if (cfg.watchOnly) return; // nothing of a watcher's is recorded: it sends nothing
    room.serverPeers.open("recorder", 0).catch((e) => console.warn("recorder", e));
  }

  function stopRecorder() {
    room.serverPeers.close("recorder");
  }

  /** The video senders to other seats and to the recorder (seatId undefined). */
  function videoSenders() {
    const out = [];
    for (const [seatId, peer] of st.peers) {
      for (const tr of peer.pc.getTransceivers()) {
        if (tr.sender && (tr.receiver.track?.kind === "video") && tr.currentDirection !== "stopped") {
          out.push({ sender: tr.sender, seatId });
        }
      }
    }
    return out.concat(room.serverPeers.videoSenders("recorder"));
  }

  /** Every peer connection and the recorder close. */
  function closeAll() {
    for (const id of [...st.peers.keys()]) closePeer(id);
    stopRecorder();
  }

  return { connectPeers, closePeer, onSignal, startRecorder, stopRecorder, videoSenders, closeAll };
}
