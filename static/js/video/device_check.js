// The device check before a reception (templates/video/device_check.html): camera
// preview, microphone level, a test sound for the speaker, and a network check timed
// against the portal's own ping URL (data-ping-url, answers 204). Each check shows a
// clear state (works / weak / problem) and what to do when something is wrong. Strings
// come from the page's #video-strings JSON (translated by the server), read and formatted
// as in the room (room/i18n.js).

import { fmt, readStrings } from "./room/i18n.js";

const root = document.getElementById("device-check");
const S = readStrings(document);
const $ = (id) => document.getElementById(id);

const PINGS = 6;
const MIC_THRESHOLD = 0.02; // RMS of a speaking voice is well above this; silence is below
const MIC_SILENT_AFTER_MS = 10000;

const SECTION = { camera: "check-camera", mic: "check-mic", speaker: "check-speaker", network: "check-network" };
const LABEL = { pending: "pending", checking: "checking", ok: "passed", warn: "warning", fail: "failed" };

let stream = null;
let audioCtx = null;
let meterFrame = 0;

function setCheck(name, status, text) {
  const section = $(SECTION[name]);
  section.dataset.status = status;
  const badge = section.querySelector(".check-state");
  badge.textContent = S[LABEL[status]] || status;
  const p = $(`${name === "mic" ? "mic" : name}-text`);
  if (p && text !== undefined) p.textContent = text;
}

function context() {
  if (!audioCtx) audioCtx = new (window.AudioContext || window.webkitAudioContext)();
  if (audioCtx.state === "suspended") audioCtx.resume();
  return audioCtx;
}

// -- camera and microphone -------------------------------------------------------------------

function mediaMessage(kind, err) {
  const name = err?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError") return S[`${kind}_denied`];
  if (name === "NotFoundError" || name === "OverconstrainedError") return S[`${kind}_missing`];
  if (kind === "cam" && name === "NotReadableError") return S.cam_busy;
  return fmt(S[`${kind}_error`], { error: name || String(err) });
}

async function getOne(constraints) {
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints), error: null };
  } catch (error) {
    return { stream: null, error };
  }
}

async function startMedia() {
  stopMedia();
  if (!navigator.mediaDevices?.getUserMedia) {
    setCheck("camera", "fail", S.no_media);
    setCheck("mic", "fail", S.no_media);
    return;
  }
  setCheck("camera", "checking", "");
  setCheck("mic", "checking", "");
  let { stream: both, error } = await getOne({
    audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } },
  });
  let camError = error;
  let micError = error;
  if (!both && error?.name !== "NotAllowedError") {
    // find out which of the two is missing
    const a = await getOne({ audio: true });
    const v = await getOne({ video: true });
    both = new MediaStream([...(a.stream?.getTracks() || []), ...(v.stream?.getTracks() || [])]);
    camError = v.error;
    micError = a.error;
  }
  stream = both;
  const video = stream?.getVideoTracks()[0];
  const audio = stream?.getAudioTracks()[0];

  if (video) {
    const preview = $("dc-preview");
    preview.srcObject = new MediaStream([video]);
    preview.play().catch(() => {});
    const shown = () => setCheck("camera", "ok", S.cam_ok);
    if (preview.readyState >= 2 && preview.videoWidth) shown();
    else preview.addEventListener("loadeddata", shown, { once: true });
  } else {
    setCheck("camera", "fail", mediaMessage("cam", camError));
  }

  if (audio) {
    meter(new MediaStream([audio]));
  } else {
    setCheck("mic", "fail", mediaMessage("mic", micError));
  }
}

function meter(audioStream) {
  const ctx = context();
  const source = ctx.createMediaStreamSource(audioStream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const bar = $("mic-level");
  const started = performance.now();
  let heard = 0;
  let passed = false;
  setCheck("mic", "checking", S.mic_prompt);
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const x of samples) sum += x * x;
    const rms = Math.sqrt(sum / samples.length);
    bar.style.width = `${Math.min(100, Math.round(rms * 400))}%`;
    if (rms > MIC_THRESHOLD) heard += 1;
    if (!passed && heard >= 5) {
      passed = true;
      setCheck("mic", "ok", S.mic_ok);
    } else if (!passed && performance.now() - started > MIC_SILENT_AFTER_MS && $(SECTION.mic).dataset.status !== "warn") {
      setCheck("mic", "warn", S.mic_silent);
    }
    meterFrame = requestAnimationFrame(tick);
  };
  tick();
}

function stopMedia() {
  cancelAnimationFrame(meterFrame);
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  const preview = $("dc-preview");
  if (preview) preview.srcObject = null;
}

// -- speaker -------------------------------------------------------------------------------

function playTone() {
  let ctx;
  try { ctx = context(); } catch {
    setCheck("speaker", "fail", S.speaker_error);
    return;
  }
  // a short three-note chime, loud enough to notice, generated (no audio file)
  const t0 = ctx.currentTime + 0.05;
  [523.25, 659.25, 783.99].forEach((freq, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    const start = t0 + i * 0.35;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.5, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.6);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + 0.65);
  });
  $("speaker-answer").hidden = false;
  setCheck("speaker", "checking", S.speaker_question);
}

// -- network -------------------------------------------------------------------------------

async function checkNetwork() {
  const url = root.dataset.pingUrl;
  const again = $("network-again");
  again.disabled = true;
  setCheck("network", "checking", S.net_checking);
  const times = [];
  let failures = 0;
  for (let i = 0; i < PINGS; i += 1) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 3000);
    const t = performance.now();
    try {
      const sep = url.includes("?") ? "&" : "?";
      const r = await fetch(`${url}${sep}n=${Date.now()}-${i}`, { cache: "no-store", signal: ctrl.signal, credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      if (i > 0) times.push(performance.now() - t); // the first one also opens the connection
    } catch {
      failures += 1;
    } finally {
      clearTimeout(timer);
    }
  }
  again.disabled = false;
  if (!times.length) {
    setCheck("network", "fail", S.net_down);
    return;
  }
  times.sort((a, b) => a - b);
  const median = Math.round(times[Math.floor(times.length / 2)]);
  const slowType = ["slow-2g", "2g"].includes(navigator.connection?.effectiveType);
  const detail = ` (${fmt(S.net_ms, { ms: median })})`;
  if (median > 600 || failures >= 2) {
    setCheck("network", "fail", S.net_bad + detail);
    $("audio-only-choice").checked = true;
  } else if (median > 150 || failures === 1 || slowType) {
    setCheck("network", "warn", S.net_weak + detail);
  } else {
    setCheck("network", "ok", S.net_good + detail);
  }
}

// -- wiring --------------------------------------------------------------------------------

$("dc-start").addEventListener("click", () => {
  try { context(); } catch { /* no WebAudio: the meter will say so */ }
  startMedia().catch((e) => setCheck("camera", "fail", fmt(S.cam_error, { error: e?.name || e })));
});
$("speaker-play").addEventListener("click", playTone);
$("speaker-yes").addEventListener("click", () => {
  $("speaker-answer").hidden = true;
  setCheck("speaker", "ok", S.speaker_ok);
});
$("speaker-no").addEventListener("click", () => {
  $("speaker-answer").hidden = true;
  setCheck("speaker", "fail", S.speaker_fail);
});
$("network-again").addEventListener("click", checkNetwork);

const choice = $("audio-only-choice");
try { choice.checked = sessionStorage.getItem("video:audioOnly") === "1"; } catch { /* no storage */ }
$("consent-form").addEventListener("submit", () => {
  try { sessionStorage.setItem("video:audioOnly", choice.checked ? "1" : "0"); } catch { /* no storage */ }
  stopMedia();
});
window.addEventListener("pagehide", stopMedia);

for (const name of Object.keys(SECTION)) setCheck(name, "pending", "");
checkNetwork();
