/**
 * Bad input, table-driven, over real HTTP: every case must get a 4xx that is not one the SDK
 * retries (408/409/429), or — for what only the engine can judge, like a token id beyond the
 * vocabulary — an accepted request whose future fails with category "user". Either way the
 * message names the problem, and the server keeps answering healthz.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { EngineHost } from '@tinker-ts/engine';
import { encodeForwardBackwardRequest, zstdCompress } from '@tinker-ts/protocol';
import { createApp, type App } from './app.js';
import { TestClient, TINY_MODEL, nextTokenDatum, tinyBatch } from './testkit.js';

/** Small limits so oversized bodies and zstd bombs are cheap to send. */
const MAX_BODY = 1024 * 1024;
const MAX_INFLATED = 4 * 1024 * 1024;
const VOCAB = 151936;

let engine: EngineHost;
let app: App;
let server: http.Server;
let dataDir: string;
let url: string;
let client: TestClient;
let sessionId: string;
let modelId: string;
/** Fresh models whose next seq_id is 1: for requests that must actually run. */
const fresh: string[] = [];

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-bad-input-'));
  engine = await EngineHost.start();
  app = await createApp({ dataDir, engine, limits: { maxBodyBytes: MAX_BODY, maxDecompressedBytes: MAX_INFLATED }, settings: { longPollMs: 1000 } });
  server = http.createServer(app.router.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new TestClient(url, 'tml-bad-input');
  sessionId = await client.createSession();
  modelId = await client.createModel(sessionId, 0, 2, 1);
  // seq_id 1 is used by a valid optim_step, for the reuse case.
  const first = await client.post('optim_step', { model_id: modelId, seq_id: 1, adam_params: { learning_rate: 1e-4 } });
  await client.result(first.request_id);
  for (let i = 0; i < 4; i++) fresh.push(await client.createModel(sessionId, 10 + i, 2, 1));
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  await app.ctx.queues.whenIdle();
  await engine.close();
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Case {
  name: string;
  method?: string;
  route: string;
  /** JSON body (serialized here). */
  body?: () => unknown;
  /** Raw body bytes (sent as is). */
  raw?: () => Uint8Array | string | Promise<Uint8Array>;
  headers?: Record<string, string>;
  apiKey?: string | null;
  /** Expected status; default "any non-retried 4xx". */
  status?: number;
  /** Must match the error message (plus the `field` it names). */
  message: RegExp;
  /** The problem may only be found when the request runs: a failed future (category user) is also right. */
  mayFailLater?: boolean;
}

/**
 * Refused training requests use far-ahead seq_ids on the main model (a request wrongly accepted
 * there just waits, and is reported as accepted); the cases that must run use fresh models.
 */
let seqCounter = 1000;
const nextSeq = () => ++seqCounter;

const text = (tokens: number[]) => ({ chunks: [{ type: 'encoded_text', tokens }] });
const fb = (data: unknown, extra: Record<string, unknown> = {}) => () => ({
  model_id: modelId,
  seq_id: nextSeq(),
  forward_backward_input: { data, loss_fn: 'cross_entropy', ...extra },
});
const sample = (over: Record<string, unknown>) => () => ({
  base_model: TINY_MODEL,
  num_samples: 1,
  prompt: text([1, 2, 3]),
  sampling_params: { max_tokens: 2 },
  ...over,
});
const datum = (tokens: number[], targets: number[], weights: number[], dtype = 'int64') => ({
  model_input: text(tokens),
  loss_fn_inputs: {
    target_tokens: { data: targets, dtype, shape: [targets.length] },
    weights: { data: weights, dtype: 'float32', shape: [weights.length] },
  },
});
const lora = (over: Record<string, unknown>) => () => ({
  session_id: sessionId,
  model_seq_id: 40,
  base_model: TINY_MODEL,
  lora_config: { rank: 2, ...over },
});

const cases: Case[] = [
  // Transport: bodies, encodings, media types, auth, routes.
  { name: 'malformed JSON', route: 'create_session', raw: () => '{"tags": [', headers: { 'Content-Type': 'application/json' }, status: 400, message: /not valid JSON/ },
  { name: 'JSON array as body', route: 'create_session', raw: () => '[1,2]', headers: { 'Content-Type': 'application/json' }, status: 400, message: /object|array/i },
  { name: 'JSON string as body', route: 'get_info', raw: () => '"model"', headers: { 'Content-Type': 'application/json' }, status: 400, message: /object|string/i },
  { name: 'wrong content-type', route: 'create_session', raw: () => 'tags=a', headers: { 'Content-Type': 'text/plain' }, status: 415, message: /Content-Type "text\/plain"/ },
  { name: 'protobuf where only JSON is taken', route: 'optim_step', raw: () => new Uint8Array([8, 1]), headers: { 'Content-Type': 'application/x-protobuf' }, status: 415, message: /JSON body/ },
  { name: 'unsupported content-encoding', route: 'create_session', raw: () => '{}', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, status: 415, message: /Content-Encoding "gzip"/ },
  { name: 'corrupt zstd body', route: 'create_session', raw: () => new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6]), headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' }, status: 400, message: /zstd/ },
  { name: 'zstd that is not zstd at all', route: 'create_session', raw: () => 'plain text', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' }, status: 400, message: /zstd/ },
  { name: 'zstd bomb beyond the inflate limit', route: 'create_session', raw: () => zstdCompress(new Uint8Array(MAX_INFLATED * 2)), headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' }, status: 413, message: /inflates beyond|limit/ },
  { name: 'body over the size limit', route: 'create_session', raw: () => 'x'.repeat(MAX_BODY + 10), headers: { 'Content-Type': 'application/json' }, status: 413, message: /exceeds the limit/ },
  { name: 'JSON nested 100k deep', route: 'create_session', raw: () => `{"tags": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`, headers: { 'Content-Type': 'application/json' }, status: 400, message: /deeper than 64 levels/ },
  { name: 'corrupt protobuf', route: 'forward_backward', raw: () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x22]), headers: { 'Content-Type': 'application/x-protobuf' }, status: 400, message: /./ },
  {
    name: 'truncated protobuf',
    route: 'forward_backward',
    raw: () => {
      const full = encodeForwardBackwardRequest({ forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null }, model_id: modelId, seq_id: nextSeq(), forward_only: false });
      return full.subarray(0, full.length - 7);
    },
    headers: { 'Content-Type': 'application/x-protobuf' },
    status: 400,
    message: /./,
  },
  { name: 'missing API key', route: 'create_session', body: () => ({ tags: [] }), apiKey: null, status: 401, message: /missing X-API-Key/ },
  { name: 'API key without the tml- prefix', route: 'create_session', body: () => ({ tags: [] }), apiKey: 'sk-123', status: 401, message: /invalid API key/ },
  { name: 'unknown route', route: 'frobnicate', body: () => ({}), status: 404, message: /no route POST \/api\/v1\/frobnicate/ },
  { name: 'wrong method', method: 'GET', route: 'create_session', status: 405, message: /GET is not allowed/ },

  // Sessions and models.
  { name: 'create_session: tags not a list', route: 'create_session', body: () => ({ tags: 'a,b', sdk_version: '0.31.0' }), status: 400, message: /tags/ },
  { name: 'create_session: user_metadata not an object', route: 'create_session', body: () => ({ tags: [], user_metadata: 5, sdk_version: '0.31.0' }), status: 400, message: /user_metadata/ },
  { name: 'session_heartbeat: unknown session', route: 'session_heartbeat', body: () => ({ session_id: 'no-such-session' }), status: 404, message: /session no-such-session not found/ },
  { name: 'session_heartbeat: session_id a number', route: 'session_heartbeat', body: () => ({ session_id: 12 }), status: 400, message: /session_id/ },
  { name: 'create_model: missing base_model', route: 'create_model', body: () => ({ session_id: sessionId, model_seq_id: 40, lora_config: { rank: 2 } }), status: 400, message: /base_model/ },
  { name: 'create_model: unknown base_model', route: 'create_model', body: () => ({ session_id: sessionId, model_seq_id: 40, base_model: 'no/such-model', lora_config: { rank: 2 } }), status: 400, message: /unknown base_model "no\/such-model"/ },
  { name: 'create_model: negative rank', route: 'create_model', body: lora({ rank: -4 }), status: 400, message: /rank/ },
  { name: 'create_model: zero rank', route: 'create_model', body: lora({ rank: 0 }), status: 400, message: /rank/ },
  { name: 'create_model: huge rank', route: 'create_model', body: lora({ rank: 100000 }), status: 400, message: /rank/ },
  { name: 'create_model: rank as a string', route: 'create_model', body: lora({ rank: '8' }), status: 400, message: /rank/ },
  { name: 'create_model: negative model_seq_id', route: 'create_model', body: () => ({ ...lora({})(), model_seq_id: -1 }), status: 400, message: /model_seq_id/ },
  { name: 'create_model: model_seq_id beyond 2^53', route: 'create_model', body: () => ({ ...lora({})(), model_seq_id: 1e21 }), status: 400, message: /model_seq_id.*<= 9007199254740991/ },
  { name: 'create_sampling_session: fractional sampling_session_seq_id', route: 'create_sampling_session', body: () => ({ session_id: sessionId, sampling_session_seq_id: 0.5, base_model: TINY_MODEL }), status: 400, message: /sampling_session_seq_id/ },
  { name: 'get_info: missing model_id', route: 'get_info', body: () => ({}), status: 400, message: /model_id/ },
  { name: 'get_info: unknown model', route: 'get_info', body: () => ({ model_id: 'nope:train:0' }), status: 404, message: /model nope:train:0 not found/ },

  // Training.
  { name: 'forward_backward: unknown loss', route: 'forward_backward', body: fb(tinyBatch(), { loss_fn: 'mean_squared' }), status: 400, message: /loss_fn|mean_squared/ },
  { name: 'forward_backward: missing model_id', route: 'forward_backward', body: () => ({ seq_id: nextSeq(), forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy' } }), status: 400, message: /model_id/ },
  { name: 'forward_backward: data not a list', route: 'forward_backward', body: fb('lots'), status: 400, message: /data/ },
  { name: 'forward_backward: targets shorter than input', route: 'forward_backward', body: fb([datum([1, 2, 3], [2, 3], [1, 1])]), status: 400, message: /length|shape|target_tokens/ },
  { name: 'forward_backward: weights longer than input', route: 'forward_backward', body: fb([datum([1, 2, 3], [2, 3, 4], [1, 1, 1, 1])]), status: 400, message: /length|shape|weights/ },
  { name: 'forward_backward: wrong dtype', route: 'forward_backward', body: fb([datum([1, 2], [2, 3], [1, 1], 'float64')]), status: 400, message: /dtype/ },
  { name: 'forward_backward: negative token id', route: 'forward_backward', body: fb([datum([1, -2], [2, 3], [1, 1])]), status: 400, message: /token|non-negative|-2/ },
  { name: 'forward_backward: fractional token id', route: 'forward_backward', body: fb([datum([1, 2.5], [2, 3], [1, 1])]), status: 400, message: /integer|token|2\.5/ },
  { name: 'forward_backward: token id ≥ vocab', route: 'forward_backward', body: () => ({ ...fb([datum([1, VOCAB], [2, 3], [1, 1])])(), model_id: fresh[0], seq_id: 1 }), message: /vocab/, mayFailLater: true },
  { name: 'forward_backward: target id ≥ vocab', route: 'forward_backward', body: () => ({ ...fb([datum([1, 2], [2, VOCAB + 5], [1, 1])])(), model_id: fresh[1], seq_id: 1 }), message: /vocab/, mayFailLater: true },
  { name: 'forward_backward: missing target_tokens', route: 'forward_backward', body: fb([{ model_input: text([1, 2]), loss_fn_inputs: { weights: { data: [1, 1], dtype: 'float32', shape: [2] } } }]), status: 400, message: /target_tokens/ },
  { name: 'forward_backward: unknown loss input', route: 'forward_backward', body: fb([{ ...datum([1, 2], [2, 3], [1, 1]), loss_fn_inputs: { ...datum([1, 2], [2, 3], [1, 1]).loss_fn_inputs, bonus: { data: [1, 1], dtype: 'float32' } } }]), status: 400, message: /bonus/ },
  { name: 'forward_backward: ppo without advantages', route: 'forward_backward', body: fb([datum([1, 2], [2, 3], [1, 1])], { loss_fn: 'ppo' }), status: 400, message: /advantages|logprobs/ },
  { name: 'forward_backward: dro without beta', route: 'forward_backward', body: fb([{ ...datum([1, 2], [2, 3], [1, 1]), loss_fn_inputs: { target_tokens: { data: [2, 3], dtype: 'int64' }, logprobs: { data: [-1, -1], dtype: 'float32' }, advantages: { data: [1, 1], dtype: 'float32' } } }], { loss_fn: 'dro' }), status: 400, message: /beta/ },
  { name: 'forward_backward: fractional seq_id', route: 'forward_backward', body: () => ({ ...fb(tinyBatch())(), seq_id: 1.5 }), status: 400, message: /seq_id/ },
  { name: 'forward_backward: negative seq_id', route: 'forward_backward', body: () => ({ ...fb(tinyBatch())(), seq_id: -3 }), status: 400, message: /seq_id/ },
  { name: 'forward_backward: seq_id beyond 2^53', route: 'forward_backward', body: () => ({ ...fb(tinyBatch())(), seq_id: 2 ** 60 }), status: 400, message: /seq_id/ },
  { name: 'optim_step: negative learning rate', route: 'optim_step', body: () => ({ model_id: modelId, seq_id: nextSeq(), adam_params: { learning_rate: -1 } }), status: 400, message: /learning_rate/ },
  { name: 'optim_step: beta1 = 1', route: 'optim_step', body: () => ({ model_id: modelId, seq_id: nextSeq(), adam_params: { learning_rate: 1e-4, beta1: 1 } }), status: 400, message: /beta1/ },
  { name: 'optim_step: learning rate as a string', route: 'optim_step', body: () => ({ model_id: modelId, seq_id: nextSeq(), adam_params: { learning_rate: 'fast' } }), status: 400, message: /learning_rate/ },
  {
    name: 'optim_step: seq_id reused with another payload',
    route: 'optim_step',
    body: () => ({ model_id: modelId, seq_id: 1, adam_params: { learning_rate: 5e-4 } }),
    message: /seq_id 1|already used/,
  },

  // Checkpoints and paths.
  { name: 'save_weights: path traversal', route: 'save_weights', body: () => ({ model_id: modelId, path: '../../evil', seq_id: nextSeq() }), status: 400, message: /checkpoint name/ },
  { name: 'save_weights: name with a slash', route: 'save_weights', body: () => ({ model_id: modelId, path: 'a/b', seq_id: nextSeq() }), status: 400, message: /checkpoint name/ },
  { name: 'save_weights: hidden name', route: 'save_weights', body: () => ({ model_id: modelId, path: '.hidden', seq_id: nextSeq() }), status: 400, message: /checkpoint name/ },
  { name: 'save_weights: negative ttl', route: 'save_weights', body: () => ({ model_id: modelId, path: 'ok-name', seq_id: nextSeq(), ttl_seconds: -5 }), status: 400, message: /ttl_seconds/ },
  { name: 'save_weights: ttl beyond ten years', route: 'save_weights', body: () => ({ model_id: modelId, path: 'ok-name', seq_id: nextSeq(), ttl_seconds: 10_000_000_000_000 }), status: 400, message: /ttl_seconds.*<= 315360000/ },
  { name: 'load_weights: not a tinker path', route: 'load_weights', body: () => ({ model_id: modelId, path: 's3://bucket/ckpt', optimizer: false }), status: 400, message: /tinker:\/\// },
  { name: 'load_weights: traversal in run id', route: 'load_weights', body: () => ({ model_id: modelId, path: 'tinker://../weights/x', optimizer: false }), status: 400, message: /run id/ },
  { name: 'load_weights: unknown kind', route: 'load_weights', body: () => ({ model_id: modelId, path: 'tinker://run/optimizer/x', optimizer: false }), status: 400, message: /kind|weights/ },
  { name: 'load_weights: missing checkpoint', route: 'load_weights', body: () => ({ model_id: modelId, path: 'tinker://run/weights/x', optimizer: false }), status: 404, message: /not found/ },
  { name: 'weights_info: traversal in name', route: 'weights_info', body: () => ({ tinker_path: 'tinker://run/weights/..' }), status: 400, message: /name/ },
  { name: 'create_sampling_session: bad model_path', route: 'create_sampling_session', body: () => ({ session_id: sessionId, sampling_session_seq_id: 3, model_path: 'file:///etc/passwd' }), status: 400, message: /tinker:\/\// },

  // Sampling.
  { name: 'asample: negative max_tokens', route: 'asample', body: sample({ sampling_params: { max_tokens: -1 } }), status: 400, message: /max_tokens/ },
  { name: 'asample: zero num_samples', route: 'asample', body: sample({ num_samples: 0 }), status: 400, message: /num_samples/ },
  { name: 'asample: huge num_samples', route: 'asample', body: sample({ num_samples: 1_000_000 }), status: 400, message: /num_samples/ },
  { name: 'asample: num_samples × max_tokens over the per-request cap', route: 'asample', body: sample({ num_samples: 1024, sampling_params: { max_tokens: 1024 } }), status: 400, message: /num_samples.*at most 524288/ },
  { name: 'asample: negative temperature', route: 'asample', body: sample({ sampling_params: { max_tokens: 2, temperature: -1 } }), status: 400, message: /temperature/ },
  { name: 'asample: top_p above 1', route: 'asample', body: sample({ sampling_params: { max_tokens: 2, top_p: 1.5 } }), status: 400, message: /top_p/ },
  { name: 'asample: empty prompt', route: 'asample', body: sample({ prompt: text([]) }), status: 400, message: /prompt/ },
  { name: 'asample: no model named', route: 'asample', body: () => ({ num_samples: 1, prompt: text([1]), sampling_params: { max_tokens: 1 } }), status: 400, message: /base_model|model_path|sampling_session/ },
  { name: 'asample: unknown base model', route: 'asample', body: sample({ base_model: 'no/such' }), status: 400, message: /no\/such/ },
  { name: 'asample: prompt token ≥ vocab', route: 'asample', body: sample({ prompt: text([1, VOCAB]) }), message: /vocab/, mayFailLater: true },
  { name: 'asample: too long (prompt + max_tokens > context)', route: 'asample', body: sample({ sampling_params: { max_tokens: 40_000 } }), message: /context|max_tokens/, mayFailLater: true },

  // Futures.
  { name: 'retrieve_future: missing request_id', route: 'retrieve_future', body: () => ({}), status: 400, message: /request_id/ },
  { name: 'retrieve_future: request_id a number', route: 'retrieve_future', body: () => ({ request_id: 7 }), status: 400, message: /request_id/ },
  { name: 'retrieve_future: unknown request', route: 'retrieve_future', body: () => ({ request_id: 'nope' }), status: 404, message: /request nope not found/ },

  // REST.
  { name: 'REST: limit not a number', method: 'GET', route: 'training_runs?limit=abc', status: 400, message: /limit/ },
  { name: 'REST: limit zero', method: 'GET', route: 'checkpoints?limit=0', status: 400, message: /limit/ },
  { name: 'REST: negative offset', method: 'GET', route: 'sessions?offset=-1', status: 400, message: /offset/ },
  { name: 'REST: bad access_scope', method: 'GET', route: 'training_runs?access_scope=everything', status: 400, message: /access_scope/ },
  { name: 'REST: traversal in run id', method: 'DELETE', route: 'training_runs/x%2F..%2F..%2Fetc/checkpoints/weights/x', status: 400, message: /invalid training run id/ },
  { name: 'REST: encoded traversal in checkpoint name', method: 'DELETE', route: `training_runs/run/checkpoints/weights/${encodeURIComponent('../../x')}`, status: 400, message: /name/ },
  { name: 'REST: unknown checkpoint kind', method: 'GET', route: 'training_runs/run/checkpoints/optimizer/x', status: 400, message: /weights\/<name>/ },
  { name: 'REST: ttl negative', method: 'PUT', route: 'training_runs/run/checkpoints/weights/x/ttl', body: () => ({ ttl_seconds: -1 }), status: 400, message: /ttl_seconds/ },
  { name: 'REST: unknown checkpoint action', method: 'POST', route: 'training_runs/run/checkpoints/weights/x/explode', body: () => ({}), status: 404, message: /explode/ },
  { name: 'REST: forged archive token', method: 'GET', route: 'checkpoint_archives/eyJyIjoiYSJ9.AAAA', apiKey: null, status: 404, message: /signature/ },
];

async function send(c: Case): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = { ...c.headers };
  const key = c.apiKey === undefined ? 'tml-bad-input' : c.apiKey;
  if (key !== null) headers['X-API-Key'] = key;
  let body: string | Uint8Array | undefined;
  if (c.raw) body = await c.raw();
  else if (c.body) {
    body = JSON.stringify(c.body());
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(`${url}/api/v1/${c.route}`, { method: c.method ?? 'POST', headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

test(`bad input gets a clear 4xx (or a failed user future), never a retried status (${cases.length} cases)`, async () => {
  assert.ok(cases.length >= 60);
  const failures: string[] = [];
  for (const c of cases) {
    const res = await send(c);
    let message = `${res.json?.error ?? res.text} ${res.json?.field ?? ''}`;
    let status = res.status;
    if (c.mayFailLater && status === 200 && res.json?.request_id) {
      const outcome = await client.retrieveRaw(res.json.request_id);
      if (outcome.json?.category !== 'user') {
        failures.push(`${c.name}: accepted and then ${JSON.stringify(outcome.json).slice(0, 200)} (expected a user failure)`);
        continue;
      }
      message = outcome.json.error;
      status = 400;
    }
    if (c.status !== undefined ? status !== c.status : status < 400 || status > 499 || [408, 409, 429].includes(status)) {
      failures.push(`${c.name}: status ${res.status} (expected ${c.status ?? 'a non-retried 4xx'}): ${res.text.slice(0, 200)}`);
      continue;
    }
    if ([408, 409, 429].includes(status)) failures.push(`${c.name}: ${status} is retried by the SDK`);
    if (!c.message.test(message)) failures.push(`${c.name}: message ${JSON.stringify(message)} does not match ${c.message}`);
  }
  assert.deepEqual(failures, []);
});

test('the server still answers, and a model still trains, after all the bad input', async () => {
  const health = await fetch(`${url}/api/v1/healthz`);
  assert.equal(health.status, 200);
  const fbRes = await client.post('forward_backward', {
    model_id: fresh[2],
    seq_id: 1,
    forward_backward_input: { data: [nextTokenDatum([5, 6, 7, 8])], loss_fn: 'cross_entropy' },
  });
  const out = await client.result(fbRes.request_id);
  assert.ok(Number.isFinite(out.metrics['loss:sum']));
});

test('requests refused with a 4xx do not hold up the requests numbered after them', async () => {
  // The SDK numbers requests when they are made and never resends a refused seq_id.
  const model = fresh[3]!;
  const refused: Array<[string, unknown]> = [
    ['optim_step', { model_id: model, seq_id: 1, adam_params: { learning_rate: 'fast' } }],
    ['save_weights', { model_id: model, seq_id: 2, path: '../evil' }],
    ['forward_backward', { model_id: model, seq_id: 3, forward_backward_input: { data: 'x', loss_fn: 'cross_entropy' } }],
    ['save_weights', { model_id: model, seq_id: 4, path: 'ok', ttl_seconds: -1 }],
  ];
  for (const [route, body] of refused) {
    const res = await client.request('POST', route, body);
    assert.equal(res.status, 400, `${route} ${JSON.stringify(body)}`);
  }
  const fbRes = await client.post('forward_backward', {
    model_id: model,
    seq_id: 5,
    forward_backward_input: { data: [nextTokenDatum([5, 6, 7, 8])], loss_fn: 'cross_entropy' },
  });
  const raw = await client.retrieveRaw(fbRes.request_id, { timeoutMs: 5_000 });
  assert.equal(raw.status, 200);
  assert.ok(Number.isFinite(raw.json.metrics['loss:sum']), JSON.stringify(raw.json));
});
