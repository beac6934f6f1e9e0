/**
 * Helpers for the end-to-end tests of the SDK against this server over real HTTP: a server in
 * a child process (needed when the test blocks its own thread in `result()`), a proxy that
 * rewrites the server's client/config (to force small forward_backward chunks), and small
 * training data.
 *
 * Run as a program (`node e2e-testkit.js <dataDir> [settingsJson]`) this file is the child
 * server: it prints `url <url>` on stdout once listening and stops when stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import {
  Datum,
  NotFoundError,
  RequestFailedError,
  parseCheckpointPath,
  type APIFuture,
  type Page,
  type PageFuture,
  type SamplingClient,
  ServiceClient,
  type TrainingClient,
} from '@tinker-ts/sdk';
import type { ServerSettings } from './context.js';
import { startServer, type RunningServer } from './server.js';

export const E2E_MODEL = 'tinker-ts/tiny-qwen3';
export const E2E_API_KEY = 'tml-e2e-user';

const READY_PREFIX = 'url ';

/** A server in this process on a temporary data dir, and an SDK client of it (await style only). */
export interface InProcessServer {
  server: RunningServer;
  dataDir: string;
  sc: ServiceClient;
  close(): Promise<void>;
}

export async function startInProcessServer(tmpPrefix: string): Promise<InProcessServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  const server = await startServer({ dataDir, port: 0, settings: { longPollMs: 2_000 } });
  const sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY });
  return {
    server, dataDir, sc,
    close: async () => {
      await sc.close();
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildServer {
  url: string;
  dataDir: string;
  /** Kills the child without warning (SIGKILL) and starts a new one on the same port and data dir. */
  crashAndRestart(): Promise<void>;
  /** Stops the child and removes its data directory. */
  close(): Promise<void>;
}

export interface ChildServerOptions {
  settings?: Partial<ServerSettings>;
  /** How long to wait for the child to listen; default 60 s. */
  startTimeoutMs?: number;
}

/** Starts the server in another process, on a fresh data directory. */
export async function startChildServer(opts: ChildServerOptions = {}): Promise<ChildServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-e2e-child-'));
  let running = await spawnChild(dataDir, 0, opts);
  const port = Number(new URL(running.url).port);
  return {
    url: running.url,
    dataDir,
    crashAndRestart: async () => {
      await killChild(running.child, 'SIGKILL');
      running = await spawnChild(dataDir, port, opts);
    },
    close: async () => {
      await killChild(running.child, null);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function spawnChild(dataDir: string, port: number, opts: ChildServerOptions): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), dataDir, JSON.stringify(opts.settings ?? {}), String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`child server did not start in time; stderr:\n${stderr}`)), opts.startTimeoutMs ?? 60_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (line) {
        clearTimeout(timer);
        resolve(line.slice(READY_PREFIX.length).trim());
      }
    });
    child.once('exit', (code) => fail(new Error(`child server exited (${code}) before listening; stderr:\n${stderr}`)));
  });
  return { child, url };
}

/** Stops a child: SIGKILL at once, or (null) by closing its stdin, SIGKILL after 15 s. */
async function killChild(child: ChildProcess, signal: 'SIGKILL' | null): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (signal) child.kill(signal);
  else child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** The child side: serve until the parent closes our stdin. */
async function runChild(dataDir: string, settingsJson: string | undefined, port: string | undefined): Promise<void> {
  const settings = settingsJson ? (JSON.parse(settingsJson) as Partial<ServerSettings>) : {};
  const server = await startServer({ dataDir, port: port ? Number(port) : 0, settings });
  process.stdout.write(`${READY_PREFIX}${server.url}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

export interface ConfigProxy {
  url: string;
  /** Requests seen so far, by path (e.g. "/api/v1/forward_backward"). */
  requestCounts: Map<string, number>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy to `targetUrl` that merges `overrides` into the client/config answer, so a
 * client can be made to chunk its batches the way a hosted server with small limits would.
 */
export async function startClientConfigProxy(targetUrl: string, overrides: Record<string, unknown>): Promise<ConfigProxy> {
  const target = new URL(targetUrl);
  const requestCounts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const route = (req.url ?? '').split('?')[0]!;
    requestCounts.set(route, (requestCounts.get(route) ?? 0) + 1);
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (!req.url?.startsWith('/api/v1/client/config') || up.statusCode !== 200) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        up.on('data', (d: Buffer) => parts.push(d));
        up.on('end', () => {
          const body = JSON.stringify({ ...JSON.parse(Buffer.concat(parts).toString('utf8')), ...overrides });
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
          res.end(body);
        });
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requestCounts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A small fixed batch the tiny model learns within a few steps (next-token datums). */
export function e2eBatch(): Datum[] {
  return [Datum.fromTokens([11, 22, 33, 44, 55, 66, 77, 88]), Datum.fromTokens([101, 202, 303, 404, 505, 606, 707])];
}

/** Weighted mean of the per-token cross-entropy, from a forward's `logprobs` outputs. */
export function meanNll(logprobs: readonly number[][], weights: readonly number[][]): number {
  let num = 0;
  let den = 0;
  logprobs.forEach((lp, i) =>
    lp.forEach((x, k) => {
      num -= x * weights[i]![k]!;
      den += weights[i]![k]!;
    }),
  );
  return num / den;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * How a test waits for a future: `(f) => f` (await style) or `(f) => f.result()` (blocking
 * style, which needs the server in another process).
 */
export type Wait = <T>(f: APIFuture<T>) => T | PromiseLike<T>;

/** Every item of every page, the way the wait style does it. */
async function allItems<T>(page: PageFuture<T>, wait: Wait, blocking: boolean): Promise<T[]> {
  if (blocking) return (page.result() as Page<T>).allItemsSync();
  const out: T[] = [];
  for await (const item of page) out.push(item);
  return out;
}

function logprobsOf(out: { lossFnOutputs: Array<Record<string, { toArray(): number[] }>> }): number[][] {
  return out.lossFnOutputs.map((o) => o['logprobs']!.toArray());
}

function weightsOf(batch: readonly Datum[]): number[][] {
  return batch.map((d) => d.lossFnInputs['weights']!.toArray());
}

export interface FlowReport {
  losses: number[];
  resumeDiff: number;
  promptLogprobDiff: number;
}

/**
 * The local-server flow, start to end: capabilities, LoRA training with a falling
 * loss, save/resume with the optimizer, sampler weights and sampling, REST listings and
 * checkpoint housekeeping, delete, unload.
 */
export async function runLocalServerFlow(sc: ServiceClient, wait: Wait, blocking: boolean): Promise<FlowReport> {
  const caps = await wait(sc.getServerCapabilities());
  assert.ok(caps.supportedModels.some((m) => m.modelName === E2E_MODEL), `capabilities list ${E2E_MODEL}`);

  const tc: TrainingClient = await wait(sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 3 }));
  const batch = e2eBatch();
  const weights = weightsOf(batch);

  const first = await wait(tc.forward(batch, 'cross_entropy'));
  assert.equal(first.lossFnOutputs.length, batch.length);
  const losses = [meanNll(logprobsOf(first), weights)];
  // forward's loss:sum is the weighted sum of the per-token NLL.
  const tokens = weights.flat().reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(first.metrics['loss:sum']! / tokens - losses[0]!) < 1e-4, 'loss:sum matches the logprobs');

  const adam = { learningRate: 1e-2 };
  for (let step = 0; step < 4; step++) {
    const fb = await wait(tc.forwardBackward(batch, 'cross_entropy'));
    assert.ok(Number.isFinite(fb.metrics['loss:sum']));
    await wait(tc.optimStep(adam));
    losses.push(meanNll(logprobsOf(await wait(tc.forward(batch, 'cross_entropy'))), weights));
  }
  for (let i = 1; i < losses.length; i++) assert.ok(losses[i]! < losses[i - 1]!, `loss falls every step: ${losses.join(', ')}`);
  assert.ok(losses.at(-1)! < losses[0]! - 0.5, `loss falls clearly: ${losses.join(', ')}`);

  // Save, resume with the optimizer in a new client, and take the same next step on both.
  const saved = await wait(tc.saveState('step-4', { userMetadata: { stage: 'e2e' } }));
  assert.match(saved.path, /^tinker:\/\/[^/]+\/weights\/step-4$/);
  const runId = parseCheckpointPath(saved.path).trainingRunId;
  const resumed = await wait(sc.createTrainingClientFromStateWithOptimizer(saved.path));
  const fresh = await wait(sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 99 }));
  await wait(fresh.loadStateWithOptimizer(saved.path));
  let resumeDiff = 0;
  for (const client of [resumed, fresh]) {
    const out = await wait(client.forward(batch, 'cross_entropy'));
    const orig = await wait(tc.forward(batch, 'cross_entropy'));
    logprobsOf(out).forEach((lp, i) => (resumeDiff = Math.max(resumeDiff, maxAbsDiff(lp, logprobsOf(orig)[i]!))));
  }
  assert.ok(resumeDiff <= 1e-4, `resumed weights give the original's logprobs (max diff ${resumeDiff})`);
  // One more step on the original and the resumed client: equal only if the Adam moments came along.
  for (const client of [tc, resumed]) {
    await wait(client.forwardBackward(batch, 'cross_entropy'));
    await wait(client.optimStep(adam));
  }
  const afterOrig = logprobsOf(await wait(tc.forward(batch, 'cross_entropy')));
  const afterResumed = logprobsOf(await wait(resumed.forward(batch, 'cross_entropy')));
  afterOrig.forEach((lp, i) => assert.ok(maxAbsDiff(lp, afterResumed[i]!) <= 1e-4, 'the step after resuming matches the original'));

  // Sampler weights and a sampling client on them.
  const samplerSave = await wait(tc.saveWeightsForSampler('sampler-5'));
  assert.match(samplerSave.path, /^tinker:\/\/[^/]+\/sampler_weights\/sampler-5$/);
  const sampler: SamplingClient = await wait(sc.createSamplingClient({ modelPath: samplerSave.path }));
  const prompt = [11, 22, 33, 44];
  const params = { maxTokens: 6, seed: 1234, temperature: 1 };
  const s1 = await wait(sampler.sample({ prompt, numSamples: 3, samplingParams: params }));
  const s2 = await wait(sampler.sample({ prompt, numSamples: 3, samplingParams: params }));
  assert.equal(s1.sequences.length, 3);
  assert.deepEqual(s1.sequences.map((s) => s.tokens), s2.sequences.map((s) => s.tokens), 'same seed, same samples');
  for (const seq of s1.sequences) {
    assert.ok(seq.tokens.length >= 1 && seq.tokens.length <= 6);
    assert.equal(seq.logprobs?.length, seq.tokens.length);
  }
  const distinct = new Set(s1.sequences.map((s) => s.tokens.join(',')));
  assert.ok(distinct.size > 1, 'the samples of one request differ from each other');

  // A stop token id: the sample ends with it (it is the last token returned). The stop token
  // is picked where its text is a clean stop string too.
  const tokenizer = await wait(sampler.getTokenizer());
  const cleanText = (t: number) => {
    const text = tokenizer.decode([t]);
    return text.trim().length > 0 && !text.includes('\uFFFD') ? text : null;
  };
  const which = s1.sequences.findIndex((s) => s.tokens.length === 6 && cleanText(s.tokens[2]!) !== null);
  assert.ok(which >= 0, 'some sample has a third token with clean text');
  const long = s1.sequences[which]!;
  const stopToken = long.tokens[2]!;
  const cut = long.tokens.indexOf(stopToken);
  const stopped = await wait(sampler.sample({ prompt, numSamples: 3, samplingParams: { ...params, stop: [stopToken] } }));
  assert.deepEqual(stopped.sequences[which]!.tokens, long.tokens.slice(0, cut + 1), 'stops right after the stop token');
  assert.equal(stopped.sequences[which]!.stopReason, 'stop');
  // A stop string: the decoded text of that same token.
  const byString = await wait(sampler.sample({ prompt, numSamples: 3, samplingParams: { ...params, stop: [cleanText(stopToken)!] } }));
  const strSeq = byString.sequences[which]!;
  assert.equal(strSeq.stopReason, 'stop');
  assert.ok(strSeq.tokens.length <= cut + 1, 'stops no later than the stop string');
  assert.deepEqual(strSeq.tokens, long.tokens.slice(0, strSeq.tokens.length));
  assert.ok(tokenizer.decode(strSeq.tokens).includes(cleanText(stopToken)!), 'the returned text contains the stop string');

  // Prompt logprobs equal the training forward's logprobs of the same tokens.
  const full = [11, 22, 33, 44, 55, 66, 77, 88];
  const trainLp = logprobsOf(await wait(tc.forward([Datum.fromTokens(full)], 'cross_entropy')))[0]!;
  const withPrompt = await wait(sampler.sample({ prompt: full, numSamples: 1, samplingParams: { maxTokens: 1, seed: 1 }, includePromptLogprobs: true }));
  const plp = withPrompt.promptLogprobs!;
  assert.equal(plp.length, full.length);
  assert.equal(plp[0], null);
  const promptLogprobDiff = maxAbsDiff(plp.slice(1) as number[], trainLp);
  assert.ok(promptLogprobDiff <= 1e-4, `prompt logprobs match training logprobs (max diff ${promptLogprobDiff})`);
  const computed = await wait(sampler.computeLogprobs(full));
  assert.ok(maxAbsDiff(computed.slice(1) as number[], trainLp) <= 1e-4, 'computeLogprobs matches training logprobs');

  // An ephemeral sampling client on the current weights.
  const live = await wait(tc.saveWeightsAndGetSamplingClient());
  const liveLp = await wait(live.computeLogprobs(full));
  assert.ok(maxAbsDiff(liveLp.slice(1) as number[], trainLp) <= 1e-4, 'the live sampling client sees the trained weights');

  // REST listings.
  const rest = sc.createRestClient();
  const runs = await allItems(rest.listTrainingRuns({ limit: 1 }), wait, blocking);
  const runIds = runs.map((r) => r.trainingRunId);
  assert.equal(new Set(runIds).size, runIds.length, 'pagination yields each run once');
  for (const id of [runId, parseCheckpointPath(samplerSave.path).trainingRunId]) assert.ok(runIds.includes(id), `run ${id} listed`);
  assert.ok(runIds.length >= 3, 'the original, resumed and fresh runs are listed');
  const run = await wait(rest.getTrainingRun(runId));
  assert.equal(run.baseModel, E2E_MODEL);
  assert.equal(run.loraRank, 4);
  const checkpoints = (await wait(rest.listCheckpoints(runId))).items;
  const ids = checkpoints.map((c) => c.checkpointId).sort();
  assert.deepEqual(ids, ['sampler_weights/sampler-5', 'weights/step-4']);
  assert.deepEqual(checkpoints.find((c) => c.checkpointId === 'weights/step-4')!.userMetadata, { stage: 'e2e' });
  const mine = await allItems(rest.listUserCheckpoints({ limit: 1 }), wait, blocking);
  const minePaths = mine.map((c) => c.tinkerPath);
  assert.equal(new Set(minePaths).size, minePaths.length, 'pagination yields each checkpoint once');
  assert.ok(minePaths.includes(saved.path) && minePaths.includes(samplerSave.path));
  const sessions = await allItems(rest.listSessions({ limit: 1 }), wait, blocking);
  assert.ok(sessions.length >= 1);
  const session = await wait(rest.getSession(sessions[0]!));
  assert.ok(session.trainingRunIds.includes(runId), 'the newest session owns the run');

  // Publish / unpublish, TTL.
  const findCheckpoint = async () => (await wait(rest.listCheckpoints(runId))).items.find((c) => c.tinkerPath === saved.path)!;
  await wait(rest.publishCheckpoint(saved.path));
  assert.equal((await findCheckpoint()).public, true);
  await wait(rest.unpublishCheckpoint(saved.path));
  assert.equal((await findCheckpoint()).public, false);
  const before = Date.now();
  await wait(rest.setCheckpointTtl(saved.path, 3600));
  const expires = (await findCheckpoint()).expiresAt;
  assert.ok(expires && Math.abs(expires.getTime() - (before + 3600_000)) < 60_000, `expiry about an hour out: ${expires?.toISOString()}`);
  await wait(rest.setCheckpointTtl(saved.path, null));
  assert.equal((await findCheckpoint()).expiresAt, undefined);

  // Delete: the checkpoint is gone, and loading it fails as not found.
  await wait(rest.deleteCheckpoint(saved.path));
  assert.deepEqual((await wait(rest.listCheckpoints(runId))).items.map((c) => c.checkpointId), ['sampler_weights/sampler-5']);
  const namesDeleted = (e: unknown) => isNotFound(e) && (e as Error).message.includes(`${saved.path} not found`);
  await assert.rejects(async () => wait(sc.createTrainingClientFromState(saved.path)), namesDeleted);
  await assert.rejects(async () => wait(fresh.loadState(saved.path)), namesDeleted);
  // Deleting sampler weights ends the sampling sessions on them, with the reason.
  await wait(rest.deleteCheckpoint(samplerSave.path));
  await assert.rejects(async () => wait(sampler.sample({ prompt, samplingParams: { maxTokens: 1 } })), (e: unknown) => {
    assert.ok(isNotFound(e));
    assert.ok((e as Error).message.includes(samplerSave.path) && /deleted/.test((e as Error).message), (e as Error).message);
    return true;
  });
  await assert.rejects(async () => wait(sc.createSamplingClient({ modelPath: samplerSave.path })), isNotFound);

  // Unload: the model answers no more.
  await wait(fresh.unload());
  await assert.rejects(
    async () => wait(fresh.forward(batch, 'cross_entropy')),
    (e: unknown) => e instanceof RequestFailedError && e.category === 'user' && /unloaded/.test(e.message),
  );
  for (const client of [tc, resumed]) await wait(client.unload());
  return { losses, resumeDiff, promptLogprobDiff };
}

/** A 404 (anything else is rethrown, so the test shows it). */
export function isNotFound(err: unknown): boolean {
  if (err instanceof NotFoundError && err.status === 404) return true;
  throw err;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  runChild(process.argv[2]!, process.argv[3], process.argv[4]).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
