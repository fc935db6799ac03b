// fedstake dashboard: reads the REST API, follows /ws/feed, redraws what changed.
// Plain browser JavaScript and the vendored uPlot: no build step at run time.
"use strict";

const LAMPORTS_PER_SOL = 1e9;
const state = {
  pool: null,          // selected pool address (from the URL hash)
  cursor: null,        // last feed cursor received: resume token
  live: [],            // last feed frames of the selected pool, newest first
  chart: null,
  refreshTimer: null,
};

// --- small helpers ---------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const sol = (lamports) => (lamports / LAMPORTS_PER_SOL).toFixed(4);
const short = (text, n = 6) => (text && text.length > 2 * n + 1 ? `${text.slice(0, n)}…${text.slice(-n)}` : text || "");
const num = (value, title) => el("td", { class: "num", title }, value);
const solCell = (lamports) => num(sol(lamports), `${lamports} lamports`);
const badge = (text) => el("span", { class: `badge ${text}` }, text);
const ZERO_HASH = "0".repeat(64);

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function getAll(path) {
  // every page of a paginated list
  const items = [];
  for (let offset = 0; ; ) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await getJSON(`${path}${sep}offset=${offset}&limit=500`);
    items.push(...page.items);
    offset += page.items.length;
    if (page.items.length === 0 || offset >= page.total) return items;
  }
}

// --- views -----------------------------------------------------------------
async function renderPools() {
  const pools = await getAll("/api/pools");
  const body = document.querySelector("#pools tbody");
  body.replaceChildren(
    ...pools.map((p) =>
      el("tr", { dataset: { pool: p.address } },
        el("td", {}, el("a", { class: "pool-link mono", href: `#/pool/${p.address}` }, short(p.address, 8))),
        el("td", {}, badge(p.status)),
        num(`${p.round} / ${p.max_rounds}`),
        num(p.participant_count),
        solCell(p.reward_per_round),
        solCell(p.total_funded),
        solCell(p.total_staked),
      ),
    ),
  );
  document.getElementById("pools-empty").hidden = pools.length > 0;
}

function summaryItem(label, value, title) {
  return el("div", {}, el("dt", {}, label), el("dd", { title }, value));
}

async function renderPool(address) {
  const [pool, rounds, participants, submissions] = await Promise.all([
    getJSON(`/api/pools/${address}`),
    getAll(`/api/pools/${address}/rounds`),
    getAll(`/api/pools/${address}/participants`),
    getAll(`/api/pools/${address}/submissions`),
  ]);
  if (state.pool !== address) return; // navigated away meanwhile
  document.getElementById("pool-address").textContent = address;
  document.getElementById("pool-summary").replaceChildren(
    summaryItem("Status", badge(pool.status)),
    summaryItem("Round", `${pool.round} / ${pool.max_rounds}`),
    summaryItem("Participants", `${pool.active_participants} active / ${pool.participant_count}`),
    summaryItem("Reward per round", `${sol(pool.reward_per_round)} SOL`, `${pool.reward_per_round} lamports`),
    summaryItem("Funded", `${sol(pool.total_funded)} SOL`, `${pool.total_funded} lamports`),
    summaryItem("Staked", `${sol(pool.total_staked)} SOL`, `${pool.total_staked} lamports`),
    summaryItem("Slashed", `${sol(pool.total_slashed)} SOL`, `${pool.total_slashed} lamports`),
    summaryItem("Rewards paid", `${sol(pool.total_paid)} SOL`, `${pool.total_paid} lamports`),
    summaryItem("Slash rate", `${(pool.slash_bps / 100).toFixed(2)} %`, `${pool.slash_bps} bps`),
    summaryItem("Reward policy", pool.reward_policy),
    summaryItem("Global model", short(pool.global_model_hash, 8), pool.global_model_hash),
  );

  document.querySelector("#rounds tbody").replaceChildren(
    ...rounds.map((r) =>
      el("tr", { dataset: { round: r.round } },
        num(r.round),
        el("td", { class: "mono", title: r.global_model_hash },
          r.global_model_hash === ZERO_HASH ? "—" : short(r.global_model_hash, 10)),
        num(r.submission_count),
        num(r.revealed_count),
        num(r.accepted_count),
        num(r.excluded_count),
        num(r.slashed_count),
        solCell(r.reward_accrued),
        num(r.evaluation ? `${(100 * r.evaluation.accuracy).toFixed(1)} %` : "—",
          r.evaluation ? `loss ${r.evaluation.loss.toFixed(4)} on ${r.evaluation.samples} examples` : null),
        el("td", {}, r.finalized ? badge("Finished") : badge(phase(r))),
      ),
    ),
  );

  const slashedBy = {};
  for (const s of submissions) slashedBy[s.wallet] = (slashedBy[s.wallet] || 0) + s.slashed;
  document.querySelector("#participants tbody").replaceChildren(
    ...participants.map((p) =>
      el("tr", { dataset: { wallet: p.wallet } },
        el("td", { class: "mono", title: p.wallet }, short(p.wallet, 8)),
        el("td", {}, badge(p.status)),
        solCell(p.stake),
        num(p.accepted_count),
        num(p.excluded_count),
        num(p.slashed_count),
        solCell(p.reward_accrued),
        solCell(p.reward_paid),
        solCell(slashedBy[p.wallet] || 0),
      ),
    ),
  );

  document.querySelector("#verdicts tbody").replaceChildren(
    ...submissions
      .slice()
      .sort((a, b) => b.round - a.round || a.wallet.localeCompare(b.wallet))
      .map((s) =>
        el("tr", { dataset: { round: s.round, wallet: s.wallet } },
          num(s.round),
          el("td", { class: "mono", title: s.wallet }, short(s.wallet, 8)),
          el("td", {}, badge(s.verdict)),
          el("td", { title: `code ${s.reason_code} (${s.reason_class})` }, s.verdict === "Pending" ? "—" : s.reason),
          num(s.score),
          solCell(s.reward),
          solCell(s.slashed),
          el("td", { class: "mono", title: s.update_hash || "not revealed" }, s.update_hash ? short(s.update_hash, 8) : "—"),
        ),
      ),
  );
  drawAccuracy(rounds);
}

function phase(round) {
  // where an open round is: commitments, reveals, judging (clock: the chain's, shown by the deadlines)
  if (round.revealed_count < round.submission_count || round.submission_count < round.eligible_count) {
    return round.submission_count < round.eligible_count ? "Committing" : "Revealing";
  }
  return round.judged_count < round.submission_count ? "Judging" : "Open";
}

function drawAccuracy(rounds) {
  const box = document.getElementById("accuracy-chart");
  const points = rounds.filter((r) => r.evaluation);
  if (points.length === 0) {
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    box.replaceChildren(el("div", { class: "empty" }, "No evaluation published yet."));
    return;
  }
  const data = [points.map((r) => r.round), points.map((r) => 100 * r.evaluation.accuracy)];
  const width = Math.max(240, box.clientWidth - 10);
  if (state.chart) {
    state.chart.setData(data);
    state.chart.setSize({ width, height: 220 });
    return;
  }
  box.replaceChildren();
  state.chart = new uPlot(
    {
      width, height: 220,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      axes: [{ label: "round", incrs: [1, 2, 5, 10, 20, 50, 100] }, { label: "accuracy %" }],
      series: [{ label: "round" }, { label: "test accuracy %", stroke: "#0969da", width: 2, points: { size: 7 } }],
    },
    data,
    box,
  );
}

// --- navigation --------------------------------------------------------------
function route() {
  const match = location.hash.match(/^#\/pool\/([1-9A-HJ-NP-Za-km-z]{32,44})$/);
  state.pool = match ? match[1] : null;
  document.getElementById("pools-view").hidden = Boolean(state.pool);
  document.getElementById("pool-view").hidden = !state.pool;
  if (state.chart) { state.chart.destroy(); state.chart = null; }
  state.live = [];
  document.getElementById("live").replaceChildren();
  refresh();
}

async function refresh() {
  try {
    if (state.pool) await renderPool(state.pool);
    else await renderPools();
  } catch (error) {
    console.error(error);
  }
}

function scheduleRefresh() {
  // frames come in bursts (a transaction's events, then its accounts): redraw once
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 150);
}

// --- live feed ----------------------------------------------------------------
function describe(frame) {
  switch (frame.type) {
    case "event": return `${frame.name} ${JSON.stringify(frame.fields)}`;
    case "receipt": return `receipt round ${frame.round} ${short(frame.wallet)}: ${frame.verdict} (${frame.reason}) reward ${sol(frame.reward)} SOL slashed ${sol(frame.slashed)} SOL · tx ${short(frame.signature)}`;
    case "evaluation": return `round ${frame.round} evaluated: accuracy ${(100 * frame.accuracy).toFixed(1)} %, loss ${frame.loss.toFixed(4)}`;
    case "account": return `${frame.account_type || "account"} ${short(frame.pubkey)} ${frame.closed ? "closed" : "updated"}`;
    case "gap": return `gap after ${frame.after}: state re-read`;
    default: return frame.type;
  }
}

function showLive(frame) {
  if (frame.type === "account") return; // the tables show account changes
  state.live.unshift(`${frame.cursor}  ${describe(frame)}`);
  state.live.length = Math.min(state.live.length, 50);
  document.getElementById("live").replaceChildren(...state.live.map((line) => el("li", {}, line)));
}

function connect(delay = 500) {
  const conn = document.getElementById("conn");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = state.cursor ? `?cursor=${encodeURIComponent(state.cursor)}` : "";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/feed${query}`);
  conn.dataset.state = "connecting";
  conn.textContent = "connecting…";
  socket.onopen = () => { delay = 500; };
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.cursor) {
      state.cursor = frame.cursor;
      document.getElementById("cursor").textContent = frame.cursor;
    }
    if (frame.type === "hello") {
      conn.dataset.state = "live";
      conn.textContent = "live";
      scheduleRefresh(); // whatever happened while we were away
      return;
    }
    if (frame.type === "heartbeat" || frame.type === "pong" || frame.type === "error") return;
    if (frame.type === "gap" || !state.pool || frame.pool === state.pool) {
      if (state.pool && frame.type !== "gap") showLive(frame);
      scheduleRefresh();
    }
  };
  socket.onclose = () => {
    conn.dataset.state = "offline";
    conn.textContent = "reconnecting…";
    setTimeout(() => connect(Math.min(delay * 2, 8000)), delay);
  };
}

window.addEventListener("hashchange", route);
window.addEventListener("resize", () => state.pool && scheduleRefresh());
route();
connect();
