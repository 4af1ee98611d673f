// What this browser tab remembers (sessionStorage). Owns: the tab's device id (sent in
// `hello`, so a reload is the same device), the last room event this seat saw, the notes
// it answered, and the sound-only choice (shared with the device check page, same key).
// When storage is unavailable nothing is remembered.

const DEVICE_KEY = "video:device";
const AUDIO_ONLY_KEY = "video:audioOnly";

export function storage() {
  try { return window.sessionStorage; } catch { return null; }
}

export function randomId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID().replace(/-/g, "");
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The remembered values of one seat in one room. */
export function createSession({ roomId, seatId }) {
  const lastKey = `video:last:${roomId}:${seatId}`;
  const notesKey = `video:notes:${roomId}:${seatId}`;
  return {
    deviceId() {
      const s = storage();
      let id = s?.getItem(DEVICE_KEY);
      if (!id) {
        id = randomId();
        s?.setItem(DEVICE_KEY, id);
      }
      return id;
    },
    lastEventId() { return Number(storage()?.getItem(lastKey) || 0); },
    saveLastEventId(id) { storage()?.setItem(lastKey, String(id)); },
    answeredNotes() {
      try { return new Set(JSON.parse(storage()?.getItem(notesKey) || "[]")); } catch { return new Set(); }
    },
    saveAnsweredNotes(ids) { storage()?.setItem(notesKey, JSON.stringify([...ids])); },
    audioOnly() { return storage()?.getItem(AUDIO_ONLY_KEY) === "1"; },
    saveAudioOnly(on) { storage()?.setItem(AUDIO_ONLY_KEY, on ? "1" : "0"); },
  };
}
