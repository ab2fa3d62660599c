// The jetpool status page: renders the board embedded in the page, then
// applies the updates /events streams. No libraries: the page is served
// from the binary and must work offline.
"use strict";

const WINDOW_MS = 10 * 60 * 1000;
const MAX_DECISIONS = 30;
/** Decisions listed on a card; `jetpool explain` and /status/{pool} have all. */
const SHOW_DECISIONS = 8;
/** Pool name -> { status, history: [sample], decisions: [record] }. */
const pools = new Map();
let order = [];

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function ms(at) { return Date.parse(at); }

/** Folds one pool update (the shape of /events' `pool` event) in. */
function apply(u) {
  const name = u.status.pool;
  let p = pools.get(name);
  if (!p || u.reset) {
    p = { status: u.status, history: [], decisions: [] };
    pools.set(name, p);
    if (!order.includes(name)) order.push(name);
  }
  p.status = u.status;
  for (const s of u.history) {
    const last = p.history[p.history.length - 1];
    if (!last || s.t > last.t) p.history.push(s);
  }
  const newest = p.history.length ? p.history[p.history.length - 1].t : 0;
  while (p.history.length && p.history[0].t < newest - WINDOW_MS) p.history.shift();
  for (const d of u.decisions) {
    const last = p.decisions[p.decisions.length - 1];
    if (last && ms(last.at) === ms(d.at)) p.decisions[p.decisions.length - 1] = d;
    else if (!last || ms(d.at) > ms(last.at)) p.decisions.push(d);
  }
  while (p.decisions.length > MAX_DECISIONS) p.decisions.shift();
  return name;
}

function rate(x) {
  if (x === null || x === undefined || !isFinite(x)) return "-";
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function clock(at) {
  const d = new Date(typeof at === "number" ? at : ms(at));
  return d.toLocaleTimeString([], { hour12: false });
}

function num(key, value, label, title) {
  return `<div class="num"${title ? ` title="${esc(title)}"` : ""}>` +
    `<span class="v" data-k="${key}">${esc(value)}</span><span class="l">${esc(label)}</span></div>`;
}

function stamp(s) {
  if (!s) return "";
  const by = s.by ? ` by ${esc(s.by)}` : "";
  const why = s.reason ? `: ${esc(s.reason)}` : "";
  return `since ${esc(clock(s.at))}${by}${why}`;
}

function badges(st) {
  const b = [];
  const o = st.overrides || {};
  if (o.pinned) b.push(`<span class="badge warn" data-k="pinned">pinned ${o.pinned.replicas}</span>`);
  if (o.paused) b.push(`<span class="badge warn" data-k="paused">paused</span>`);
  if (!st.fresh) b.push(`<span class="badge bad" data-k="blind">blind</span>`);
  if (st.start_backoff_s > 0) b.push(`<span class="badge bad">start back-off ${Math.ceil(st.start_backoff_s)}s</span>`);
  return b.join(" ");
}

// ---- the chart: three panels over one time axis, drawn as SVG --------

const W = 1000, H = 100;

function scaleX(t, t0, t1) { return ((t - t0) / Math.max(1, t1 - t0)) * W; }
function scaleY(v, top) { return H - (v / top) * (H - 4); }
function topOf(values) {
  const m = Math.max(1, ...values.filter((v) => isFinite(v)));
  return m * 1.1;
}

/** A polyline; `step` draws a staircase (counts change at an instant). */
function line(samples, key, t0, t1, top, cls, step) {
  const pts = [];
  let prev = null;
  for (const s of samples) {
    const x = scaleX(s.t, t0, t1).toFixed(1);
    const y = scaleY(s[key], top).toFixed(1);
    if (step && prev !== null) pts.push(`${x},${prev}`);
    pts.push(`${x},${y}`);
    prev = y;
  }
  return `<polyline class="${cls}" points="${pts.join(" ")}"/>`;
}

function area(samples, key, t0, t1, top, cls) {
  if (!samples.length) return "";
  const first = scaleX(samples[0].t, t0, t1).toFixed(1);
  const last = scaleX(samples[samples.length - 1].t, t0, t1).toFixed(1);
  const pts = samples.map((s) => `${scaleX(s.t, t0, t1).toFixed(1)},${scaleY(s[key], top).toFixed(1)}`);
  return `<polygon class="${cls}" points="${first},${H} ${pts.join(" ")} ${last},${H}"/>`;
}

function panel(kind, title, keys, top, body) {
  const legend = keys.map(([cls, label]) => `<span class="key ${cls}">${esc(label)}</span>`).join("");
  return `<div class="panel" data-panel="${kind}"><div class="ptitle"><b>${esc(title)}</b>${legend}` +
    `<span class="top">${esc(top)}</span></div>` +
    `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}">${body}</svg></div>`;
}

function chart(p) {
  const h = p.history;
  if (h.length < 2) {
    return `<figure class="chart" data-k="chart" data-samples="${h.length}"><p class="empty">collecting samples…</p></figure>`;
  }
  const t1 = h[h.length - 1].t;
  const t0 = Math.min(h[0].t, t1 - 60 * 1000);
  const agentsTop = topOf(h.flatMap((s) => [s.desired, s.running + s.starting]));
  const backlogTop = topOf(h.flatMap((s) => [s.backlog, s.in_flight]));
  const arrivalsTop = topOf(h.map((s) => s.arrivals));
  const agents = panel("agents", "Agents", [["c1", "desired"], ["c2", "running"], ["c3", "+ starting"]],
    Math.round(agentsTop / 1.1),
    area(h.map((s) => ({ t: s.t, v: s.running + s.starting })), "v", t0, t1, agentsTop, "a3") +
    area(h, "running", t0, t1, agentsTop, "a2") +
    line(h, "desired", t0, t1, agentsTop, "c1", true));
  const backlog = panel("backlog", "Backlog", [["c4", "waiting"], ["c5", "in flight"]],
    Math.round(backlogTop / 1.1),
    area(h, "backlog", t0, t1, backlogTop, "a4") + line(h, "in_flight", t0, t1, backlogTop, "c5"));
  const arrivals = panel("arrivals", "Arrivals", [["c6", "tasks/s"]], rate(arrivalsTop / 1.1),
    line(h, "arrivals", t0, t1, arrivalsTop, "c6"));
  const span = Math.round((t1 - t0) / 1000);
  const spanText = span >= 120 ? `${Math.round(span / 60)} min` : `${span} s`;
  return `<figure class="chart" data-k="chart" data-samples="${h.length}">${agents}${backlog}${arrivals}` +
    `<figcaption><span>−${spanText}</span><span>${esc(clock(t1))}</span></figcaption></figure>`;
}

// ---- one pool's card --------------------------------------------------

function agentsTable(agents) {
  if (!agents.length) return `<p class="empty">no agents</p>`;
  const rows = agents.map((a) =>
    `<tr data-agent="${esc(a.name)}"><td class="name">${esc(a.name)}</td>` +
    `<td data-k="role"><span class="role ${esc(a.role)}">${esc(a.role)}</span></td>` +
    `<td data-k="state">${esc(a.state ?? "-")}</td>` +
    `<td data-k="holds" class="n">${esc(a.in_flight ?? "-")}</td></tr>`).join("");
  return `<div class="scroll"><table class="agents"><thead><tr><th>agent</th><th>role</th>` +
    `<th>reports</th><th class="n">holds</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function decisionsList(decisions) {
  if (!decisions.length) return `<p class="empty">no decision yet</p>`;
  const items = decisions.slice(-SHOW_DECISIONS).reverse().map((r) => {
    const d = r.decision;
    const from = r.from === d.desired ? "" : `${r.from} → `;
    return `<li data-decision><time>${esc(clock(r.at))}</time> <b>${from}${d.desired}</b>` +
      ` <span class="limit">${esc(d.limit)}</span> <span class="reason">${esc(d.reason)}</span></li>`;
  }).join("");
  return `<ol class="decisions">${items}</ol>`;
}

function card(p) {
  const st = p.status;
  const d = st.decision;
  const c = st.observation;
  const r = st.replicas;
  const e = d ? d.estimates : null;
  const o = st.overrides || {};
  const controls = [];
  if (o.pinned) controls.push(`<li>pinned at ${o.pinned.replicas} ${stamp(o.pinned)}</li>`);
  if (o.paused) controls.push(`<li>paused ${stamp(o.paused)}</li>`);
  const bounds = d ? `${d.min}–${d.max}` : `${st.min}–${st.max}`;
  return `<div class="head"><h2>${esc(st.pool)}</h2> ${badges(st)}` +
    `<span class="src">${esc(st.stream)} · ${esc(st.consumer)}</span></div>` +
    `<div class="nums">` +
    num("desired", d ? d.desired : "-", "desired") +
    num("running", r.ready, "running") +
    num("starting", r.starting, "starting") +
    num("draining", r.draining, "draining") +
    num("standby", r.standby, "standby") +
    num("backlog", c ? c.pending : "-", "waiting") +
    num("in_flight", c ? c.ack_pending : "-", "in flight") +
    num("arrivals", e ? rate(e.arrival_rate) : "-", "arrivals/s") +
    num("per_agent", e ? rate(e.per_agent_rate) : "-", "per agent/s") +
    num("bounds", bounds, "min–max") +
    `</div>` +
    (controls.length ? `<ul class="controls" data-k="overrides">${controls.join("")}</ul>` : "") +
    `<p class="guard"><span class="limit" data-k="limit">${esc(d ? d.limit : "waiting")}</span> ` +
    `<span class="reason" data-k="reason">${esc(st.failure ?? (d ? d.reason : "no decision yet"))}</span></p>` +
    chart(p) +
    `<details open><summary>Agents <span data-k="agents">${st.agents.length}</span></summary>${agentsTable(st.agents)}</details>` +
    `<details open><summary>Last decisions</summary>${decisionsList(p.decisions)}</details>`;
}

function renderPool(name) {
  const p = pools.get(name);
  if (!p) return;
  let el = document.querySelector(`section.pool[data-pool="${CSS.escape(name)}"]`);
  if (!el) {
    el = document.createElement("section");
    el.className = "pool";
    el.dataset.pool = name;
    document.getElementById("pools").appendChild(el);
  }
  el.dataset.updated = p.status.updated_at || "";
  el.innerHTML = card(p);
}

function renderAll() {
  const main = document.getElementById("pools");
  for (const el of main.querySelectorAll("section.pool")) {
    if (!pools.has(el.dataset.pool)) el.remove();
  }
  const empty = main.querySelector(".empty");
  if (empty) empty.hidden = pools.size > 0;
  for (const name of order) renderPool(name);
  // Keep the registry's order.
  for (const name of order) {
    const el = main.querySelector(`section.pool[data-pool="${CSS.escape(name)}"]`);
    if (el) main.appendChild(el);
  }
}

function setConn(state) {
  const el = document.getElementById("conn");
  el.dataset.state = state;
  el.textContent = state;
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("open", () => setConn("live"));
  es.addEventListener("error", () => setConn("reconnecting"));
  es.addEventListener("pools", (e) => {
    order = JSON.parse(e.data);
    for (const name of [...pools.keys()]) if (!order.includes(name)) pools.delete(name);
    renderAll();
  });
  es.addEventListener("pool", (e) => {
    // How many updates arrived: lets a test see that the page is live.
    document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
    const name = apply(JSON.parse(e.data));
    if (!document.querySelector(`section.pool[data-pool="${CSS.escape(name)}"]`)) renderAll();
    else renderPool(name);
  });
}

function start() {
  const board = JSON.parse(document.getElementById("board").textContent);
  document.getElementById("dry").hidden = !board.dry_run;
  order = board.pools.map((u) => u.status.pool);
  for (const u of board.pools) apply(u);
  renderAll();
  setConn("connecting");
  connect();
}

start();
