// The clerk's minutes: one box per stage, saved automatically (debounced while typing,
// at once on leaving the box or the page) with the version it was loaded at. A stale
// save gets 409 and overwrites nothing: the user's text stays in the box, the saved text
// is shown beside it. Text not yet saved is kept in localStorage per hearing and stage
// and sent again when the connection is back, so a dropped connection loses nothing.

const DEBOUNCE_MS = 1500;
const RETRY_MS = 5000;

export function createMinutes(root, cfg, S) {
  const boxes = new Map(); // stage -> {ta, status, conflict, version, timer, sending}
  const key = (stage) => `hearing-minutes:${cfg.hearing_id}:${stage}`;

  function setStatus(b, text) {
    b.status.textContent = text;
  }

  function keepLocally(stage, text, version) {
    try {
      localStorage.setItem(key(stage), JSON.stringify({ text, version }));
    } catch (_e) { /* storage full or off: the box still holds the text */ }
  }

  function dropLocal(stage) {
    try { localStorage.removeItem(key(stage)); } catch (_e) { /* nothing kept */ }
  }

  function localCopy(stage) {
    try { return JSON.parse(localStorage.getItem(key(stage)) || "null"); } catch (_e) { return null; }
  }

  async function save(stage, force = false) {
    const b = boxes.get(stage);
    if (!b || b.sending) return;
    clearTimeout(b.timer);
    const text = b.ta.value;
    if (!force && text === b.saved) return;
    if (text.length > cfg.max_minutes) {
      setStatus(b, S.too_long.replace("{n}", cfg.max_minutes));
      return;
    }
    keepLocally(stage, text, b.version);
    b.sending = true;
    setStatus(b, S.saving);
    try {
      const res = await fetch(cfg.minutes_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrf,
                   Accept: "application/json" },
        body: JSON.stringify({ stage, text, version: b.version }),
      });
      const body = await res.json().catch(() => ({}));
      if (res.ok && body.ok) {
        b.version = body.version;
        b.saved = text;
        b.conflict.hidden = true;
        if (b.ta.value === text) dropLocal(stage); else keepLocally(stage, b.ta.value, b.version);
        setStatus(b, S.saved);
      } else if (res.status === 409) {
        showConflict(b, { text: body.text || "", version: body.version || 0 });
      } else {
        setStatus(b, S.error.replace("{error}", body.error || res.status));
      }
    } catch (_e) {
      setStatus(b, S.unsaved);
      b.timer = setTimeout(() => save(stage), RETRY_MS);
    } finally {
      b.sending = false;
      // typed on while this was on its way: send that too
      if (b.ta.value !== text && b.conflict.hidden && !b.timer) schedule(stage);
    }
  }

  function schedule(stage) {
    const b = boxes.get(stage);
    clearTimeout(b.timer);
    b.timer = setTimeout(() => { b.timer = null; save(stage); }, DEBOUNCE_MS);
  }

  function saveAll() {
    for (const [stage, b] of boxes) if (b.ta.value !== b.saved) save(stage);
  }

  for (const section of root.querySelectorAll("[data-minutes-stage]")) {
    const ta = section.querySelector("textarea");
    if (!ta) continue;
    const stage = section.dataset.minutesStage;
    const b = { ta, status: section.querySelector(".minutes-status"),
                conflict: section.querySelector(".minutes-conflict"),
                version: 0, saved: "", timer: null, sending: false, theirs: null,
                loaded: false };
    boxes.set(stage, b);
    ta.addEventListener("input", () => { keepLocally(stage, ta.value, b.version); schedule(stage); });
    ta.addEventListener("blur", () => save(stage));
    section.querySelector("[data-minutes-take]")?.addEventListener("click", () => {
      // the user read the saved text and keeps theirs: save it on the saved version
      if (b.theirs) b.version = b.theirs.version;
      b.conflict.hidden = true;
      save(stage, true);
    });
  }
  document.addEventListener("visibilitychange", () => { if (document.hidden) saveAll(); });
  window.addEventListener("pagehide", saveAll);
  window.addEventListener("online", saveAll);

  function showConflict(b, theirs) {
    b.theirs = theirs;
    b.conflict.querySelector(".minutes-theirs").textContent = theirs.text;
    b.conflict.hidden = false;
    setStatus(b, S.conflict);
  }

  /** The server's minutes: the join snapshot (again at each reconnect) or a `minutes`
   * broadcast after someone saved. Unsaved text in the box, or kept on this device from
   * an earlier visit, is never replaced. */
  function update(state, fromOthers) {
    for (const [stage, s] of Object.entries(state.sections || {})) {
      const b = boxes.get(stage);
      if (!b) continue;
      if (!b.loaded) {
        b.loaded = true;
        const mine = localCopy(stage);
        b.saved = s.text;
        b.version = s.version;
        b.ta.value = s.text;
        if (mine && mine.text !== s.text) {
          b.ta.value = mine.text;
          if ((mine.version || 0) === s.version) {
            setStatus(b, S.unsaved);
            schedule(stage);
          } else {
            b.version = mine.version || 0;
            showConflict(b, { text: s.text, version: s.version });
          }
        }
        continue;
      }
      if (s.version <= b.version) continue;
      if (b.ta.value === b.saved && !b.sending) {
        b.ta.value = s.text;
        b.saved = s.text;
        b.version = s.version;
        if (fromOthers) setStatus(b, S.updated_by_other);
      }
      // else: the user is typing; their next save meets the newer version (409) and
      // shows both texts
    }
  }

  return { update, saveAll };
}

/** Staff who do not write: the minutes shown read only. */
export function showMinutes(root, state) {
  for (const [stage, s] of Object.entries(state.sections || {})) {
    const el = root.querySelector(`pre[data-stage="${stage}"]`);
    if (el) el.textContent = s.text;
  }
}
