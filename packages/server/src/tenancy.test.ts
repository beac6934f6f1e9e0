/**
 * Tenancy: every route that takes an id answers 404 — exactly like a missing id — when called
 * with another user's key, for models, futures, sessions, checkpoints, samplers and archives;
 * and none of those calls changes the owner's objects.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { encodeForwardBackwardRequest } from '@tinker-ts/protocol';
import { TestClient, TINY_MODEL, tinyBatch } from './testkit.js';
import { checkpointRoute, createUserObjects, startRestFixture, type RestFixture, type UserObjects } from './routes/rest-testkit.js';

let fx: RestFixture;
let alice: UserObjects;
let mallory: TestClient;
let mallorySession: string;
let malloryModel: string;

before(async () => {
  fx = await startRestFixture('tinker-tenancy-');
  alice = await createUserObjects(fx.server.url, 'tml-alice');
  mallory = new TestClient(fx.server.url, 'tml-mallory');
  mallorySession = await mallory.createSession();
  malloryModel = await mallory.createModel(mallorySession, 0, 2, 1);
});

after(async () => {
  await fx.close();
});

const ADAM = { learning_rate: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  route: () => string;
  body?: () => unknown;
  raw?: () => { bytes: Uint8Array; contentType: string };
}

const enc = encodeURIComponent;

const cases: Case[] = [
  // Models
  { name: 'get_info', method: 'POST', route: () => 'get_info', body: () => ({ model_id: alice.modelId }) },
  { name: 'unload_model', method: 'POST', route: () => 'unload_model', body: () => ({ model_id: alice.modelId, type: 'unload_model' }) },
  {
    name: 'forward_backward (JSON)',
    method: 'POST',
    route: () => 'forward_backward',
    body: () => ({ model_id: alice.modelId, seq_id: 3, forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy' } }),
  },
  {
    name: 'forward_backward (protobuf)',
    method: 'POST',
    route: () => 'forward_backward',
    raw: () => ({
      bytes: encodeForwardBackwardRequest({
        forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
        model_id: alice.modelId,
        seq_id: 3,
        forward_only: false,
      }),
      contentType: 'application/x-protobuf',
    }),
  },
  {
    name: 'forward',
    method: 'POST',
    route: () => 'forward',
    body: () => ({ model_id: alice.modelId, seq_id: 3, forward_input: { data: tinyBatch(), loss_fn: 'cross_entropy' } }),
  },
  { name: 'optim_step', method: 'POST', route: () => 'optim_step', body: () => ({ model_id: alice.modelId, seq_id: 3, adam_params: ADAM }) },
  { name: 'save_weights', method: 'POST', route: () => 'save_weights', body: () => ({ model_id: alice.modelId, path: 'stolen', seq_id: 3 }) },
  {
    name: 'save_weights_for_sampler',
    method: 'POST',
    route: () => 'save_weights_for_sampler',
    body: () => ({ model_id: alice.modelId, path: 'stolen', seq_id: 3 }),
  },
  {
    name: 'load_weights into her model',
    method: 'POST',
    route: () => 'load_weights',
    body: () => ({ model_id: alice.modelId, path: alice.weightsPath, seq_id: 1, optimizer: false }),
  },
  {
    name: 'load_weights of her checkpoint into own model',
    method: 'POST',
    route: () => 'load_weights',
    body: () => ({ model_id: malloryModel, path: alice.weightsPath, seq_id: 1, optimizer: false }),
  },
  {
    name: 'load_weights creating a model from her checkpoint',
    method: 'POST',
    route: () => 'load_weights',
    body: () => ({ session_id: mallorySession, model_seq_id: 9, base_model: TINY_MODEL, path: alice.weightsPath, optimizer: true }),
  },
  { name: 'weights_info', method: 'POST', route: () => 'weights_info', body: () => ({ tinker_path: alice.weightsPath }) },
  {
    name: 'copy_weights',
    method: 'POST',
    route: () => 'copy_weights',
    body: () => ({ session_id: mallorySession, model_seq_id: 8, source_path: alice.weightsPath }),
  },
  // Futures
  { name: 'retrieve_future', method: 'POST', route: () => 'retrieve_future', body: () => ({ request_id: alice.futureId }) },
  { name: 'cancel_future', method: 'POST', route: () => 'cancel_future', body: () => ({ request_id: alice.futureId }) },
  // Sessions
  { name: 'session_heartbeat', method: 'POST', route: () => 'session_heartbeat', body: () => ({ session_id: alice.sessionId }) },
  {
    name: 'create_model in her session',
    method: 'POST',
    route: () => 'create_model',
    body: () => ({ session_id: alice.sessionId, model_seq_id: 7, base_model: TINY_MODEL, lora_config: { rank: 2 } }),
  },
  {
    name: 'create_sampling_session in her session',
    method: 'POST',
    route: () => 'create_sampling_session',
    body: () => ({ session_id: alice.sessionId, sampling_session_seq_id: 5, base_model: TINY_MODEL }),
  },
  {
    name: 'create_sampling_session from her sampler checkpoint',
    method: 'POST',
    route: () => 'create_sampling_session',
    body: () => ({ session_id: mallorySession, sampling_session_seq_id: 5, model_path: alice.samplerPath }),
  },
  { name: 'finish session', method: 'POST', route: () => `sessions/${alice.sessionId}/finish`, body: () => ({}) },
  { name: 'GET session', method: 'GET', route: () => `sessions/${alice.sessionId}` },
  { name: 'PUT session project', method: 'PUT', route: () => `sessions/${alice.sessionId}/project`, body: () => ({ project_id: 'p' }) },
  { name: 'session trace_export', method: 'GET', route: () => `sessions/${alice.sessionId}/trace_export` },
  // Samplers
  { name: 'GET sampler', method: 'GET', route: () => `samplers/${enc(alice.samplerId)}` },
  {
    name: 'asample on her sampling session',
    method: 'POST',
    route: () => 'asample',
    body: () => ({
      sampling_session_id: alice.samplerId,
      seq_id: 0,
      num_samples: 1,
      prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
      sampling_params: { max_tokens: 2 },
    }),
  },
  {
    name: 'asample from her sampler checkpoint',
    method: 'POST',
    route: () => 'asample',
    body: () => ({
      model_path: alice.samplerPath,
      num_samples: 1,
      prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
      sampling_params: { max_tokens: 2 },
    }),
  },
  // Training runs and checkpoints (REST)
  { name: 'GET training run', method: 'GET', route: () => `training_runs/${enc(alice.modelId)}` },
  { name: 'GET training run (accessible)', method: 'GET', route: () => `training_runs/${enc(alice.modelId)}?access_scope=accessible` },
  { name: 'list run checkpoints', method: 'GET', route: () => `training_runs/${enc(alice.modelId)}/checkpoints` },
  { name: 'list run checkpoints (legacy route)', method: 'GET', route: () => `models/${enc(alice.modelId)}/checkpoints` },
  { name: 'GET checkpoint', method: 'GET', route: () => checkpointRoute(alice.weightsPath) },
  { name: 'DELETE checkpoint', method: 'DELETE', route: () => checkpointRoute(alice.weightsPath) },
  { name: 'DELETE checkpoint (encoded id)', method: 'DELETE', route: () => `training_runs/${enc(alice.modelId)}/checkpoints/weights%2Fw1` },
  { name: 'publish', method: 'POST', route: () => `${checkpointRoute(alice.samplerPath)}/publish` },
  { name: 'unpublish', method: 'DELETE', route: () => `${checkpointRoute(alice.samplerPath)}/publish` },
  { name: 'ttl', method: 'PUT', route: () => `${checkpointRoute(alice.samplerPath)}/ttl`, body: () => ({ ttl_seconds: 1 }) },
  { name: 'archive link', method: 'GET', route: () => `${checkpointRoute(alice.weightsPath)}/archive` },
];

test('every id-taking route answers 404 to another user, naming nothing of the owner', async () => {
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    const res = c.raw
      ? await mallory.request(c.method, c.route(), undefined, { raw: c.raw().bytes, headers: { 'Content-Type': c.raw().contentType } })
      : await mallory.request(c.method, c.route(), c.body?.(), { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 404, `${c.name}: expected 404, got ${res.status} ${Buffer.from(res.body).toString()}`);
    assert.equal(typeof res.json?.error, 'string', c.name);
    assert.ok(!/^no route/.test(res.json.error), `${c.name}: the route itself must exist (${res.json.error})`);
    assert.ok(!res.json.error.includes('tml-alice'), `${c.name} leaks the key`);
  }
});

test('the owner still has everything, unchanged, after the attempts', async () => {
  const info = await alice.client.request('POST', 'get_info', { model_id: alice.modelId });
  assert.equal(info.status, 200, 'model not unloaded');
  const ckpts = await alice.client.request('GET', `training_runs/${enc(alice.modelId)}/checkpoints`);
  const byPath = new Map(ckpts.json.checkpoints.map((c: any) => [c.tinker_path, c]));
  assert.ok(byPath.has(alice.weightsPath), 'checkpoint not deleted');
  const sampler: any = byPath.get(alice.samplerPath);
  assert.equal(sampler.public, false, 'not published by another user');
  assert.equal(sampler.expires_at, null, 'no TTL set by another user');
  assert.equal(ckpts.json.checkpoints.some((c: any) => c.checkpoint_id.includes('stolen')), false);
  const session = await alice.client.request('GET', `sessions/${alice.sessionId}`);
  assert.deepEqual(session.json.training_run_ids, [alice.modelId], 'no model created in her session');
  const fut = await alice.client.request('POST', 'retrieve_future', { request_id: alice.futureId });
  assert.equal(fut.status, 200);
  assert.equal(fut.json.path, alice.weightsPath, 'future not cancelled');
  // Listings never show another user's objects.
  const runs = await mallory.request('GET', 'training_runs');
  assert.deepEqual(runs.json.training_runs.map((r: any) => r.training_run_id), [malloryModel]);
  const sessions = await mallory.request('GET', 'sessions');
  assert.deepEqual(sessions.json.sessions, [mallorySession]);
  assert.equal((await mallory.request('GET', 'checkpoints')).json.cursor.total_count, 0);
});

test('a download link stops working when its checkpoint is unpublished', async () => {
  const route = checkpointRoute(alice.samplerPath);
  assert.equal((await alice.client.request('POST', `${route}/publish`)).status, 200);
  const link = await mallory.request('GET', `${route}/archive`, undefined, { headers: { Accept: 'application/json' } });
  assert.equal(link.status, 200);
  assert.equal((await fetch(link.json.url)).status, 200);
  assert.equal((await alice.client.request('DELETE', `${route}/publish`)).status, 200);
  const after = await fetch(link.json.url);
  assert.equal(after.status, 404);
  await after.arrayBuffer();
});
