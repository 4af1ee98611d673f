// The live chat of a consultation (templates/consultations/_chat.html, namespace /consult,
// consultations/events.py). Each message goes out with a client id (crypto.randomUUID):
// the server stores it once per id, so a message whose answer was lost is simply sent
// again after a reconnect. After a reconnect the chat asks for what it missed since the
// last message it holds. Marks: "delivered" when a message reaches this window, "read"
// when the window is in view. A waiting person sees their place in the queue change.
// Text is always put in with textContent: nothing a sender writes becomes markup.

const RESEND_TIMEOUT_MS = 10000;

function readStrings(root) {
  const node = root.querySelector("[data-chat-strings]");
  try { return JSON.parse(node ? node.textContent : "{}"); } catch { return {}; }
}

function fmt(text, values) {
  return String(text || "").replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
}

function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function createChat(root, io = window.io) {
  const t = readStrings(root);
  const cid = Number(root.dataset.consultationId);
  const token = root.dataset.token || "";
  const side = root.dataset.side;
  const writes = side === "asker" || side === "lawyer";
  const list = root.querySelector("[data-chat-messages]");
  const empty = root.querySelector("[data-chat-empty]");
  const statusLine = root.querySelector("[data-chat-status]");
  const videoBox = root.querySelector("[data-chat-video]");
  const form = root.querySelector("[data-chat-form]");
  const body = root.querySelector("[data-chat-body]");
  const counter = root.querySelector("[data-chat-count]");
  const fileInput = root.querySelector("[data-chat-file]");
  const errorLine = root.querySelector("[data-chat-error]");
  const max = Number(root.dataset.max) || 2000;

  const shown = new Map(); // message id -> element
  const pending = new Map(); // client id -> {payload, element}
  let lastId = 0;
  let paging = false; // reading the history page by page: live messages wait for it
  let status = root.dataset.status;
  let closed = false;

  // long-polling first, then the upgrade: a network that blocks WebSockets still chats
  const socket = io(root.dataset.namespace || "/consult");

  function say(text) { if (statusLine) statusLine.textContent = text; }
  function showError(text) {
    if (!errorLine) return;
    errorLine.textContent = text || "";
    errorLine.hidden = !text;
  }

  function describeStatus(position) {
    if (status === "queued") return position ? fmt(t.queued, { n: position }) : t.waiting;
    if (status === "held") return t.held;
    if (status === "active") {
      if (side === "asker") return t.active;
      return side === "lawyer" ? t.active_lawyer : t.reader;
    }
    return t.closed;
  }

  function setStatus(next, position) {
    status = next;
    root.dataset.status = next;
    say(describeStatus(position));
    if (form) {
      const open = next === "active" && !closed;
      form.querySelectorAll("textarea, button, input").forEach((el) => { el.disabled = !open; });
    }
  }

  function markText(msg) {
    if (msg.read_at) return t.read;
    if (msg.delivered_at) return t.delivered;
    return t.sent;
  }

  function fileUrl(id) {
    return (root.dataset.fileUrl || "").replace(/\/0$/, `/${id}`);
  }

  function fill(el, msg, state) {
    el.replaceChildren();
    const mine = msg.sender === side;
    el.className = "chat-msg" + (mine ? " mine" : "") + (msg.sender === "system" ? " system" : "")
      + (state === "failed" ? " failed" : "");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = mine ? t.you : (t[msg.sender] || "");
    if (msg.sent_at) {
      const at = new Date(msg.sent_at);
      if (!Number.isNaN(at.getTime())) {
        who.textContent += " · " + at.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai" });
      }
    }
    el.append(who);
    if (msg.body) {
      const p = document.createElement("p");
      p.className = "body";
      p.textContent = msg.body;
      el.append(p);
    }
    if (msg.file) {
      const link = document.createElement(root.dataset.fileUrl ? "a" : "span");
      if (root.dataset.fileUrl) link.href = fileUrl(msg.file.id);
      link.textContent = `${t.attachment}: ${msg.file.name}`;
      el.append(link);
    }
    if (mine) {
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = state === "sending" ? t.sending : state === "failed" ? t.failed : markText(msg);
      el.append(mark);
    }
  }

  function placeholders() { if (empty) empty.hidden = list.children.length > 0; }

  function render(msg) {
    if (shown.has(msg.id)) {
      fill(shown.get(msg.id), msg);
      return false;
    }
    let el = null;
    const waiting = msg.sender === side ? pending.get(msg.client_id) : null;
    if (waiting) {
      el = waiting.element;
      pending.delete(msg.client_id);
    } else {
      el = document.createElement("li");
      list.append(el);
    }
    el.dataset.id = String(msg.id);
    el._msg = msg;
    fill(el, msg);
    shown.set(msg.id, el);
    placeholders();
    list.scrollTop = list.scrollHeight;
    return msg.sender !== side && msg.sender !== "system";
  }

  function theirLatest() {
    let found = 0;
    shown.forEach((el, id) => { if (el._msg.sender !== side && el._msg.sender !== "system") found = Math.max(found, id); });
    return found;
  }

  function sendMarks() {
    if (!writes || !socket.connected) return;
    const upTo = theirLatest();
    if (!upTo) return;
    const kind = document.visibilityState === "visible" ? "read" : "delivered";
    socket.emit(kind, { consultation_id: cid, up_to_id: upTo });
  }

  function emitMessage(entry) {
    socket.timeout(RESEND_TIMEOUT_MS).emit("message", entry.payload, (err, ack) => {
      if (err) { // no answer: kept, sent again after the reconnect
        fill(entry.element, entry.payload, "failed");
        return;
      }
      if (ack && ack.ok) {
        render(ack.message);
      } else {
        pending.delete(entry.payload.client_id);
        entry.element.remove();
        placeholders();
        showError(ack && ack.error);
      }
    });
  }

  function send(payload) {
    const entry = { payload: { consultation_id: cid, client_id: newClientId(), ...payload } };
    entry.element = document.createElement("li");
    list.append(entry.element);
    fill(entry.element, { ...entry.payload, sender: side }, "sending");
    placeholders();
    pending.set(entry.payload.client_id, entry);
    if (socket.connected) emitMessage(entry);
    else fill(entry.element, { ...entry.payload, sender: side }, "failed");
  }

  function join() {
    const data = { consultation_id: cid, after_id: lastId };
    if (token) data.token = token;
    paging = true;
    socket.emit("join", data, (ack) => {
      if (!ack || !ack.ok) {
        paging = false;
        say(ack && ack.error ? ack.error : t.reconnecting);
        return;
      }
      (ack.messages || []).forEach((msg) => { render(msg); lastId = Math.max(lastId, msg.id); });
      paging = Boolean(ack.has_more);
      if (paging) { join(); return; } // the next page, from the last one read
      setStatus(ack.status, ack.position);
      if (videoBox && ack.video) videoBox.hidden = false;
      pending.forEach((entry) => emitMessage(entry)); // the server keeps one per client id
      sendMarks();
    });
  }

  socket.on("connect", () => { showError(""); join(); });
  socket.on("disconnect", (reason) => {
    if (!closed) say(t.reconnecting);
    if (reason === "io server disconnect" && !closed) socket.connect();
  });
  // lastId (where a reconnect's history starts) follows only what came from the room or
  // the history, never this window's own acks: another's lower id committed later would
  // be skipped
  socket.on("message", (msg) => {
    if (msg.consultation_id !== cid) return;
    if (!paging) lastId = Math.max(lastId, msg.id);
    if (render(msg)) sendMarks();
  });
  socket.on("marks", (data) => {
    if (data.consultation_id !== cid || data.side !== side) return;
    shown.forEach((el, id) => {
      if (id > data.up_to_id) return;
      const msg = el._msg;
      if (data.delivered_at && !msg.delivered_at) msg.delivered_at = data.delivered_at;
      if (data.read_at && !msg.read_at) msg.read_at = data.read_at;
      fill(el, msg);
    });
  });
  socket.on("queue", (data) => {
    if (data.consultation_id === cid) setStatus(data.status, data.position);
  });
  socket.on("status", (data) => {
    if (data.consultation_id !== cid) return;
    setStatus(data.status);
    if (videoBox && data.video) videoBox.hidden = false;
  });
  socket.on("closed", (data) => {
    closed = true;
    say((data && data.message) || t.closed_window);
    setStatus(status);
  });

  document.addEventListener("visibilitychange", sendMarks);

  if (body && counter) {
    const update = () => {
      const n = [...body.value].length;
      counter.textContent = fmt(t.count, { n });
      counter.classList.toggle("over", n > max);
      body.toggleAttribute("aria-invalid", n > max);
    };
    body.addEventListener("input", update);
    body.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
    });
  }

  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = body.value.trim();
      if (!text) { showError(t.empty); body.focus(); return; }
      if ([...text].length > max) { showError(t.too_long); body.focus(); return; }
      showError("");
      send({ body: text });
      body.value = "";
      body.dispatchEvent(new Event("input"));
    });
  }

  if (fileInput && root.dataset.uploadUrl) {
    fileInput.addEventListener("change", async () => {
      const file = fileInput.files && fileInput.files[0];
      if (!file) return;
      showError("");
      say(t.uploading);
      const data = new FormData();
      data.append("file", file);
      try {
        const reply = await fetch(root.dataset.uploadUrl, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { "X-CSRFToken": root.dataset.csrf || "" },
        });
        const answer = await reply.json().catch(() => ({}));
        if (!reply.ok || !answer.ok) throw new Error(answer.error || reply.statusText);
        send({ file_id: answer.file.id });
      } catch (error) {
        showError(error.message);
      } finally {
        fileInput.value = "";
        setStatus(status);
      }
    });
  }

  placeholders();
  return { socket, send };
}

document.querySelectorAll("[data-consult-chat]").forEach((root) => createChat(root));
