// A send-only WebRTC connection to the server's media engine: the recorder in mesh, the
// publisher in sfu (`media_offer`). Owns: making it with the whole SDP (the server does
// not trickle ICE), keeping it in its slot of the state (st.recorder / st.publisher)
// and trying again a bounded number of times when it fails.

const MAX_RETRIES = 5;
const GATHER_TIMEOUT_MS = 5000;

/** Resolves once ICE gathering is complete (or after a few seconds). */
export function gathered(pc) {
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

export function createServerPeers(room) {
  const { st } = room;

  /** Opens the connection kept in st[slot] ("recorder" or "publisher"). */
  async function open(slot, retries) {
    await room.media.start();
    if (st.closed) return;
    const pc = new RTCPeerConnection({ iceServers: st.iceServers || [] });
    const box = { pc, retries };
    st[slot] = box;
    const streams = st.local.stream ? [st.local.stream] : [];
    pc.addTransceiver(st.local.audio || "audio", { direction: "sendonly", streams });
    pc.addTransceiver(room.media.videoTrackFor(undefined) || "video", { direction: "sendonly", streams });
    pc.onconnectionstatechange = () => {
      if (st[slot] !== box) return;
      if (pc.connectionState === "connected") box.retries = 0;
      if (pc.connectionState === "failed") retry(slot, box);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc); // the server (aiortc, Janus) does not trickle: send the whole SDP
    if (st[slot] !== box) { pc.close(); return; }
    const ack = await room.request("media_offer", { sdp: pc.localDescription.sdp }, 20000);
    if (st[slot] !== box) { pc.close(); return; }
    if (!ack.ok || !ack.sdp) {
      console.warn("media_offer", ack.error);
      retry(slot, box);
      return;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
  }

  function retry(slot, box) {
    if (st[slot] !== box) return;
    box.pc.close();
    st[slot] = null;
    if (box.retries >= MAX_RETRIES || st.closed) return;
    const again = slot === "recorder" ? st.isRecording && st.topology === "mesh" : st.topology === "sfu";
    if (!again) return;
    setTimeout(() => {
      if (!st[slot] && !st.closed && st.seatState === "admitted") open(slot, box.retries + 1);
    }, 1000 * (box.retries + 1));
  }

  function close(slot) {
    if (!st[slot]) return;
    st[slot].pc.close();
    st[slot] = null;
  }

  /** The video senders of the connection in st[slot] (they go to the server). */
  function videoSenders(slot) {
    const out = [];
    const box = st[slot];
    if (!box) return out;
    for (const tr of box.pc.getTransceivers()) {
      if (tr.receiver.track?.kind === "video") out.push({ sender: tr.sender, seatId: undefined });
    }
    return out;
  }

  return { open, close, videoSenders };
}
