/**
 * Server overhead under load: 64 concurrent clients (in a child process, so neither their CPU
 * time nor their garbage collection lands in the server's process) drive a mixed workload over
 * loopback HTTP against the smallest stand-in model — forward_backward on tiny batches,
 * optim_step, asample (short), and retrieve_future — each client on its own model, one
 * operation at a time. Each client's first round of operations warms both sides up (JIT, the
 * 64 clients' simultaneous start) and is not measured.
 *
 * The engine is wrapped to time every call, so the latency the server adds beyond engine
 * compute can be separated out:
 * - per HTTP request: submits and retrieves of finished futures never wait for the engine, so
 *   their whole round trip is overhead;
 * - per operation (submit → result in hand): the engine's idle time right before the call
 *   started (from the submit, or from the previous engine call's end: what dispatching this
 *   operation cost), plus everything after the call finished;
 * - the same HTTP requests timed inside the server, which leaves out the loopback network and
 *   the client process (on this machine's cores too).
 * Target: p99 added latency < 5 ms. Bounded: a fixed number of operations and a time limit.
 *
 * Two placements of the engine are measured, each with 64 clients and then one client alone:
 * - one core kept for the request path (`engineCpus`: every CPU but the first, and the server's
 *   other threads moved to the engine's CPUs, as `tinker-ts serve --engine-cpus` does), the
 *   target's configuration on a machine with few cores. The clients' process is left wherever the
 *   scheduler puts it, so on a 2-CPU machine it shares the request core at times;
 * - the engine on every CPU (startServer's default): fastest engine, but when it keeps every
 *   core busy a woken request thread sometimes waits a scheduler tick (4 ms at HZ=250) for one,
 *   even behind threads of lower priority.
 * A last phase saturates the server with requests that never reach the engine, for its
 * throughput.
 *
 * Usage: node dist/bench/server-bench.js [--clients 64] [--ops 6] [--time-limit-s 90]
 * BENCH_SLOWEST=N also lists the N slowest requests (with the request thread's CPU time and
 * run-queue wait, on Linux) and operations of each phase.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { EngineHost } from '@tinker-ts/engine';
import { createApp } from '../app.js';
import type { EnginePort } from '../engine-port.js';
import { isolateRequestThread } from '../request-thread.js';

const MODEL = 'tinker-ts/tiny-qwen3';
const TARGET_P99_MS = 5;
const SOLO_OPS = 300;
const HTTP_ONLY_REQUESTS = 40;
/** Operations per client run before measuring (one of each kind). */
const WARMUP_OPS = 3;
const CLIENTS_FLAG = '--clients-process';

/** Milliseconds on the monotonic clock, which is the same clock in every process of the machine. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

type OpKind = 'forward_backward' | 'optim_step' | 'asample';

interface HttpSample {
  kind: string;
  ms: number;
}

interface OpSample {
  kind: OpKind;
  /** Which engine call this was: `<model id or prompt tag>#<n>`. */
  key: string;
  submitted: number;
  received: number;
}

interface ClientReport {
  /** Every HTTP request made, long polls included. */
  requests: number;
  http: HttpSample[];
  ops: OpSample[];
  /** request_ids of the operations that completed. */
  finished: string[];
  errors: string[];
}

interface ClientsInput {
  url: string;
  models: string[];
  opsPerClient: number;
  /** Operations each client runs first without recording them. */
  warmupOps: number;
  deadline: number;
  /** Only requests that never reach the engine: retrieves of these finished futures and get_info. */
  httpOnly?: { finished: string[] };
}

// ---------------------------------------------------------------------------- clients (child process)

async function runClients(input: ClientsInput): Promise<ClientReport> {
  const report: ClientReport = { requests: 0, http: [], ops: [], finished: [], errors: [] };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  const call = (kind: string, route: string, body: unknown): Promise<any> =>
    new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(body));
      report.requests++;
      const t0 = now();
      const req = http.request(
        `${input.url}/api/v1/${route}`,
        { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': data.length, 'X-API-Key': 'tml-bench' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const t1 = now();
            const value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (res.statusCode !== 200) return reject(new Error(`${route} → ${res.statusCode}: ${JSON.stringify(value)}`));
            resolve({ value, t0, t1, kind });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });

  /** Polls until the future's result is there; retrieves of already-finished futures count as overhead samples. */
  const result = async (requestId: string): Promise<{ value: any; t1: number }> => {
    for (;;) {
      const r = await call('retrieve_future', 'retrieve_future', { request_id: requestId });
      if (r.value?.type === 'try_again') continue;
      if (r.value && 'error' in r.value) throw new Error(`future ${requestId} failed: ${r.value.error}`);
      return r;
    }
  };

  const client = async (i: number) => {
    const modelId = input.models[i]!;
    let seq = 1;
    let sampleN = 0;
    let engineCalls = 0;
    let lastDone: string | null = null;
    for (let k = 0; k < input.warmupOps + input.opsPerClient && now() < input.deadline; k++) {
      const measured = k >= input.warmupOps;
      const kind: OpKind = (['forward_backward', 'optim_step', 'asample'] as const)[k % 3]!;
      let body: unknown;
      let key: string;
      if (kind === 'forward_backward') {
        const tokens = [11 + i, 22, 33 + k, 44, 55, 66];
        body = {
          model_id: modelId,
          seq_id: seq++,
          forward_backward_input: {
            data: [{
              model_input: { chunks: [{ type: 'encoded_text', tokens: tokens.slice(0, -1) }] },
              loss_fn_inputs: {
                target_tokens: { data: tokens.slice(1), dtype: 'int64', shape: [5] },
                weights: { data: [1, 1, 1, 1, 1], dtype: 'float32', shape: [5] },
              },
            }],
            loss_fn: 'cross_entropy',
          },
        };
        key = `${modelId}#${engineCalls++}`;
      } else if (kind === 'optim_step') {
        body = { model_id: modelId, seq_id: seq++, adam_params: { learning_rate: 1e-3 } };
        key = `${modelId}#${engineCalls++}`;
      } else {
        const tag = `p${i}-${sampleN++}`;
        body = {
          base_model: MODEL,
          num_samples: 1,
          prompt: { chunks: [{ type: 'encoded_text', tokens: [1000 + i, sampleN, 7, 8] }] },
          sampling_params: { max_tokens: 4, seed: k, temperature: 1 },
        };
        key = tag;
      }
      try {
        const sub = await call(`${kind} (submit)`, kind, body);
        if (measured) report.http.push({ kind: `${kind} submit`, ms: sub.t1 - sub.t0 });
        const res = await result(sub.value.request_id);
        if (measured) report.ops.push({ kind, key, submitted: sub.t0, received: res.t1 });
        // One retrieve of an already finished future: nothing but server overhead.
        if (lastDone) {
          const again = await call('retrieve_future', 'retrieve_future', { request_id: lastDone });
          if (measured) report.http.push({ kind: 'retrieve_future (finished)', ms: again.t1 - again.t0 });
        }
        lastDone = sub.value.request_id;
        report.finished.push(sub.value.request_id);
      } catch (err) {
        report.errors.push(String(err));
        return;
      }
    }
  };

  const httpOnlyClient = async (i: number) => {
    const finished = input.httpOnly!.finished;
    for (let k = 0; k < input.warmupOps + input.opsPerClient && now() < input.deadline; k++) {
      try {
        const r = k % 2 === 0
          ? await call('retrieve_future (finished)', 'retrieve_future', { request_id: finished[(i * 7 + k) % finished.length] })
          : await call('get_info', 'get_info', { model_id: input.models[i % input.models.length] });
        if (k >= input.warmupOps) report.http.push({ kind: r.kind, ms: r.t1 - r.t0 });
      } catch (err) {
        report.errors.push(String(err));
        return;
      }
    }
  };

  const clients = input.httpOnly ? Math.max(input.models.length, 1) : input.models.length;
  await Promise.all(Array.from({ length: clients }, (_, i) => (input.httpOnly ? httpOnlyClient(i) : client(i))));
  agent.destroy();
  return report;
}

const isClientsProcess = process.argv.includes(CLIENTS_FLAG);
if (isClientsProcess) {
  process.once('message', (input: ClientsInput) => {
    runClients(input).then(
      (r) => process.send!(r, () => process.exit(0)),
      (err) => process.send!({ requests: 0, http: [], ops: [], finished: [], errors: [String(err)] }, () => process.exit(0)),
    );
  });
}

// ---------------------------------------------------------------------------- server (main)

/** One HTTP request as the server saw it: from its 'request' event to the response's last byte handed to the kernel. */
interface ServerSample {
  route: string;
  start: number;
  ms: number;
  /** The request thread's CPU time and run-queue wait during the request, ms (Linux, BENCH_SLOWEST only). */
  cpuMs?: number;
  runQueueMs?: number;
}

/** CPU time and run-queue wait of the calling thread so far, ms (/proc/thread-self/schedstat). */
function threadSchedStat(): (() => [number, number]) | null {
  let fd: number;
  try {
    fd = fs.openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return null;
  }
  const buf = Buffer.alloc(128);
  return () => {
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const [onCpu, waiting] = buf.toString('latin1', 0, n).split(' ').map(Number);
    return [onCpu! / 1e6, waiting! / 1e6];
  };
}

interface EngineCall {
  key: string;
  start: number;
  end: number;
}

/** Wraps the engine so every compute call is timed and tagged like the clients tag their ops. */
function timedEngine(engine: EngineHost, calls: EngineCall[]): EnginePort {
  const counters = new Map<string, number>();
  const next = (id: string) => {
    const n = counters.get(id) ?? 0;
    counters.set(id, n + 1);
    return `${id}#${n}`;
  };
  // The engine process computes one call at a time anyway; handing it one at a time makes each timed
  // interval pure compute (plus message passing) instead of including its own queue.
  let chain: Promise<unknown> = Promise.resolve();
  const timed = <T>(key: string, run: () => Promise<T>): Promise<T> => {
    const result = chain.then(async () => {
      const start = now();
      try {
        return await run();
      } finally {
        calls.push({ key, start, end: now() });
      }
    });
    chain = result.catch(() => {});
    return result;
  };
  const port: EnginePort = {
    listModels: () => engine.listModels(),
    hasModel: (n) => engine.hasModel(n),
    createAdapter: (id, base, lora) => engine.createAdapter(id, base, lora),
    dropAdapter: (id) => engine.dropAdapter(id),
    forwardBackward: (id, data, loss, cfg, fo, custom) => timed(next(id), () => engine.forwardBackward(id, data, loss, cfg, fo, custom)),
    optimStep: (id, adam) => timed(next(id), () => engine.optimStep(id, adam)),
    saveState: (id, dir, opt) => engine.saveState(id, dir, opt),
    loadState: (id, dir, opt) => engine.loadState(id, dir, opt),
    readStateInfo: (dir) => engine.readStateInfo(dir),
    saveSamplerWeights: (id, dir) => engine.saveSamplerWeights(id, dir),
    sample: (source, req) => timed(`p${req.prompt[0]! - 1000}-${req.prompt[1]! - 1}`, () => engine.sample(source, req)),
    releaseSamplerWeights: (dirs) => engine.releaseSamplerWeights(dirs),
    memoryInfo: () => engine.memoryInfo(),
    get queueLength() {
      return engine.queueLength;
    },
    close: () => engine.close(),
  };
  return port;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * How long the engine sat idle right before `start` while the operation submitted at
 * `submitted` was already in the server: from the later of the submit and the end of the last
 * engine call before `start` (busy intervals sorted and merged). Idle gaps earlier in a long
 * queue wait belong to the operations dispatched in them, which count them as their own.
 */
function dispatchGap(submitted: number, start: number, busy: Array<[number, number]>): number {
  let lastEnd = -Infinity;
  for (const [s, e] of busy) {
    if (s >= start) break;
    if (e >= start) return 0; // the engine was busy right up to this call
    lastEnd = e;
  }
  return Math.max(0, start - Math.max(submitted, lastEnd));
}

function mergeIntervals(calls: EngineCall[]): Array<[number, number]> {
  const sorted = calls.map((c): [number, number] => [c.start, c.end]).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function argValue(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const fmt = (v: number) => v.toFixed(2).padStart(8);

interface PhaseResult {
  finished: string[];
  p50Http: number;
  p99Http: number;
  /** p99 of the same requests timed inside the server (long polls left out). */
  p99Served: number;
  p99Added: number;
  requestsPerS: number;
}

/** Runs the clients in a child process and prints what they measured. */
async function runPhase(
  url: string,
  models: string[],
  opsPerClient: number,
  warmupOps: number,
  timeLimitS: number,
  calls: EngineCall[],
  served: ServerSample[],
  httpOnly?: ClientsInput['httpOnly'],
  /** CPUs for the clients' process (Linux); default: wherever the scheduler puts it. */
  clientCpus?: readonly number[],
): Promise<PhaseResult> {
  calls.length = 0;
  served.length = 0;
  // Event-loop utilisation rather than a delay histogram: sampling the delay needs a timer that
  // wakes the request thread every millisecond, which disturbs what is measured.
  const elu0 = performance.eventLoopUtilization();
  const child = fork(fileURLToPath(import.meta.url), [CLIENTS_FLAG], { serialization: 'advanced', stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  if (clientCpus) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', clientCpus.join(','), String(child.pid)], { encoding: 'utf8' });
    if (r.status !== 0) console.log(`clients left on every CPU: taskset failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  const t0 = now();
  const input: ClientsInput = { url, models, opsPerClient, warmupOps, deadline: t0 + timeLimitS * 1000, ...(httpOnly ? { httpOnly } : {}) };
  child.send(input);
  const report = await new Promise<ClientReport>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ClientReport));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`client process exited with code ${code} before reporting`)));
  });
  const wall = now() - t0;
  const elu = performance.eventLoopUtilization(elu0);

  if (report.errors.length) console.log(`errors (${report.errors.length}): ${report.errors.slice(0, 3).join(' | ')}`);
  const totalRequests = report.requests;
  console.log(`${report.finished.length} operations (${report.ops.length} measured), ${totalRequests} HTTP requests in ${(wall / 1000).toFixed(2)} s: ` +
    `${(report.finished.length / (wall / 1000)).toFixed(1)} ops/s, ${(totalRequests / (wall / 1000)).toFixed(1)} requests/s`);

  console.log('HTTP round trip of requests that never wait for the engine (all of it is server overhead), ms:');
  console.log(`  ${'request'.padEnd(28)}${'n'.padStart(6)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'max'.padStart(9)}`);
  const kinds = [...new Set(report.http.map((h) => h.kind))].sort();
  for (const k of kinds) {
    const v = report.http.filter((h) => h.kind === k).map((h) => h.ms);
    console.log(`  ${k.padEnd(28)}${String(v.length).padStart(6)}${fmt(percentile(v, 50))} ${fmt(percentile(v, 99))} ${fmt(Math.max(...v))}`);
  }

  // The same requests timed inside the server: the gap to the client's round trip is the
  // loopback network, the client process, and requests waiting in the socket before the
  // server's event loop reads them.
  const routes = [...new Set(served.map((r) => r.route))].filter((r) => r !== '/api/v1/retrieve_future' || httpOnly).sort();
  console.log('Inside the server (request event → response written), ms' + (httpOnly ? '' : '; long polls left out') + ':');
  for (const route of routes) {
    const v = served.filter((r) => r.route === route).map((r) => r.ms);
    console.log(`  ${route.replace('/api/v1/', '').padEnd(28)}${String(v.length).padStart(6)}${fmt(percentile(v, 50))} ${fmt(percentile(v, 99))} ${fmt(Math.max(...v))}`);
  }
  if (process.env.BENCH_SLOWEST) {
    for (const r of served.filter((x) => routes.includes(x.route)).sort((a, b) => b.ms - a.ms).slice(0, Number(process.env.BENCH_SLOWEST))) {
      const sched = r.cpuMs !== undefined ? ` (on CPU ${r.cpuMs.toFixed(2)} ms, waiting for a CPU ${r.runQueueMs!.toFixed(2)} ms)` : '';
      console.log(`    slow: ${r.route} ${r.ms.toFixed(2)} ms at +${(r.start - t0).toFixed(1)} ms${sched}`);
    }
  }

  const httpMs = report.http.map((h) => h.ms);
  const servedMs = served.filter((r) => routes.includes(r.route)).map((r) => r.ms);
  const summary = { p50Http: percentile(httpMs, 50), p99Http: percentile(httpMs, 99), p99Served: percentile(servedMs, 99), requestsPerS: totalRequests / (wall / 1000) };
  if (httpOnly) return { finished: [], p99Added: NaN, ...summary };
  const byKey = new Map(calls.map((c) => [c.key, c]));
  const busy = mergeIntervals(calls);
  console.log('Per operation (submit → result in hand), ms; added = engine idle right before its engine call (from its submit or the previous call\'s end) + time from the call\'s end to the client having the result:');
  console.log(`  ${'operation'.padEnd(18)}${'n'.padStart(6)}${'e2e p50'.padStart(10)}${'engine p50'.padStart(12)}${'added p50'.padStart(11)}${'added p99'.padStart(11)}`);
  const allAdded: number[] = [];
  for (const kind of ['forward_backward', 'optim_step', 'asample'] as const) {
    const ops = report.ops.filter((o) => o.kind === kind && byKey.has(o.key));
    const e2e = ops.map((o) => o.received - o.submitted);
    const engineMs = ops.map((o) => byKey.get(o.key)!.end - byKey.get(o.key)!.start);
    const added = ops.map((o) => {
      const c = byKey.get(o.key)!;
      return dispatchGap(o.submitted, c.start, busy) + Math.max(0, o.received - c.end);
    });
    allAdded.push(...added);
    console.log(`  ${kind.padEnd(18)}${String(ops.length).padStart(6)}${fmt(percentile(e2e, 50))}  ${fmt(percentile(engineMs, 50))}   ${fmt(percentile(added, 50))}   ${fmt(percentile(added, 99))}`);
  }
  if (process.env.BENCH_SLOWEST) {
    const rows = report.ops.filter((o) => byKey.has(o.key)).map((o) => {
      const c = byKey.get(o.key)!;
      return { o, gap: dispatchGap(o.submitted, c.start, busy), after: o.received - c.end, startAfterSubmit: c.start - o.submitted };
    });
    for (const r of rows.sort((a, b) => b.gap + b.after - (a.gap + a.after)).slice(0, Number(process.env.BENCH_SLOWEST))) {
      console.log(`    slow: ${r.o.kind} gap ${r.gap.toFixed(2)} + after ${r.after.toFixed(2)} ms (engine start ${r.startAfterSubmit.toFixed(2)} ms after submit) at +${(r.o.submitted - t0).toFixed(1)} ms`);
    }
  }
  const unmatched = report.ops.filter((o) => !byKey.has(o.key)).length;
  if (unmatched) console.log(`  (${unmatched} operations could not be matched to an engine call)`);
  const engineBusy = busy.reduce((sum, [a, b]) => sum + (b - a), 0);
  console.log(`engine busy ${((100 * engineBusy) / wall).toFixed(0)}% of the time; server event loop busy ${(100 * elu.utilization).toFixed(0)}%`);
  return { finished: report.finished, p99Added: percentile(allAdded, 99), ...summary };
}

interface Placement {
  name: string;
  /** CPUs of the engine process; undefined = every CPU. */
  cpus?: number[];
}

interface PlacementResult {
  placement: Placement;
  computeThreads: number;
  loaded: PhaseResult;
  solo: PhaseResult;
  httpOnly?: PhaseResult;
}

/** One server and engine, set up as startServer would with these CPUs, through every phase. */
async function benchPlacement(placement: Placement, clients: number, opsPerClient: number, timeLimitS: number, withHttpOnly: boolean): Promise<PlacementResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-bench-'));
  const calls: EngineCall[] = [];
  const host = await EngineHost.start({ niceness: 10, ...(placement.cpus ? { cpus: placement.cpus } : {}) }); // as startServer does
  const app = await createApp({ dataDir, engine: timedEngine(host, calls) });
  // As `tinker-ts serve --engine-cpus` does: this process's other threads join the engine.
  const placed = placement.cpus ? await isolateRequestThread(placement.cpus) : null;
  if (typeof placed === 'string') console.log(`request thread not isolated: ${placed}`);
  const isolated = typeof placed === 'string' ? null : placed;
  const served: ServerSample[] = [];
  const sched = process.env.BENCH_SLOWEST ? threadSchedStat() : null;
  const server = http.createServer((req, res) => {
    const start = now();
    const s0 = sched?.();
    res.once('finish', () => {
      const sample: ServerSample = { route: req.url ?? '', start, ms: now() - start };
      if (s0) {
        const s1 = sched!();
        sample.cpuMs = s1[0] - s0[0];
        sample.runQueueMs = s1[1] - s0[1];
      }
      served.push(sample);
    });
    return app.router.handle(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  try {
    // Setup (not measured): one session, one model per client.
    const post = async (route: string, body: unknown) => {
      const res = await fetch(`${url}/api/v1/${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': 'tml-bench' }, body: JSON.stringify(body) });
      return (await res.json()) as any;
    };
    const session = await post('create_session', { tags: ['bench'], user_metadata: null, sdk_version: '0.31.0', type: 'create_session' });
    if (!session.session_id) throw new Error(`create_session refused: ${JSON.stringify(session)}`);
    const models: string[] = [];
    for (let i = 0; i < clients + 1; i++) {
      const fut = await post('create_model', { session_id: session.session_id, model_seq_id: i, base_model: MODEL, lora_config: { rank: 4, seed: i } });
      if (!fut.request_id) throw new Error(`create_model refused: ${JSON.stringify(fut)}`);
      for (;;) {
        const r = await post('retrieve_future', { request_id: fut.request_id });
        if (r.type === 'try_again') continue;
        if (!r.model_id) throw new Error(`create_model failed: ${JSON.stringify(r)}`);
        models.push(r.model_id);
        break;
      }
    }
    calls.length = 0;

    const load = os.loadavg().map((v) => v.toFixed(1)).join(' ');
    const requestThread = isolated ? `; request thread alone on CPUs ${isolated.requestCpus.join(',')}, the server's other threads with the engine` : '';
    console.log(`\n=== ${placement.name}: engine ${placement.cpus ? `on CPUs ${placement.cpus.join(',')}` : 'on every CPU'}, ${host.computeThreads} compute thread(s)${requestThread}; load average ${load}`);
    console.log(`${clients} concurrent clients × ${opsPerClient} ops (forward_backward / optim_step / asample in turn), ${MODEL}, loopback ${url}`);
    const loaded = await runPhase(url, models.slice(0, clients), opsPerClient, WARMUP_OPS, timeLimitS, calls, served);
    console.log(`\nthen one client alone (no queueing, engine and server otherwise idle), ${SOLO_OPS} ops`);
    const solo = await runPhase(url, models.slice(clients), SOLO_OPS, WARMUP_OPS, timeLimitS, calls, served);
    let httpOnly: PhaseResult | undefined;
    if (withHttpOnly) {
      // The engine is idle here: with the request thread confined to its core, the clients' process
      // gets the engine's CPUs, as clients on other machines would leave that core to the server.
      const clientCpus = isolated?.backgroundCpus;
      console.log(`\nfinally ${clients} concurrent clients × ${HTTP_ONLY_REQUESTS} requests that never reach the engine (retrieve_future of finished futures, get_info), engine idle` +
        `${clientCpus ? `, clients on CPUs ${clientCpus.join(',')}` : ''}`);
      httpOnly = await runPhase(url, models.slice(0, clients), HTTP_ONLY_REQUESTS, 2, timeLimitS, calls, served, { finished: [...loaded.finished, ...solo.finished] }, clientCpus);
    }
    return { placement, computeThreads: host.computeThreads, loaded, solo, ...(httpOnly ? { httpOnly } : {}) };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.ctx.queues.whenIdle();
    await host.close();
    await app.close();
    isolated?.restore();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const clients = argValue('clients', 64);
  const opsPerClient = argValue('ops', 6);
  const timeLimitS = argValue('time-limit-s', 90);
  const cpuCount = os.availableParallelism();
  console.log(`machine: ${cpuCount} CPUs (other work on the machine inflates the tails)`);
  const placements: Placement[] = [
    ...(cpuCount >= 2 ? [{ name: 'one core kept for requests', cpus: Array.from({ length: cpuCount - 1 }, (_, i) => i + 1) }] : []),
    { name: 'engine on every core' },
  ];
  const results: PlacementResult[] = [];
  for (const [i, p] of placements.entries()) results.push(await benchPlacement(p, clients, opsPerClient, timeLimitS, i === 0));

  console.log(`\nsummary: target p99 < ${TARGET_P99_MS} ms of latency added beyond engine compute`);
  for (const r of results) {
    console.log(`  ${r.placement.name} (engine: ${r.computeThreads} compute thread(s)${r.placement.cpus ? ` on CPUs ${r.placement.cpus.join(',')}` : ''})${r === results[0] ? ' — the target\'s configuration' : ''}`);
    for (const [name, ph] of [[`${clients} clients`, r.loaded], ['1 client', r.solo]] as const) {
      console.log(`    ${name.padEnd(16)} per request p99 ${ph.p99Http.toFixed(2)} ms (inside the server ${ph.p99Served.toFixed(2)} ms), per operation p99 ${ph.p99Added.toFixed(2)} ms ` +
        `(${ph.p99Http < TARGET_P99_MS && ph.p99Added < TARGET_P99_MS ? 'met' : 'NOT met'}); ${ph.requestsPerS.toFixed(1)} requests/s`);
    }
  }
  const httpOnly = results[0]!.httpOnly!;
  // With no engine work and no pause between requests the server is saturated: 64 requests are
  // always in flight, so each waits for the others (on average 64 ÷ throughput) and the round
  // trip measures throughput, not added latency.
  console.log(`  ${'no engine work'.padEnd(18)} ${httpOnly.requestsPerS.toFixed(0)} requests/s saturated; round trip p50 ${httpOnly.p50Http.toFixed(2)} ms, ` +
    `p99 ${httpOnly.p99Http.toFixed(2)} ms is queueing behind the other ${clients - 1} requests in flight ` +
    `(${clients} ÷ throughput = ${((1000 * clients) / httpOnly.requestsPerS).toFixed(1)} ms); inside the server p99 ${httpOnly.p99Served.toFixed(2)} ms`);
}

if (!isClientsProcess) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
