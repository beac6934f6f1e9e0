/**
 * Soak: does memory and disk stay bounded under an RL-shaped loop? Each round, every client runs
 * forward_backward → optim_step → save_weights_for_sampler with a new sampling_session_seq_id
 * (ephemeral sampler weights, as `saveWeightsAndGetSamplingClient()` without a name) → a few
 * asample calls through that sampling session. With `--churn`, each round each client also
 * opens a new session and model and, at the end of the round, unloads the model and finishes the
 * session (clients that come and go). The server runs in its own process (the clients' memory is
 * not counted); after every round the bench reads the server's and the engine's RSS from /proc
 * and the data directory's size, and prints them every `--every` rounds with whether they
 * plateau (growth over the second half of the run). At the end the sessions are finished, and
 * the same figures are taken once more: ephemeral weights should then be gone.
 *
 * Usage: node dist/bench/soak-bench.js [--rounds 300] [--every 20] [--clients 1] [--churn]
 *   [--samples 2] [--rank 8] [--ephemeral-idle-s 10] [--sampler-cache-mb 256]
 * Linux only (/proc).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SAMPLER_CACHE_BYTES, type EngineMemoryInfo } from '@tinker-ts/engine';
import type { ServerSettings } from '../context.js';
import { DATABASE_FILE } from '../app.js';
import { TestClient, TINY_MODEL, tinyBatch } from '../testkit.js';

const SERVER_FLAG = '--soak-server-process';
const MiB = 1024 * 1024;
/** A figure plateaus when its second half adds less than this share of its midpoint value. */
const PLATEAU_FRACTION = 0.05;

export interface SoakOptions {
  rounds: number;
  /** Concurrent clients, each with its own session and model. */
  clients: number;
  /** Each round: a new session and model per client, unloaded and finished at the round's end. */
  churn: boolean;
  /** asample calls per client per round. */
  samplesPerRound: number;
  loraRank: number;
  settings?: Partial<ServerSettings>;
  sweepIntervalMs?: number;
  samplerCacheBytes?: number;
  /** Called after each round's measurement. */
  onRound?: (m: SoakMeasurement) => void;
}

export interface SoakMeasurement {
  round: number;
  serverRss: number;
  engineRss: number;
  /** Whole data directory (database, WAL, checkpoints, ephemeral). */
  dataDir: number;
  ephemeral: number;
  database: number;
  /** What the engine says it holds: adapters, and sampler weights loaded (bytes). */
  engineAdapters: number;
  samplerCacheBytes: number;
}

export interface SoakReport {
  rounds: SoakMeasurement[];
  /** After every session was finished and the periodic sweep ran once more. */
  afterEnd: SoakMeasurement;
  secondsPerRound: number;
}

interface ServerHandle {
  url: string;
  serverPid: number;
  enginePid: number;
  dataDir: string;
  child: ChildProcess;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

/** Bytes under `p`; the server deletes files meanwhile, so what vanishes while walking counts 0. */
function sizeOf(p: string): number {
  try {
    const st = fs.statSync(p);
    if (!st.isDirectory()) return st.size;
    let n = 0;
    for (const e of fs.readdirSync(p)) n += sizeOf(path.join(p, e));
    return n;
  } catch {
    return 0;
  }
}

/** Asks the server process for its engine's memoryInfo(). */
function engineMemory(h: ServerHandle): Promise<EngineMemoryInfo> {
  return new Promise((resolve) => {
    h.child.once('message', (m) => resolve(m as EngineMemoryInfo));
    h.child.send('memory');
  });
}

async function measure(h: ServerHandle, round: number): Promise<SoakMeasurement> {
  const db = path.join(h.dataDir, DATABASE_FILE);
  const engine = await engineMemory(h);
  return {
    round,
    engineAdapters: engine.adapters,
    samplerCacheBytes: engine.samplerCache.bytes,
    serverRss: rssOf(h.serverPid),
    engineRss: rssOf(h.enginePid),
    dataDir: sizeOf(h.dataDir),
    ephemeral: sizeOf(path.join(h.dataDir, 'ephemeral')),
    database: sizeOf(db) + sizeOf(`${db}-wal`) + sizeOf(`${db}-shm`),
  };
}

async function startServerProcess(opts: SoakOptions): Promise<ServerHandle> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-soak-'));
  const config = { settings: opts.settings ?? {}, sweepIntervalMs: opts.sweepIntervalMs, samplerCacheBytes: opts.samplerCacheBytes };
  const child = fork(fileURLToPath(import.meta.url), [SERVER_FLAG, dataDir, JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ url: string; enginePid: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; enginePid: number }));
    child.once('exit', (code) => reject(new Error(`soak server exited (${code}) before listening`)));
  });
  return { ...ready, serverPid: child.pid!, dataDir, child };
}

async function stopServerProcess(h: ServerHandle): Promise<void> {
  const exited = new Promise<void>((resolve) => h.child.once('exit', () => resolve()));
  h.child.send('stop');
  await exited;
  fs.rmSync(h.dataDir, { recursive: true, force: true });
}

const ADAM = { learning_rate: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };

/** One client: a session and a model (renewed every round with churn), and its seq_id counters. */
class SoakClient {
  private sessionId = '';
  private modelId = '';
  private seq = 1;
  private samplerSeq = 0;

  constructor(
    private readonly http: TestClient,
    private readonly opts: SoakOptions,
  ) {}

  async open(): Promise<void> {
    this.sessionId = await this.http.createSession();
    this.modelId = await this.createModel();
    this.seq = 1;
  }

  private async createModel(): Promise<string> {
    const fut = await this.http.post('create_model', {
      session_id: this.sessionId,
      model_seq_id: 0,
      base_model: TINY_MODEL,
      lora_config: { rank: this.opts.loraRank, seed: 1, train_mlp: true, train_attn: true, train_unembed: true },
      type: 'create_model',
    });
    return (await this.http.result(fut.request_id)).model_id as string;
  }

  async round(): Promise<void> {
    if (this.opts.churn) await this.open();
    const fb = await this.http.forwardBackwardProto({
      forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
      model_id: this.modelId,
      seq_id: this.seq++,
      forward_only: false,
    });
    if (fb.status !== 200) throw new Error(`forward_backward → ${fb.status}: ${Buffer.from(fb.body).toString('utf8')}`);
    const opt = await this.http.post('optim_step', { model_id: this.modelId, seq_id: this.seq++, adam_params: ADAM });
    const save = await this.http.post('save_weights_for_sampler', {
      model_id: this.modelId,
      seq_id: this.seq++,
      sampling_session_seq_id: this.samplerSeq++,
    });
    await this.http.forwardBackwardResult(fb.json.request_id);
    await this.http.result(opt.request_id);
    const { sampling_session_id } = await this.http.result(save.request_id);
    const samples = await Promise.all(
      Array.from({ length: this.opts.samplesPerRound }, (_, i) =>
        this.http.post('asample', {
          prompt: { chunks: [{ type: 'encoded_text', tokens: [11, 22, 33, 44] }] },
          sampling_params: { max_tokens: 8, temperature: 1, seed: i },
          num_samples: 2,
          sampling_session_id,
          seq_id: i,
        }),
      ),
    );
    for (const s of samples) await this.http.sampleResult(s.request_id);
    if (this.opts.churn) await this.close();
  }

  async close(): Promise<void> {
    const unload = await this.http.post('unload_model', { model_id: this.modelId, type: 'unload_model' });
    await this.http.result(unload.request_id);
    await this.http.post(`sessions/${this.sessionId}/finish`, {});
  }
}

/** Runs the loop against a server in a child process and measures it after every round. */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  if (process.platform !== 'linux') throw new Error('the soak bench reads /proc: Linux only');
  const h = await startServerProcess(opts);
  try {
    const clients = Array.from({ length: opts.clients }, (_, i) => new SoakClient(new TestClient(h.url, `tml-soak-${i}`), opts));
    if (!opts.churn) await Promise.all(clients.map((c) => c.open()));
    const rounds: SoakMeasurement[] = [];
    const started = Date.now();
    for (let r = 1; r <= opts.rounds; r++) {
      await Promise.all(clients.map((c) => c.round()));
      const m = await measure(h, r);
      rounds.push(m);
      opts.onRound?.(m);
    }
    const secondsPerRound = (Date.now() - started) / 1000 / opts.rounds;
    if (!opts.churn) await Promise.all(clients.map((c) => c.close()));
    // Let the periodic sweep run (and the engine hear about what it freed).
    await new Promise((r) => setTimeout(r, 2 * (opts.sweepIntervalMs ?? 60_000) + 500));
    return { rounds, afterEnd: await measure(h, opts.rounds), secondsPerRound };
  } finally {
    await stopServerProcess(h);
  }
}

/**
 * Growth of one figure over the second half of the run: the median of its last eighth minus the
 * median of the eighth that ends at the midpoint (medians, so one garbage collection either side
 * does not decide it).
 */
export function secondHalfGrowth(rounds: readonly SoakMeasurement[], pick: (m: SoakMeasurement) => number): number {
  const k = Math.max(1, Math.floor(rounds.length / 8));
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const mid = Math.floor(rounds.length / 2);
  return median(rounds.slice(-k).map(pick)) - median(rounds.slice(Math.max(0, mid - k), mid).map(pick));
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function describe(m: SoakMeasurement): string {
  return `server RSS ${mib(m.serverRss).padStart(10)}  engine RSS ${mib(m.engineRss).padStart(10)}  ` +
    `data dir ${mib(m.dataDir).padStart(10)} (ephemeral ${mib(m.ephemeral)}, database ${mib(m.database)}); ` +
    `engine holds ${m.engineAdapters} adapter(s), ${mib(m.samplerCacheBytes)} of sampler weights`;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const churn = process.argv.includes('--churn');
  const opts: SoakOptions = {
    rounds: flag('--rounds', 300),
    clients: flag('--clients', 1),
    churn,
    samplesPerRound: flag('--samples', 2),
    loraRank: flag('--rank', 8),
    settings: { ephemeralSamplerIdleMs: flag('--ephemeral-idle-s', 10) * 1000 },
    sweepIntervalMs: 2_000,
    ...(process.argv.includes('--sampler-cache-mb') ? { samplerCacheBytes: flag('--sampler-cache-mb', 256) * MiB } : {}),
  };
  const every = flag('--every', 20);
  console.log(`soak: ${opts.rounds} rounds × ${opts.clients} client(s)${churn ? ' (new session and model each round, unloaded at its end)' : ''}, ` +
    `${TINY_MODEL} LoRA rank ${opts.loraRank} (unembed too), ${opts.samplesPerRound} asample per round; ` +
    `ephemeral sampler weights expire after ${opts.settings!.ephemeralSamplerIdleMs! / 1000} s unused, ` +
    `engine sampler cache ${mib(opts.samplerCacheBytes ?? DEFAULT_SAMPLER_CACHE_BYTES)}`);
  const report = await runSoak({
    ...opts,
    onRound: (m) => {
      if (m.round === 1 || m.round % every === 0 || m.round === opts.rounds) console.log(`  round ${String(m.round).padStart(4)}  ${describe(m)}`);
    },
  });
  console.log(`  after end   ${describe(report.afterEnd)}`);
  console.log(`${report.secondsPerRound.toFixed(2)} s per round; growth over the second half:`);
  const figures: Array<[string, (m: SoakMeasurement) => number]> = [
    ['server RSS', (m) => m.serverRss],
    ['engine RSS', (m) => m.engineRss],
    ['data dir', (m) => m.dataDir],
  ];
  const half = Math.ceil(report.rounds.length / 2);
  for (const [name, pick] of figures) {
    const g = secondHalfGrowth(report.rounds, pick);
    // Relative: the allocator's drift in RSS is a few percent; one leaked adapter per round is
    // many times that over a second half.
    const mid = pick(report.rounds[Math.floor(report.rounds.length / 2)]!);
    console.log(`  ${name.padEnd(10)} ${(g >= 0 ? '+' : '') + mib(g)} (${(g / MiB / half).toFixed(3)} MiB/round, ` +
      `${((100 * g) / mid).toFixed(1)}% of its midpoint value): ${g < PLATEAU_FRACTION * mid ? 'plateaus' : 'GROWS'}`);
  }
}

async function serverProcess(dataDir: string, config: { settings: Partial<ServerSettings>; sweepIntervalMs?: number; samplerCacheBytes?: number }): Promise<void> {
  const { startServer } = await import('../server.js');
  const server = await startServer({
    dataDir,
    port: 0,
    settings: config.settings,
    ...(config.sweepIntervalMs !== undefined ? { sweepIntervalMs: config.sweepIntervalMs } : {}),
    ...(config.samplerCacheBytes !== undefined ? { samplerCacheBytes: config.samplerCacheBytes } : {}),
  });
  process.on('message', (m) => {
    if (m === 'stop') void server.close().then(() => process.exit(0));
    if (m === 'memory') void server.engine.memoryInfo().then((info) => process.send!(info));
  });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
  process.send!({ url: server.url, enginePid: server.engine.pid });
}

const flagAt = process.argv.indexOf(SERVER_FLAG);
if (flagAt >= 0) {
  void serverProcess(process.argv[flagAt + 1]!, JSON.parse(process.argv[flagAt + 2]!));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
