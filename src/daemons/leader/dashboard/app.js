// vmanage dashboard (docs/dashboard.md). Plain browser script, no build step. State comes from
// the leader's /api routes once, then live from /api/events (EventSource); hosts, VMs and status
// are also re-read every REFRESH_MS (VM changes have no event of their own). Every text from the
// network goes through textContent (never innerHTML): host and VM names are untrusted.
'use strict';

const REFRESH_MS = 5000;
/** Chart window, ms. */
const WINDOW_MS = 10 * 60 * 1000;
const MAX_DECISIONS = 200;

const state = { status: null, hosts: new Map(), vms: [], decisions: new Map(), migrations: new Map(), fresh: new Set() };
let chart = null;
let pendingPower = [];
let renderQueued = false;

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') Object.assign(e.style, v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmt = {
  w: (x) => (x === undefined || x === null ? '–' : `${Math.round(x)} W`),
  pct: (x) => (x === undefined || x === null ? '–' : `${Math.round(x * 100)} %`),
  time: (ms) => (ms ? new Date(ms).toLocaleTimeString() : '–'),
  mib: (x) => (x >= 1024 ? `${(x / 1024).toFixed(1)} GiB` : `${x} MiB`),
  short: (s) => (typeof s === 'string' && s.length > 13 && /^[0-9a-f-]{36}$/i.test(s) ? s.slice(0, 8) : s),
  kv: (o) => Object.entries(o || {}).map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 1000) / 1000 : JSON.stringify(v)}`).join(' '),
};

function badge(text) {
  return el('span', { class: `badge ${String(text).replace(/[^a-z-]/gi, '')}` }, text);
}

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function fill(tbodySel, rows) {
  const tbody = document.querySelector(tbodySel);
  tbody.replaceChildren(...rows);
}

function renderSummary() {
  const s = state.status;
  if (!s) return;
  const item = (k, v, id) => el('div', { 'data-k': id }, el('dt', {}, k), el('dd', {}, v));
  document.getElementById('summary').replaceChildren(
    item('leader', `${s.id} (${s.role}${s.role !== 'leader' && s.leaderId ? `, leader ${s.leaderId}` : ''})`, 'leader'),
    item('term', s.token, 'token'),
    item('power', `${fmt.w(s.clusterWatts)} / ${fmt.w(s.clusterBudgetWatts)}`, 'power'),
    item('hosts', `${s.hosts.up} up, ${s.hosts.lost} lost, ${s.hosts.draining} draining, ${s.hosts.off} off`, 'hosts'),
    item('VMs', s.vms, 'vms'),
    item('migrating', s.migrationsInFlight, 'migrating'),
    item('over budget', `${s.budgetViolationPct.toFixed(2)} %`, 'violation'),
  );
}

function powerBar(measured, budget) {
  const scale = Math.max(budget || 0, measured || 0, 1) * 1.15;
  const over = measured !== undefined && measured > budget;
  return el('span', {},
    el('span', { class: 'bar', title: `measured ${fmt.w(measured)}, budget ${fmt.w(budget)}` },
      el('span', { class: `fill${over ? ' over' : ''}`, style: { width: `${(100 * (measured || 0)) / scale}%` } }),
      el('span', { class: 'mark', style: { left: `${(100 * budget) / scale}%` } })),
    el('span', { class: 'bar-label' }, `${fmt.w(measured)} / ${fmt.w(budget)}`));
}

function renderHosts() {
  const hosts = [...state.hosts.values()].sort((a, b) => a.id.localeCompare(b.id));
  document.getElementById('hosts-count').textContent = `(${hosts.length})`;
  fill('#hosts tbody', hosts.map((h) => el('tr', { 'data-host': h.id },
    el('td', {}, h.id),
    el('td', {}, badge(h.liveness), ' ', badge(h.state)),
    el('td', {}, powerBar(h.measuredWatts, h.budgetWatts)),
    el('td', { class: 'num' }, h.capKHz && h.maxKHz ? `${Math.round((100 * h.capKHz) / h.maxKHz)} %` : '–'),
    el('td', { class: 'num' }, h.reliability.toFixed(3)),
    el('td', {}, h.trust),
    el('td', { class: 'num' }, h.vms),
    el('td', { class: 'num' }, fmt.pct(h.cpuUtil)))));
}

function renderVms() {
  const vms = [...state.vms].sort((a, b) => a.host.localeCompare(b.host) || (a.name || a.uuid).localeCompare(b.name || b.uuid));
  document.getElementById('vms-count').textContent = `(${vms.length})`;
  fill('#vms tbody', vms.map((v) => el('tr', { 'data-vm': v.uuid },
    el('td', { title: v.uuid }, v.name || fmt.short(v.uuid)),
    el('td', {}, v.migratingTo ? `${v.host} → ${v.migratingTo}` : v.host),
    el('td', { class: 'num' }, v.vcpus),
    el('td', { class: 'num' }, fmt.mib(v.memoryMiB)),
    el('td', { class: 'num' }, fmt.pct(v.cpuUtil)),
    el('td', {}, badge(v.sla)),
    el('td', {}, v.slaClass))));
}

function renderMigrations() {
  const all = [...state.migrations.values()].sort((a, b) => b.id - a.id);
  const active = all.filter((m) => m.state === 'planned' || m.state === 'running');
  document.getElementById('migrations-count').textContent = `(${active.length} in flight, ${all.length} recent)`;
  fill('#migrations tbody', all.slice(0, 20).map((m) => el('tr', { 'data-migration': m.id },
    el('td', {}, m.id),
    el('td', { title: m.vm }, fmt.short(m.vm)),
    el('td', {}, `${m.from} → ${m.to}`),
    el('td', { title: m.error || '' }, badge(m.state)),
    el('td', {}, m.state === 'running' || m.state === 'planned' ? el('progress', { max: 1, value: m.progress || 0 }) : (m.error || '')),
    el('td', {}, fmt.time(m.startedAt)))));
}

function renderDecisions() {
  const all = [...state.decisions.values()].sort((a, b) => b.id - a.id).slice(0, MAX_DECISIONS);
  document.getElementById('decisions-count').textContent = `(latest ${all.length})`;
  fill('#decisions tbody', all.map((d) => el('tr', { 'data-decision': d.id, class: state.fresh.has(d.id) ? 'fresh' : undefined },
    el('td', {}, d.id),
    el('td', {}, fmt.time(d.at)),
    el('td', {}, d.kind, d.kind === 'set-host-budget' ? ` ${fmt.w(d.value)}` : ''),
    el('td', { title: d.target }, fmt.short(d.target), d.from || d.to ? el('span', { class: 'muted' }, ` ${d.from || ''} → ${d.to || ''}`) : null),
    el('td', { class: 'reason', title: d.reason.code }, d.reason.text),
    el('td', {}, fmt.kv(d.predicted)),
    el('td', {}, d.outcome || '', d.actual ? el('span', { class: 'muted' }, ` ${fmt.kv(d.actual)}`) : null))));
  state.fresh.clear();
}

function render() {
  renderSummary();
  renderHosts();
  renderVms();
  renderMigrations();
  renderDecisions();
  flushPower();
}

// ---- chart (vega-lite compiled once, data streamed into the vega view) ----

/** Plot width that leaves room for the axis and legend inside the chart's box, px. */
function chartWidth() {
  return Math.max(200, document.getElementById('chart').clientWidth - 80);
}

function makeChart() {
  if (!window.vega || !window.vegaLite) return null;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    // Fixed padding around a plot of computed width: the axes and legend always fit (autosize
    // depends on text measurement, which is not reliable in every browser).
    width: chartWidth(), height: 170, autosize: { type: 'none' }, padding: { left: 56, right: 16, top: 40, bottom: 30 },
    data: { name: 'power' },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 't', type: 'temporal', title: null, axis: { format: '%H:%M:%S' } },
      y: { field: 'watts', type: 'quantitative', title: 'W', scale: { zero: true } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['measured', 'budget'], range: ['#2e5aac', '#c11d1d'] }, legend: { orient: 'top' } },
      strokeDash: { field: 'series', type: 'nominal', legend: null, scale: { domain: ['measured', 'budget'], range: [[1, 0], [6, 3]] } },
    },
  };
  const vg = window.vegaLite.compile(spec).spec;
  const view = new window.vega.View(window.vega.parse(vg), { renderer: 'svg', container: '#chart', hover: false });
  view.runAsync();
  window.addEventListener('resize', () => view.width(chartWidth()).runAsync());
  return view;
}

function flushPower() {
  if (!chart || pendingPower.length === 0) return;
  const rows = pendingPower.flatMap((p) => [
    { t: p.at, series: 'measured', watts: p.clusterWatts },
    { t: p.at, series: 'budget', watts: p.clusterBudgetWatts },
  ]);
  const cutoff = pendingPower[pendingPower.length - 1].at - WINDOW_MS;
  pendingPower = [];
  chart.change('power', window.vega.changeset().insert(rows).remove((d) => d.t < cutoff)).runAsync();
}

// ---- data ----

async function refresh() {
  const [status, hosts, vms] = await Promise.all([getJson('/api/status'), getJson('/api/hosts'), getJson('/api/vms')]);
  state.status = status;
  state.hosts = new Map(hosts.map((h) => [h.id, h]));
  state.vms = vms;
  queueRender();
}

async function loadAll() {
  const [decisions, migrations] = await Promise.all([getJson(`/api/decisions?limit=${MAX_DECISIONS}`), getJson('/api/migrations?limit=50')]);
  for (const d of decisions) state.decisions.set(d.id, d);
  for (const m of migrations) state.migrations.set(m.id, m);
  await refresh();
}

function listen() {
  const live = document.getElementById('live');
  const es = new EventSource('/api/events');
  const on = (name, fn) => es.addEventListener(name, (ev) => {
    try { fn(JSON.parse(ev.data)); queueRender(); } catch (err) { console.warn('bad event', name, err); }
  });
  let wasDown = false;
  es.onopen = () => {
    live.textContent = 'live';
    live.className = 'live on';
    // Events sent while the stream was down are lost: read the state again.
    if (wasDown) loadAll().catch((err) => console.warn(err));
    wasDown = false;
  };
  es.onerror = () => { wasDown = true; live.textContent = 'reconnecting'; live.className = 'live off'; };
  on('decision', (d) => {
    state.decisions.set(d.id, d);
    state.fresh.add(d.id);
    if (state.decisions.size > MAX_DECISIONS * 2) {
      const ids = [...state.decisions.keys()].sort((a, b) => a - b);
      for (const id of ids.slice(0, ids.length - MAX_DECISIONS)) state.decisions.delete(id);
    }
  });
  on('migration', (m) => {
    state.migrations.set(m.id, m);
    if (state.migrations.size > 100) state.migrations.delete(Math.min(...state.migrations.keys()));
  });
  on('host', (h) => state.hosts.set(h.id, h));
  on('power', (p) => {
    pendingPower.push(p);
    if (state.status) state.status = { ...state.status, clusterWatts: p.clusterWatts, clusterBudgetWatts: p.clusterBudgetWatts };
  });
  on('role', (r) => { if (state.status) state.status = { ...state.status, role: r.role, token: r.token }; });
}

function start() {
  try { chart = makeChart(); } catch (err) { console.error('chart', err); }
  listen();
  loadAll().catch((err) => console.error(err));
  setInterval(() => refresh().catch((err) => console.warn(err)), REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', start);
