// stormlight's web UI: a live view of the run the binary serves. Everything it shows comes
// from the Server-Sent Events at /events (the whole history on connect, then one "point"
// and one "table" event a second); commands go to Locust's routes (/swarm, /stop,
// /stats/reset). Plain JavaScript, no framework: the server renders, the page draws.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { table: null, sortKey: "name", sortDir: 1, series: [[], [], [], [], [], [], []] };
// series: t, rps, fps, p50, p95, p99, users

function fmt(v, digits) {
  if (v === null || v === undefined) return "-";
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// ---- charts (uPlot) ----
const charts = {};
function makeCharts() {
  const width = Math.max(400, document.body.clientWidth - 60);
  const opts = (title, series) => ({
    title, width, height: 220,
    scales: { x: { time: false } },
    axes: [{ label: "seconds" }, { size: 70 }],
    series: [{ label: "t (s)" }].concat(series),
  });
  charts.rps = new uPlot(opts("Requests per second",
    [{ label: "RPS", stroke: "#2a7a2a" }, { label: "Failures/s", stroke: "#b00020" }]),
    [[], [], []], $("chart-rps"));
  charts.lat = new uPlot(opts("Response times (ms, from the intended start)",
    [{ label: "p50", stroke: "#1d3557" }, { label: "p95", stroke: "#e76f51" }, { label: "p99", stroke: "#9b2226" }]),
    [[], [], [], []], $("chart-lat"));
  charts.users = new uPlot(opts("Users", [{ label: "Users", stroke: "#457b9d" }]), [[], []], $("chart-users"));
}
function redrawCharts() {
  const s = state.series;
  charts.rps.setData([s[0], s[1], s[2]]);
  charts.lat.setData([s[0], s[3], s[4], s[5]]);
  charts.users.setData([s[0], s[6]]);
}
let redrawPending = false;
function scheduleRedraw() {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => { redrawPending = false; redrawCharts(); });
}

// ---- statistics table ----
const COLS = [["method", 0], ["name", 0], ["num_requests", 0], ["num_failures", 0],
  ["median_response_time", 2], ["p95", 2], ["ninety_ninth_response_time", 2],
  ["avg_response_time", 2], ["min_response_time", 2], ["max_response_time", 2],
  ["avg_content_length", 0], ["current_rps", 1], ["current_fail_per_sec", 1]];

function rowCells(tr, r) {
  // Reuses the row's cells: with 2,000 rows a second, only text changes.
  while (tr.cells.length < COLS.length) tr.insertCell();
  COLS.forEach(([key, digits], i) => {
    const v = r[key];
    const text = typeof v === "number" ? fmt(v, digits) : (v || "");
    if (tr.cells[i].textContent !== text) tr.cells[i].textContent = text;
    if (key === "name") { tr.cells[i].className = "name"; tr.cells[i].title = v; }
  });
}

function drawTable() {
  const t = state.table;
  if (!t) return;
  const rows = t.stats.slice(0, -1);
  const total = t.stats[t.stats.length - 1];
  const k = state.sortKey, d = state.sortDir;
  rows.sort((a, b) => {
    const x = a[k], y = b[k];
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return c ? c * d : a.name.localeCompare(b.name) || a.method.localeCompare(b.method);
  });
  const body = $("stats-table").tBodies[0];
  while (body.rows.length > rows.length) body.deleteRow(-1);
  rows.forEach((r, i) => rowCells(body.rows[i] || body.insertRow(), r));
  const foot = $("stats-table").tFoot;
  if (total) rowCells(foot.rows[0] || foot.insertRow(), total);
  document.querySelectorAll("#stats-table th").forEach((th) => {
    th.classList.toggle("sorted-asc", th.dataset.key === k && d > 0);
    th.classList.toggle("sorted-desc", th.dataset.key === k && d < 0);
  });
}

function fillSimpleTable(id, items, cells) {
  const body = $(id).tBodies[0];
  body.textContent = "";
  items.forEach((it) => {
    const tr = body.insertRow();
    cells(it).forEach((c) => { tr.insertCell().textContent = c; });
  });
}

function onTable(t) {
  state.table = t;
  $("state").textContent = t.state;
  $("users").textContent = fmt(t.users || 0, 0);
  const total = t.stats[t.stats.length - 1];
  $("rps").textContent = total ? fmt(total.current_rps, 1) : "0";
  $("failpct").textContent = total && total.num_requests
    ? fmt(100 * total.num_failures / total.num_requests, 1) + "%" : "0%";
  drawTable();
  fillSimpleTable("failures-table", t.errors, (e) => [e.occurrences, e.method, e.name, e.error]);
  fillSimpleTable("exceptions-table", t.exceptions, (e) => [e.count, e.msg, e.traceback]);
  $("open-model").hidden = !t.open_model;
  if (t.open_model) {
    $("lag50").textContent = fmt(t.send_lag_p50, 2);
    $("lag99").textContent = fmt(t.send_lag_p99, 2);
    $("dropped").textContent = fmt(t.dropped_iterations, 0);
  }
  const th = $("thresholds");
  th.textContent = "";
  (t.thresholds || []).forEach((v) => {
    const p = document.createElement("p");
    p.className = v.ok ? "pass" : "fail";
    p.textContent = (v.ok ? "\u2713 " : "\u2717 ") + v.expr + " (observed " + v.observed + " " + v.unit + ")";
    th.appendChild(p);
  });
  showControls(t);
}

// ---- controls ----
let showNew = false;
function showControls(t) {
  const running = t.state === "spawning" || t.state === "running";
  $("stop-btn").hidden = !running;
  $("reset-btn").hidden = !running;
  $("edit-btn").hidden = !running;
  $("new-btn").hidden = t.state !== "stopped";
  $("start-form").hidden = !(t.state === "ready") && !showNew;
  if (running) { showNew = false; $("start-form").hidden = true; }
  else $("edit-form").hidden = true;
  const f = $("start-form");
  const form = t.form;
  if (!f.dataset.filled && form) {
    f.user_count.value = form.user_count;
    f.spawn_rate.value = form.spawn_rate;
    f.host.value = form.host;
    if (form.run_time_s) f.run_time.value = form.run_time_s + "s";
    if (form.open_model) f.rate.value = form.rate;
    f.dataset.filled = "1";
  }
  $("host").textContent = form ? form.host : "-";
  $("rate-label").hidden = !form.open_model;
  $("edit-users-label").hidden = !!form.open_model;
  $("edit-rate-label").hidden = !form.open_model;
}

async function post(url, form) {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(new FormData(form)) });
  return res.json();
}

$("start-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  f.rate.disabled = $("rate-label").hidden;
  const r = await post("/swarm", f);
  f.rate.disabled = false;
  $("start-error").textContent = r.success ? "" : r.message;
  if (r.success) { showNew = false; f.hidden = true; }
});
$("edit-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  f.user_count.disabled = $("edit-users-label").hidden;
  f.rate.disabled = $("edit-rate-label").hidden;
  const r = await post("/swarm", f);
  f.user_count.disabled = f.rate.disabled = false;
  $("edit-error").textContent = r.success ? "" : r.message;
  if (r.success) f.hidden = true;
});
$("edit-btn").addEventListener("click", () => {
  const f = $("edit-form");
  f.hidden = !f.hidden;
  if (state.table) { f.user_count.value = state.table.users_target; f.rate.value = state.table.rate; }
});
$("stop-btn").addEventListener("click", () => fetch("/stop"));
$("reset-btn").addEventListener("click", () => fetch("/stats/reset"));
$("new-btn").addEventListener("click", () => { showNew = true; $("start-form").hidden = false; });

document.querySelectorAll("#stats-table th[data-key]").forEach((th) => {
  th.addEventListener("click", () => {
    const k = th.dataset.key;
    state.sortDir = state.sortKey === k ? -state.sortDir : (k === "name" || k === "method" ? 1 : -1);
    state.sortKey = k;
    drawTable();
  });
});
document.querySelectorAll("nav a").forEach((a) => {
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    document.querySelectorAll("nav a").forEach((b) => b.classList.toggle("active", b === a));
    document.querySelectorAll("section").forEach((s) => { s.hidden = s.id !== "tab-" + a.dataset.tab; });
    if (a.dataset.tab === "charts") { Object.values(charts).forEach((c) => c.setSize({ width: Math.max(400, document.body.clientWidth - 60), height: 220 })); redrawCharts(); }
  });
});

// ---- live events ----
makeCharts();
const es = new EventSource("/events");
es.addEventListener("run", () => {
  state.series = [[], [], [], [], [], [], []];
  scheduleRedraw();
});
es.addEventListener("point", (ev) => {
  const p = JSON.parse(ev.data);
  const s = state.series;
  [p.t, p.rps, p.fps, p.p50, p.p95, p.p99, p.users].forEach((v, i) => s[i].push(v));
  scheduleRedraw();
});
es.addEventListener("table", (ev) => onTable(JSON.parse(ev.data)));
