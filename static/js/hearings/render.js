// Drawing the live state into the page (textContent only: names never become markup).

export function fmt(text, values) {
  return String(text).replace(/\{(\w+)\}/g, (_m, k) => (k in values ? values[k] : `{${k}}`));
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function localTime(iso, lang) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(lang || undefined,
    { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai" });
}

/** "name (role)", or the role alone where the name is the role (a party shown by role). */
export function who(p) {
  return p.name === p.role_label || p.name.startsWith(`${p.role_label} `)
    ? p.name : `${p.name} (${p.role_label})`;
}

export function drawStage(root, state, S, lang) {
  root.querySelector("#live-stage").textContent = state.stage_label;
  root.querySelector("#live-stage-since").textContent =
    state.stage_started_at ? fmt(S.since, { time: localTime(state.stage_started_at, lang) }) : "";
  for (const li of root.querySelectorAll("#live-stages li")) {
    if (li.dataset.stage === state.stage) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
}

export function drawSpeakers(root, state, S, clock, controls) {
  const current = state.current;
  const name = root.querySelector("#live-speaker-name");
  const next = current ? who(current) : S.nobody;
  if (name.textContent !== next) name.textContent = next; // announced only on a change
  root.querySelector("#live-speaker-state").textContent = current && !current.running ? S.paused : "";
  clock.set(current, state.server_time);
  const list = root.querySelector("#live-queue");
  list.replaceChildren(...state.queue.map((t) => el("li", { dataset: { speaker: t.id } },
    `${who(t)} · ${fmt(S.minutes_short, { m: Math.round(t.seconds / 60) })}`,
    controls ? controls.queueButtons(t) : null)));
  root.querySelector("#live-queue-empty").hidden = state.queue.length > 0;
}

export function drawPeople(root, state, S, controls) {
  const present = controls ? state.people : state.people.filter((p) => p.attendance !== "absent");
  const list = root.querySelector("#live-people");
  list.replaceChildren(...present.map((p) => el("li", { class: `att-${p.attendance}` },
    el("span", { class: "who" }, who(p)),
    el("span", { class: "att" }, S[p.attendance] || p.attendance_label),
    controls ? controls.checkInButtons(p) : null)));
  root.querySelector("#live-people-empty").hidden = present.length > 0;
}

export function drawRecusal(root, state, S) {
  const list = root.querySelector("#live-recusal");
  if (!list) return;
  list.replaceChildren(...state.answers.map((a) => el("li", {},
    el("span", { class: "who" }, who(a)), "：",
    a.answer || S.no_answer)));
}

/** The officials' live log: each stage change with its (Beijing) time. */
export function drawLog(root, entries, lang) {
  const list = root.querySelector("#live-log");
  if (!list) return;
  list.replaceChildren(...entries.map((e) => el("li", {},
    el("time", { dateTime: e.at }, localTime(e.at, lang)), " ", e.stage_label)));
  root.querySelector("#live-log-empty").hidden = entries.length > 0;
}
