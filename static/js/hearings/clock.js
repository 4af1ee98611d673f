// The speaker countdown, the same on every screen: the server sends started_at, seconds
// and used_seconds with its own time (server_time); this screen keeps the offset between
// its clock and the server's and counts down locally. Overtime shows negative, in red.

export function createClock(el) {
  let offsetMs = 0; // server time − this device's time
  let turn = null;
  let timer = null;

  function serverNow() {
    return Date.now() + offsetMs;
  }

  /** Every message carries server_time: keep the offset (the latest one wins). */
  function sync(serverTime) {
    const t = Date.parse(serverTime || "");
    if (!Number.isNaN(t)) offsetMs = t - Date.now();
  }

  function remaining() {
    if (!turn) return null;
    let used = turn.used_seconds || 0;
    if (turn.started_at) used += Math.max(0, (serverNow() - Date.parse(turn.started_at)) / 1000);
    return turn.seconds - used;
  }

  function format(s) {
    const neg = s < 0;
    const whole = Math.floor(Math.abs(s));
    const mm = String(Math.floor(whole / 60)).padStart(2, "0");
    const ss = String(whole % 60).padStart(2, "0");
    return `${neg ? "−" : ""}${mm}:${ss}`;
  }

  function draw() {
    const left = remaining();
    if (left === null) {
      el.textContent = "--:--";
      el.classList.remove("overtime", "paused");
      return;
    }
    // whole seconds left, rounded up, so 0:00 shows only once the time is out
    const shown = left >= 0 ? Math.ceil(left) : -Math.floor(-left);
    el.textContent = format(shown);
    el.classList.toggle("overtime", left < 0);
    el.classList.toggle("paused", !turn.started_at);
  }

  /** The current turn (or null) as the server sent it. */
  function set(current, serverTime) {
    sync(serverTime);
    turn = current;
    if (timer) clearInterval(timer);
    timer = turn && turn.started_at ? setInterval(draw, 250) : null;
    draw();
  }

  return { set, sync, serverNow, remaining, format };
}
