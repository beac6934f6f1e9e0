// The dashboard: polls the server's API with the key kept in localStorage (sent as X-API-Key,
// like every client) and shows runs, their metric curves, the queue, the engine, sessions and
// checkpoints.
import { formatNumber, lineChart } from './charts.js';

const KEY_STORAGE = 'tinker-ts.apiKey';
const GAP_METRIC = /kl_sample_train|logprob_gap|sample_train_gap|logprob_diff/;
const LOSS_NAMES = ['loss:sum', 'loss:mean', 'loss'];

const state = {
  key: localStorage.getItem(KEY_STORAGE) ?? '',
  runId: new URLSearchParams(location.search).get('run'),
  /** Metric records of the selected run, by id. */
  records: [],
  lastId: 0,
};

const $ = (sel) => document.querySelector(sel);

async function api(path) {
  const res = await fetch(`/api/v1/${path}`, { headers: state.key ? { 'X-API-Key': state.key } : {} });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error ?? `${res.status} ${res.statusText}`);
  return body;
}

function setStatus(text, isError = false) {
  const s = $('#status');
  s.textContent = text;
  s.className = isError ? 'error' : 'muted';
}

function cell(row, content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.appendChild(content);
  else td.textContent = content ?? '';
  row.appendChild(td);
  return td;
}

function code(text) {
  const c = document.createElement('code');
  c.textContent = text;
  return c;
}

function fillTable(sel, rows, render, empty) {
  const body = $(`${sel} tbody`);
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(tr, empty);
    td.className = 'muted';
    td.colSpan = $(`${sel} thead tr`).children.length;
    body.appendChild(tr);
    return;
  }
  for (const r of rows) {
    const tr = document.createElement('tr');
    render(tr, r);
    body.appendChild(tr);
  }
}

const ago = (iso) => {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

const bytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

async function refreshEngine() {
  const [health, queue] = await Promise.all([
    fetch('/api/v1/healthz').then((r) => r.json()).catch(() => ({ status: 'unreachable' })),
    api('queue_state'),
  ]);
  const e = queue.engine;
  const dl = $('#engine');
  dl.replaceChildren();
  const add = (k, v) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    if (v instanceof Node) dd.appendChild(v);
    else dd.textContent = v;
    dl.append(dt, dd);
  };
  add('health', health.status);
  const bar = document.createElement('span');
  bar.innerHTML = '<span class="bar"><span></span></span> ';
  bar.querySelector('.bar > span').style.width = `${Math.round(e.busy_fraction * 100)}%`;
  bar.append(`${Math.round(e.busy_fraction * 100)}% busy over ${Math.round(e.window_ms / 1000)}s`);
  bar.id = 'utilisation';
  add('utilisation', bar);
  add('finished', `${e.finished} request(s) in the last ${Math.round(e.window_ms / 1000)}s`);
  add('running', String(e.running));
  add('engine calls queued', String(e.calls_queued));
  if (e.restarts) add('restarts', String(e.restarts));
  $('#queue-count').textContent = `(${queue.requests.length})`;
  fillTable('#queue', queue.requests, (tr, q) => {
    cell(tr, code(q.request_id));
    cell(tr, q.kind);
    cell(tr, q.state);
    cell(tr, `${(q.age_ms / 1000).toFixed(1)}s`);
    cell(tr, q.reason ?? '');
  }, 'nothing waiting');
}

async function refreshRuns() {
  const { training_runs: runs } = await api('training_runs?limit=100');
  runs.sort((a, b) => Date.parse(b.last_request_time) - Date.parse(a.last_request_time));
  if (!state.runId && runs.length > 0) selectRun(runs[0].training_run_id);
  fillTable('#runs', runs, (tr, r) => {
    tr.className = `selectable${r.training_run_id === state.runId ? ' selected' : ''}`;
    tr.dataset.run = r.training_run_id;
    tr.onclick = () => selectRun(r.training_run_id);
    cell(tr, code(r.training_run_id));
    cell(tr, r.base_model);
    cell(tr, String(r.lora_rank ?? ''));
    cell(tr, ago(r.last_request_time));
    cell(tr, r.last_checkpoint ? code(r.last_checkpoint.tinker_path) : '');
  }, 'no training runs for this key yet');
}

function selectRun(runId) {
  if (runId === state.runId && state.records.length > 0) return;
  state.runId = runId;
  state.records = [];
  state.lastId = 0;
  metricsInFlight = null;
  history.replaceState(null, '', `?run=${encodeURIComponent(runId)}`);
  for (const tr of document.querySelectorAll('#runs tr.selectable')) tr.classList.toggle('selected', tr.dataset.run === runId);
  void refreshMetrics();
}

const optimSteps = () => state.records.filter((r) => r.kind === 'optim_step').length;

/** One value per step: `:sum` metrics add up over a step's records (chunks), others average. */
function perStep(records, name) {
  const byStep = new Map();
  for (const r of records) {
    const v = r.metrics[name];
    if (typeof v !== 'number') continue;
    const acc = byStep.get(r.step) ?? { sum: 0, n: 0 };
    acc.sum += v;
    acc.n += 1;
    byStep.set(r.step, acc);
  }
  return [...byStep.entries()]
    .sort(([a], [b]) => a - b)
    .map(([step, { sum, n }]) => [step, name.endsWith(':sum') ? sum : sum / n]);
}

let metricsInFlight = null;

/** Fetches the selected run's new records; one fetch at a time, so none is appended twice. */
function refreshMetrics() {
  metricsInFlight ??= fetchNewRecords().finally(() => (metricsInFlight = null));
  return metricsInFlight;
}

async function fetchNewRecords() {
  const runId = state.runId;
  if (!runId) return;
  const page = await api(`training_runs/${encodeURIComponent(runId)}/metrics?after=${state.lastId}`);
  if (runId !== state.runId) return;
  state.records.push(...page.metrics);
  if (page.metrics.length > 0) state.lastId = page.metrics[page.metrics.length - 1].id;
  drawRun();
}

function drawRun() {
  $('#run-panel').hidden = false;
  $('#run-id').textContent = state.runId;
  $('#run-steps').textContent = `${optimSteps()} optimizer step(s)`;
  const fb = state.records.filter((r) => r.kind === 'forward_backward');
  const lossName = LOSS_NAMES.find((n) => fb.some((r) => n in r.metrics)) ?? 'loss:sum';
  lineChart($('#loss-chart'), [{ name: lossName, points: perStep(fb, lossName) }], { xLabel: 'step' });

  const names = new Map();
  for (const r of state.records) for (const n of Object.keys(r.metrics)) names.set(`${r.kind}\u0000${n}`, { kind: r.kind, name: n });
  const gap = [...names.values()].filter(({ name }) => GAP_METRIC.test(name));
  $('#gap-figure').hidden = gap.length === 0;
  if (gap.length > 0) {
    lineChart(
      $('#gap-chart'),
      gap.map(({ kind, name }) => ({ name, points: perStep(state.records.filter((r) => r.kind === kind), name) })),
      { xLabel: 'step', className: 'gap' },
    );
  }
  const others = [...names.values()].filter(({ kind, name }) => !GAP_METRIC.test(name) && !(kind === 'forward_backward' && name === lossName));
  const box = $('#metric-charts');
  box.replaceChildren();
  if (others.length === 0) box.textContent = 'none recorded';
  for (const { kind, name } of others) {
    const fig = document.createElement('figure');
    const cap = document.createElement('figcaption');
    cap.textContent = `${kind} ${name}`;
    const div = document.createElement('div');
    div.className = 'chart';
    fig.append(cap, div);
    box.appendChild(fig);
    lineChart(div, [{ name, points: perStep(state.records.filter((r) => r.kind === kind), name) }], { width: 300, height: 140 });
  }
}

async function refreshSessions() {
  const { sessions } = await api('sessions?limit=20');
  const details = await Promise.all(sessions.map((id) => api(`sessions/${encodeURIComponent(id)}`).then((d) => ({ id, ...d }))));
  fillTable('#sessions', details, (tr, s) => {
    cell(tr, code(s.id));
    cell(tr, String(s.training_run_ids.length));
    cell(tr, String(s.sampler_ids.length));
  }, 'no sessions');
}

async function refreshCheckpoints() {
  const { checkpoints } = await api('checkpoints?limit=50');
  fillTable('#checkpoints', checkpoints, (tr, c) => {
    cell(tr, code(c.tinker_path));
    cell(tr, c.checkpoint_type);
    cell(tr, bytes(c.size_bytes ?? 0));
    cell(tr, ago(c.time));
  }, 'no checkpoints');
}

function every(ms, fn) {
  let timer = null;
  const tick = async () => {
    try {
      if (state.key) await fn();
      setStatus(state.key ? `updated ${new Date().toLocaleTimeString()}` : 'enter an API key to see your runs');
    } catch (err) {
      setStatus(String(err.message ?? err), true);
    }
    timer = setTimeout(tick, ms);
  };
  void tick();
  return () => clearTimeout(timer);
}

$('#api-key').value = state.key;
$('#key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.key = $('#api-key').value.trim();
  localStorage.setItem(KEY_STORAGE, state.key);
  setStatus('loading…');
  state.runId = null;
  $('#run-panel').hidden = true;
  state.records = [];
  state.lastId = 0;
  void Promise.all([refreshRuns(), refreshEngine(), refreshSessions(), refreshCheckpoints()])
    .then(() => refreshMetrics())
    .then(
      () => setStatus(`updated ${new Date().toLocaleTimeString()}`),
      (err) => setStatus(String(err.message ?? err), true),
    );
});

every(2000, refreshEngine);
every(3000, async () => {
  await refreshRuns();
  await refreshMetrics();
});
every(10000, async () => {
  await Promise.all([refreshSessions(), refreshCheckpoints()]);
});
window.tinkerDashboard = { state, formatNumber };
