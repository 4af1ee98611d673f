// The "sfu" topology: every browser publishes to the server's engine (`media_offer`)
// and answers the engine's `subscribe_offer` for each other seat's feed. Owns: the
// publisher and the subscriptions (st.publisher, st.subs).

import { gathered } from "./server-peer.js";

export function createSfu(room) {
  const { st } = room;

  function publish() {
    if (st.publisher || st.closed) return;
    room.serverPeers.open("publisher", 0).catch((e) => console.warn("publish", e));
  }

  /** A watcher publishes nothing: it asks for the feeds already published (later ones
   *  are offered to it as they come). */
  function watch() {
    if (st.closed) return;
    room.request("watch", {}).then((ack) => { if (ack?.ok === false) console.warn("watch", ack.error); });
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
      e.track.addEventListener("mute", () => room.tiles.update(feed));
      e.track.addEventListener("unmute", () => room.tiles.update(feed));
      room.tiles.attach(feed, sub.stream);
    };
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    if (st.subs.get(feed) !== sub) return;
    room.signalling.emit("subscribe_answer", { feed, sdp: pc.localDescription.sdp });
  }

  function closeSub(feed, { keepTile = false } = {}) {
    const sub = st.subs.get(feed);
    if (!sub) return;
    st.subs.delete(feed);
    sub.pc.close();
    if (!keepTile) room.tiles.remove(feed);
  }

  function videoSenders() {
    return room.serverPeers.videoSenders("publisher");
  }

  /** Every subscription and the publisher close. */
  function closeAll() {
    for (const id of [...st.subs.keys()]) closeSub(id);
    room.serverPeers.close("publisher");
  }

  return { publish, watch, onSubscribeOffer, closeSub, videoSenders, closeAll };
}
