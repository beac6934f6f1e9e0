/**
 * Per-model ordering and idempotency over real HTTP: a request runs only after every lower
 * seq_id of its model; a gap holds back only its own model; a resubmission returns the
 * original future; a different payload under a used seq_id is refused; futures are private.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ForwardBackwardRequest } from '@tinker-ts/protocol';
import { startServer, type RunningServer } from './server.js';
import { TestClient, tinyBatch } from './testkit.js';

let server: RunningServer;
let dataDir: string;
let client: TestClient;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-seq-'));
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 300 } });
  client = new TestClient(server.url);
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const ADAM = { learning_rate: 1e-2 };

function fbBody(modelId: string, seq: number, forwardOnly = false): ForwardBackwardRequest {
  return {
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: forwardOnly,
  };
}

test('seq 2 sent before seq 1 waits for it, then both run in order', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0, 4, 5);
  const twinId = await client.createModel(sessionId, 1, 4, 5);

  const optim = await client.post('optim_step', { model_id: modelId, seq_id: 2, adam_params: ADAM });
  assert.equal(optim.request_id, `${modelId}:2`);
  const waiting = await client.request('POST', 'retrieve_future', { request_id: optim.request_id });
  assert.equal(waiting.status, 200);
  assert.equal(waiting.json.type, 'try_again');
  assert.equal(waiting.json.queue_state, 'active');
  assert.match(waiting.json.queue_state_reason, /waiting for seq_id 1/);

  // Another model is not held up by this model's gap.
  const twinForward = await client.forwardBackwardProto(fbBody(twinId, 1, true));
  const twinLoss = (await client.forwardBackwardResult(twinForward.json.request_id)).metrics['loss:sum']!;

  const fb = await client.forwardBackwardProto(fbBody(modelId, 1));
  assert.equal(fb.json.request_id, `${modelId}:1`);
  const fbOut = await client.forwardBackwardResult(fb.json.request_id);
  await client.result(optim.request_id);
  // forward_backward saw the weights before the optimizer step: same loss as the untouched twin.
  assert.ok(Math.abs(fbOut.metrics['loss:sum']! - twinLoss) < 1e-5 * Math.abs(twinLoss));

  const after = await client.forwardBackwardProto(fbBody(modelId, 3, true));
  const afterLoss = (await client.forwardBackwardResult(after.json.request_id)).metrics['loss:sum']!;
  assert.ok(afterLoss < twinLoss, `the step was applied: ${afterLoss} < ${twinLoss}`);
});

test('a resubmitted request returns the original future; a different payload is refused', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const first = await client.forwardBackwardProto(fbBody(modelId, 1));
  const again = await client.forwardBackwardProto(fbBody(modelId, 1));
  assert.equal(again.status, 200);
  assert.equal(again.json.request_id, first.json.request_id);
  await client.forwardBackwardResult(first.json.request_id);

  // Same seq_id after completion, same payload: still the original (completed) future.
  const late = await client.forwardBackwardProto(fbBody(modelId, 1));
  assert.equal(late.json.request_id, first.json.request_id);

  const other = await client.request('POST', 'optim_step', { model_id: modelId, seq_id: 1, adam_params: ADAM });
  assert.equal(other.status, 400);
  assert.match(other.json.error, /seq_id 1 .* already used by a different request/);

  // Creating the same model again is idempotent too.
  const create = {
    session_id: sessionId,
    model_seq_id: 0,
    base_model: 'tinker-ts/tiny-qwen3',
    lora_config: { rank: 4, seed: 1, train_mlp: true, train_attn: true, train_unembed: false },
    type: 'create_model',
  };
  const recreate = await client.post('create_model', create);
  assert.equal(recreate.model_id, modelId);
  const clash = await client.request('POST', 'create_model', { ...create, lora_config: { rank: 8 } });
  assert.equal(clash.status, 400);
});

test('futures and models of another user are not found', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const fb = await client.forwardBackwardProto(fbBody(modelId, 1, true));
  const stranger = new TestClient(server.url, 'tml-someone-else');
  const peek = await stranger.request('POST', 'retrieve_future', { request_id: fb.json.request_id });
  assert.equal(peek.status, 404);
  const info = await stranger.request('POST', 'get_info', { model_id: modelId });
  assert.equal(info.status, 404);
  const unknown = await client.request('POST', 'retrieve_future', { request_id: 'no-such-request' });
  assert.equal(unknown.status, 404);
  await client.forwardBackwardResult(fb.json.request_id);
});

test('load_weights is only accepted as a model\'s first request', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const save = await client.post('save_weights', { model_id: modelId, path: 'first', seq_id: 1 });
  const saved = await client.result(save.request_id);
  const late = await client.request('POST', 'load_weights', { model_id: modelId, seq_id: 2, path: saved.path, optimizer: false });
  assert.equal(late.status, 400);
  assert.match(late.json.error, /only allowed as a model's first request/);

  const fresh = await client.createModel(sessionId, 1);
  const load = await client.post('load_weights', { model_id: fresh, seq_id: 1, path: saved.path, optimizer: true });
  const loaded = await client.result(load.request_id);
  assert.equal(loaded.path, saved.path);
});

test('a request refused at submission does not leave a gap that blocks later ones', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  const bad = fbBody(modelId, 1);
  bad.forward_backward_input.data[0]!.loss_fn_inputs.weights = { data: [1, 1], dtype: 'float32', shape: [2] };
  const refused = await client.forwardBackwardProto(bad);
  assert.equal(refused.status, 400);
  assert.match(refused.json.error, /weights/);
  assert.match(refused.json.field, /^forward_backward_input\.data\[0\]\.loss_fn_inputs\.weights/);
  const optim = await client.post('optim_step', { model_id: modelId, seq_id: 2, adam_params: ADAM });
  await client.result(optim.request_id);
});
