// The room's state. Owns: the shape of the one state object createRoom makes and hands
// to every module (nothing else keeps room state), and the read-only snapshot the
// handle's state() returns (what the browser tests and a mounting page look at).

export function createState(session) {
  return {
    seatState: "connecting", // connecting | waiting | admitted | denied | closed | ended | left
    seat: null,
    room: null,
    position: null,
    topology: "mesh",
    iceServers: [],
    isRecording: false,
    lastEventId: session.lastEventId(),
    helloDone: false,
    buffered: [], // live room events that came before the hello ack
    participants: new Map(), // seat id → {seat_id, name, kind, is_staff, audio_only, watch_only}
    watchers: null, // a watcher's view: how many watch, their names left out
    waiting: [],
    local: {
      stream: null, audio: null, video: null, screen: null,
      muted: false, cameraOff: false, audioOnly: session.audioOnly(),
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
}

/** What a page or a test may read: the seat's state and the connected peers. */
export function snapshot(st) {
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
}
