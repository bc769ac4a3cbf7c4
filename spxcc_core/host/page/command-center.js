// spxcc command center: a plain script, no build step. It connects to the hub that served
// the page (same host and port), subscribes to the public channels and, once a token is
// given (the form, or #token=... in the address, which is removed at once), to the account
// channels. Everything is drawn from the hub's envelopes {type, version, seq, ts, data};
// values from the feed are only ever set as text, never as HTML.
"use strict";

const MAX_BARS = 25000;    // per symbol, for the chart (a whole session of 1 s bars)
const TABLE_ROWS = 40;     // rows kept in each table
const PUBLIC = ["microbar@2", "setup@1", "gate_decision@1", "feed_status@1"];
const ACCOUNT = ["broker_order@1", "fill@1", "position@1", "reconcile_status@1"];

const state = {
  bars: new Map(),         // symbol -> [{t, close, vwap, volume}]
  setups: new Map(),       // id -> setup
  positions: new Map(),    // symbol -> position
  gaps: [],
  symbol: null,
  seen: new Map(),         // channel -> Set of seq already shown
  newestMs: 0,
  dirty: false,
};

const $ = (id) => document.getElementById(id);
const nyTime = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", hour12: false, hour: "2-digit", minute: "2-digit",
  second: "2-digit"});
const fmtTime = (ms) => (ms == null ? "" : nyTime.format(new Date(ms)));
const num = (v, d = 2) => (v == null ? "–" : Number(v).toFixed(d));

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function prependRow(tbody, cells, key) {
  const tr = document.createElement("tr");
  if (key) tr.dataset.key = key;
  for (const c of cells) tr.appendChild(Array.isArray(c) ? cell(c[0], c[1]) : cell(c));
  tbody.insertBefore(tr, tbody.firstChild);
  while (tbody.rows.length > TABLE_ROWS) tbody.deleteRow(tbody.rows.length - 1);
  return tr;
}

function upsertRow(tbody, key, cells) {
  const old = tbody.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  const tr = prependRow(tbody, cells, key);
  if (old) { tbody.insertBefore(tr, old); old.remove(); }
}

const signed = (v, d) => [num(v, d), v == null ? "" : v > 0 ? "pos" : v < 0 ? "neg" : ""];

// ---------------------------------------------------------------- channel handlers

function onBar(b) {
  if (!state.bars.has(b.symbol)) {
    state.bars.set(b.symbol, []);
    const opt = document.createElement("option");
    opt.value = opt.textContent = b.symbol;
    $("symbol").appendChild(opt);
    if (state.symbol === null) { state.symbol = b.symbol; $("symbol").value = b.symbol; }
  }
  const series = state.bars.get(b.symbol);
  if (b.close != null) {
    // kept in time order (history asked for on connect may arrive after newer bars)
    const point = {t: b.startMs, close: b.close,
                   pv: b.vwap != null && b.volume > 0 ? b.vwap * b.volume : 0,
                   v: b.vwap != null && b.volume > 0 ? b.volume : 0};
    let i = series.length;
    while (i > 0 && series[i - 1].t > point.t) i--;
    series.splice(i, 0, point);
    if (series.length > MAX_BARS) series.splice(0, series.length - MAX_BARS);
  }
  prependRow($("bars").tBodies[0], [
    fmtTime(b.startMs), b.symbol, num(b.close), num(b.volume, 0), signed(b.deltaVolume, 0),
    signed(b.bidAskImbalance, 3), num(b.askBidSizeRatio, 2), num(b.avgSpreadBps, 2),
    num(b.quoteCoveragePct, 1)]);
  if (b.startMs >= state.newestMs) {
    state.newestMs = b.startMs;
    $("clock").textContent = `session ${fmtTime(b.startMs)} NY`;
  }
  state.dirty = true;
}

function onSetup(s) {
  state.setups.set(s.id, s);
  upsertRow($("setups").tBodies[0], s.id, [
    fmtTime(s.detectedMs), s.detector, s.direction, s.status, num(s.entry), num(s.stop),
    num(s.t1), num(s.t2), signed(s.realizedR, 2)]);
  state.dirty = true;
}

function onGate(d) {
  const li = document.createElement("li");
  li.className = d.passed ? "passed" : "blocked";
  li.textContent = `${fmtTime(d.barStartMs)} ${d.detector} ${d.direction} ${d.symbol}: ` +
    (d.passed ? "passed" : "BLOCKED");
  if (!d.passed) {
    for (const c of d.checks.filter((c) => !c.passed)) {
      const why = document.createElement("span");
      why.className = "why";
      const seen = c.observed == null ? "unavailable" : num(c.observed, 3);
      why.textContent = `${c.gate}: ${c.input} ${seen} ` +
        `${c.comparison} ${num(c.threshold, 3)} fails`;
      li.appendChild(why);
    }
  }
  const list = $("gates");
  list.insertBefore(li, list.firstChild);
  while (list.children.length > TABLE_ROWS) list.lastChild.remove();
}

function onFeed(f) {
  const li = document.createElement("li");
  li.textContent = `${fmtTime(f.atMs)} ${f.event} ${f.url}` + (f.reason ? ` (${f.reason})` : "");
  const list = $("feed");
  list.querySelector("li.muted")?.remove();
  list.insertBefore(li, list.firstChild);
  while (list.children.length > TABLE_ROWS) list.lastChild.remove();
  if (f.gap && f.event === "gap") {
    state.gaps.push(f.gap);
    const gaps = $("gaps");
    if (state.gaps.length === 1) gaps.textContent = "";
    const g = document.createElement("li");
    g.className = "neg";
    g.textContent = `${f.gap.url}: no events ${fmtTime(f.gap.fromMs)} → ${fmtTime(f.gap.toMs)}` +
      ` (${f.gap.reason})`;
    gaps.appendChild(g);
    state.dirty = true;
  }
}

function onFill(f) {
  prependRow($("fills").tBodies[0], [fmtTime(f.atMs), f.symbol, f.side, num(f.quantity, 0),
                                      num(f.price)]);
}

function onOrder(o) {
  const limit = o.limitPrice == null ? (o.orderType || "") : num(o.limitPrice);
  upsertRow($("orders").tBodies[0], o.id, [o.id, o.symbol || "", o.side || "",
    num(o.quantity, 0), limit, o.status, num(o.filledQuantity, 0), num(o.avgFillPrice)]);
}

function onPosition(p) {
  state.positions.set(p.symbol, p);
  upsertRow($("positions").tBodies[0], p.symbol, [p.symbol, num(p.quantity, 0),
                                                  num(p.costBasis)]);
}

function onReconcile(r) {
  const badge = $("recon");
  badge.textContent = `reconciliation ${r.accountId}: ${r.status} — ${r.message}`;
  badge.className = "badge " + (r.status === "clean" ? "on" : r.status === "differences" ? "off"
                                                                                         : "bad");
}

const HANDLERS = {microbar: onBar, setup: onSetup, gate_decision: onGate, feed_status: onFeed,
                  fill: onFill, position: onPosition, reconcile_status: onReconcile,
                  broker_order: onOrder};

// ---------------------------------------------------------------- chart (hand-written SVG)

const SVG = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

function drawChart() {
  const box = $("chart");
  const W = Math.max(box.clientWidth, 400), H = 320, L = 10, R = 70, T = 10, B = 22;
  const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, role: "img",
                         "aria-label": "price chart"});
  const series = state.bars.get(state.symbol) || [];
  if (series.length) {
    const t0 = series[0].t, t1 = Math.max(series[series.length - 1].t, t0 + 1000);
    const levels = [...state.setups.values()].filter((s) => s.symbol === state.symbol &&
      (s.closedMs == null || s.closedMs >= t0));
    let lo = Infinity, hi = -Infinity;
    for (const p of series) { lo = Math.min(lo, p.close); hi = Math.max(hi, p.close); }
    for (const s of levels) for (const v of [s.stop, s.t2]) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const pad = Math.max((hi - lo) * 0.05, 0.01);
    lo -= pad; hi += pad;
    const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
    const y = (v) => T + (H - T - B) * (hi - v) / (hi - lo);
    for (let i = 0; i <= 4; i++) {
      const v = lo + (hi - lo) * i / 4;
      svg.appendChild(el("line", {class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v)}));
      svg.appendChild(el("text", {class: "axis", x: W - R + 4, y: y(v) + 4}, v.toFixed(2)));
    }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + (t1 - t0) * i / 4;
      svg.appendChild(el("text", {class: "axis", x: x(t), y: H - 6,
                                  "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle"},
                         fmtTime(t)));
    }
    for (const g of state.gaps) {
      if (g.fromMs == null || g.toMs == null || g.toMs < t0) continue;
      svg.appendChild(el("rect", {class: "gap", x: x(Math.max(g.fromMs, t0)), y: T,
        width: Math.max(x(g.toMs) - x(Math.max(g.fromMs, t0)), 1), height: H - T - B}));
    }
    let pv = 0, v = 0;
    for (const p of series) { pv += p.pv; v += p.v; p.vwap = v > 0 ? pv / v : null; }
    const path = (key) => series.filter((p) => p[key] != null)
      .map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join("");
    svg.appendChild(el("path", {class: "close", d: path("close")}));
    svg.appendChild(el("path", {class: "vwap", d: path("vwap")}));
    const labels = [];
    for (const s of levels) {
      const xa = x(Math.max(s.detectedMs, t0));
      const xb = Math.max(x(Math.min(s.closedMs ?? t1, t1)), xa + 60);  // visible however short
      for (const [name, v] of [["entry", s.entry], ["stop", s.stop], ["t1", s.t1], ["t2", s.t2]]) {
        const line = el("line", {class: `level level-${name}`, x1: xa, x2: xb, y1: y(v), y2: y(v),
                                 "data-setup": s.id});
        line.appendChild(el("title", {}, `${s.detector} ${name} ${v.toFixed(2)}`));
        svg.appendChild(line);
        labels.push({name, v, x: xb + 4, y: y(v) + 4});
      }
    }
    // labels of close levels are pushed apart (12 px) so each stays readable
    labels.sort((a, b) => a.y - b.y);
    for (let i = 1; i < labels.length; i++) {
      if (Math.abs(labels[i].x - labels[i - 1].x) < 90 && labels[i].y - labels[i - 1].y < 12) {
        labels[i].y = labels[i - 1].y + 12;
      }
    }
    for (const l of labels) {
      svg.appendChild(el("text", {class: `level-label level-${l.name}`, x: l.x, y: l.y},
                         `${l.name.toUpperCase()} ${l.v.toFixed(2)}`));
    }
    const last = series[series.length - 1];
    $("last").textContent = `${state.symbol} ${last.close.toFixed(2)}` +
      (last.vwap != null ? ` · VWAP ${last.vwap.toFixed(2)}` : "");
  } else {
    svg.appendChild(el("text", {class: "axis", x: W / 2, y: H / 2, "text-anchor": "middle"},
                       "waiting for microbars…"));
  }
  box.replaceChildren(svg);
}

function frame() {
  if (state.dirty) { state.dirty = false; drawChart(); }
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- connection

let ws = null;
let token = null;

function send(obj) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); }

// Subscribing, then asking the hub for what it retained of each channel (the session so far):
// a page opened late, or reopened, shows the whole session, not only what comes next.
function subscribe(channels) {
  send({action: "subscribe", channels});
  for (const channel of channels) send({action: "replay", channel, fromSeq: 1});
}

function onReply(r) {
  if (r.request === "auth") {
    $("auth-state").textContent = r.ok ? "account channels unlocked" : r.message;
    if (r.ok) subscribe(ACCOUNT);
  } else if (r.request === "replay" && r.channel) {
    if (r.ok && r.toSeq != null) {          // more may follow: ask from the next one
      send({action: "replay", channel: r.channel, fromSeq: r.toSeq + 1});
    } else if (!r.ok && r.oldestSeq != null && r.fromSeq < r.oldestSeq) {
      send({action: "replay", channel: r.channel, fromSeq: r.oldestSeq});
    }
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/`);
  const badge = $("conn");
  ws.onopen = () => {
    badge.textContent = "connected"; badge.className = "badge on";
    subscribe(PUBLIC);
    if (token) send({action: "auth", token});
  };
  ws.onmessage = (ev) => {
    const env = JSON.parse(ev.data);
    if (env.type === "hub_status") {
      if (env.data.status === "end" || env.data.status === "disconnected") {
        badge.textContent = env.data.message; badge.className = "badge off";
      }
      return;
    }
    if (env.type === "hub_reply") { onReply(env.data); return; }
    const key = `${env.type}@${env.version}`;
    if (!state.seen.has(key)) state.seen.set(key, new Set());
    const seen = state.seen.get(key);
    if (seen.has(env.seq)) return;  // already shown (history and live overlap)
    seen.add(env.seq);
    const handle = HANDLERS[env.type];
    if (handle) handle(env.data);
  };
  ws.onclose = () => {
    if (badge.className !== "badge off") { badge.textContent = "disconnected"; }
    badge.className = "badge off";
    setTimeout(connect, 2000);
  };
}

$("auth").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token").value || null;
  $("token").value = "";
  if (token) send({action: "auth", token});
});
$("symbol").addEventListener("change", (ev) => { state.symbol = ev.target.value; state.dirty = true; });
window.addEventListener("resize", () => { state.dirty = true; });

const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { token = fromHash; history.replaceState(null, "", location.pathname); }
connect();
requestAnimationFrame(frame);
