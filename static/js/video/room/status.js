// The room's status line and alerts. Owns: #call-status (connecting / connected / …),
// #call-alert (a message that goes away after a while unless kept), and the seat state
// written to the root's data-state (CSS and the onSeatState hook follow it).

export function createStatus(room) {
  const { $, root, st } = room;
  let alertTimer = null;

  function setStatus(text) {
    const el = $("call-status");
    if (el) el.textContent = text || "";
  }

  function showAlert(text, { keep = false } = {}) {
    const el = $("call-alert");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
    clearTimeout(alertTimer);
    if (text && !keep) alertTimer = setTimeout(() => { el.hidden = true; }, 15000);
  }

  function setSeatState(state) {
    const before = st.seatState;
    st.seatState = state;
    root.dataset.state = state;
    if (before !== state) room.hook("onSeatState", state);
  }

  function stop() { clearTimeout(alertTimer); }

  return { setStatus, showAlert, setSeatState, stop };
}
