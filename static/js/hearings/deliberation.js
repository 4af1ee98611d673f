// The private deliberation room (templates/hearings/deliberation.html): joins the room on
// the /hearings namespace and keeps "who has voted" current. The server sends only who has
// voted until every vote is in; then the page offers to reload and show the votes (the
// server renders them, so nothing here ever holds another member's vote before that).
// A member waiting for the deliberation stage is let in (the page reloads) when it opens.

(() => {
  const dataEl = document.getElementById("deliberation-data");
  if (!dataEl || typeof window.io !== "function") return;
  const data = JSON.parse(dataEl.textContent);
  const S = data.strings;
  const progress = document.getElementById("progress");
  const waiting = document.getElementById("deliberation-not-begun");
  const liveState = document.getElementById("live-state");
  const wasComplete = progress ? progress.dataset.complete === "true" : false;
  const fmt = (text, values) => text.replace(/%\((\w+)\)d/g, (_, k) => String(values[k]));

  function show(state) {
    if (!progress || !state || state.hearing_id !== data.hearing_id) return;
    const count = document.getElementById("progress-count");
    if (count) count.textContent = fmt(S.voted, { voted: state.voted, of: state.of });
    const list = document.getElementById("progress-members");
    if (list && Array.isArray(state.members)) {
      list.replaceChildren(...state.members.map((m) => {
        const li = document.createElement("li");
        li.dataset.voted = m.has_voted ? "true" : "false";
        const span = document.createElement("span");
        span.textContent = m.has_voted ? S.has_voted : S.waiting;
        li.append(document.createTextNode(m.name + (progress.dataset.colon || ": ")), span);
        return li;
      }));
    }
    // the page was drawn before the last vote: offer the votes (rendered by the server)
    const done = document.getElementById("progress-complete");
    if (done && state.complete && !wasComplete) done.hidden = false;
    // the panel's opinion was written since this page was drawn (the text is on the page)
    const pending = document.querySelector("p.empty#panel-opinion-text");
    if (pending && state.has_panel_opinion) pending.textContent = S.opinion_written;
  }

  function staged(event) {
    if (event && event.hearing_id === data.hearing_id && event.begun && waiting) {
      window.location.reload();
    }
  }

  const auth = { hearing_id: data.hearing_id };
  if (data.token) auth.token = data.token;
  const socket = window.io("/hearings", { auth, transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    if (liveState) liveState.hidden = true;
    socket.emit("deliberation_join", auth, (ack) => {
      if (!ack || !ack.ok) return;
      if (ack.begun && waiting) window.location.reload(); // opened while connecting
      show(ack);
    });
  });
  socket.on("disconnect", () => {
    if (liveState) {
      document.getElementById("live-state-text").textContent = S.offline;
      liveState.hidden = false;
    }
  });
  socket.on("deliberation", show);
  socket.on("deliberation_stage", staged);
})();
