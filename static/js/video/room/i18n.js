// Strings and formats. Owns: reading the page's translated strings (the #video-strings
// JSON the server fills), "{name}" placeholders, seat-kind labels and clock labels in
// Beijing time. Every user-facing text comes from the strings; none is written in the
// room's scripts.

/** The page's translated strings (an empty object when the page has none). */
export function readStrings(doc = document, id = "video-strings") {
  return JSON.parse(doc.getElementById(id)?.textContent || "{}");
}

/** "{name} is waiting" + {name: "X"} → "X is waiting" */
export function fmt(text, vars = {}) {
  return String(text ?? "").replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** "petitioner" → the translated "Petitioner" */
export function kindLabel(S, kind) {
  return S[`kind_${kind}`] || kind || "";
}

/** An ISO time → "14:05", in Beijing time. */
export function timeLabel(iso, lang) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  // the portal keeps Beijing time on every page, whatever the device's own clock says
  return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit",
                                      timeZone: "Asia/Shanghai" });
}
