/**
 * The optimizer chosen at create_model (optimizer_config), over real HTTP: optim_step with the
 * other family's parameters gets a 400 naming the model's optimizer; the kind is kept in the
 * store (weights_info reports it, copy_weights and full-state loads carry it, a load of the
 * other family's optimizer state is refused) and survives an engine restart and a server restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ForwardBackwardRequest } from '@tinker-ts/protocol';
import { TINY_MODEL, TestClient, tinyBatch } from './testkit.js';
import { startServer, type RunningServer } from './server.js';

const LORA = { rank: 4, seed: 1, train_mlp: true, train_attn: true, train_unembed: false };
const DIMUON = { type: 'dimuon', version: 1 };

function fb(modelId: string, seq: number, forwardOnly = false): ForwardBackwardRequest {
  return { forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null }, model_id: modelId, seq_id: seq, forward_only: forwardOnly };
}

async function createModel(client: TestClient, sessionId: string, seq: number, optimizerConfig?: unknown): Promise<string> {
  const body: Record<string, unknown> = { session_id: sessionId, model_seq_id: seq, base_model: TINY_MODEL, lora_config: LORA, type: 'create_model' };
  if (optimizerConfig !== undefined) body.optimizer_config = optimizerConfig;
  return (await client.result((await client.post('create_model', body)).request_id)).model_id as string;
}

async function loss(client: TestClient, modelId: string, seq: number, forwardOnly = false): Promise<number> {
  const res = await client.forwardBackwardProto(fb(modelId, seq, forwardOnly));
  assert.equal(res.status, 200, Buffer.from(res.body).toString());
  return (await client.forwardBackwardResult(res.json.request_id)).metrics['loss:sum']!;
}

async function health(server: RunningServer): Promise<number> {
  return (await fetch(`${server.url}/api/v1/healthz`)).status;
}

test('optimizer_config at create_model: wrong-kind optim_step → 400, kind kept across loads, copies and restarts', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-optimizer-'));
  let server = await startServer({ dataDir, port: 0, settings: { longPollMs: 300 }, engineRestarts: { backoffMs: [50] }, log: () => {} });
  try {
    let client = new TestClient(server.url);
    const sessionId = await client.createSession();
    const dimuon = await createModel(client, sessionId, 0, DIMUON);
    const adam = await createModel(client, sessionId, 1); // an SDK before 0.38: no optimizer_config
    const explicitAdam = await createModel(client, sessionId, 2, { type: 'adamw' });

    // Bad configs are refused at create_model.
    for (const [config, field] of [[{ type: 'sgd' }, 'optimizer_config.type'], [{ type: 'dimuon', version: 2 }, 'optimizer_config.version']] as const) {
      const res = await client.request('POST', 'create_model', { session_id: sessionId, model_seq_id: 9, base_model: TINY_MODEL, optimizer_config: config });
      assert.equal(res.status, 400);
      assert.equal(res.json.field, field, JSON.stringify(res.json));
    }

    // Dimuon trains with optimizer_params (the 0.38 SDK's field) and lowers the loss.
    const first = await loss(client, dimuon, 1);
    const step = await client.post('optim_step', { model_id: dimuon, seq_id: 2, optimizer_params: { type: 'dimuon', learning_rate: 0.02 } });
    const metrics = (await client.result(step.request_id)).metrics;
    assert.equal(metrics['step:max'], 1);
    let seq = 3;
    for (let i = 0; i < 4; i++) {
      await loss(client, dimuon, seq++);
      await client.result((await client.post('optim_step', { model_id: dimuon, seq_id: seq++, optim_params: { type: 'dimuon', learning_rate: 0.02 } })).request_id);
    }
    const after = await loss(client, dimuon, seq++, true);
    assert.ok(after < first, `loss ${first} -> ${after}`);

    // The other family's parameters: a 400 saying which optimizer the model was created with.
    const wrong = await client.request('POST', 'optim_step', { model_id: dimuon, seq_id: seq++, adam_params: { learning_rate: 1e-4 } });
    assert.equal(wrong.status, 400);
    assert.match(wrong.json.error, new RegExp(`model ${dimuon} was created with the Dimuon optimizer`));
    assert.equal(wrong.json.field, 'adam_params');
    for (const id of [adam, explicitAdam]) {
      const res = await client.request('POST', 'optim_step', { model_id: id, seq_id: 1, optimizer_params: { type: 'dimuon', learning_rate: 0.02 } });
      assert.equal(res.status, 400);
      assert.match(res.json.error, /was created with the AdamW optimizer .* takes AdamParams \(adam_params\)/);
    }
    // Malformed parameter sets: none, two, or an unknown family.
    const malformed: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /needs its parameters: adam_params \(AdamW\) or optimizer_params/],
      [{ adam_params: {}, optimizer_params: { type: 'dimuon', learning_rate: 0.01 } }, /one set of parameters, got adam_params and optimizer_params/],
      [{ optimizer_params: { type: 'lion', learning_rate: 0.01 } }, /"dimuon"/],
      [{ optimizer_params: { type: 'dimuon' } }, /learning_rate.*required|required.*learning rate/],
      [{ optimizer_params: { type: 'dimuon', learning_rate: 0.01, damping: 0 } }, /must be > 0/],
    ];
    for (const [params, message] of malformed) {
      const res = await client.request('POST', 'optim_step', { model_id: dimuon, seq_id: seq++, ...params });
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.match(res.json.error, message, JSON.stringify(res.json));
    }

    // 0.25's body still works on AdamW models (a refused request's seq_id is skipped, not waited for).
    await client.result((await client.post('optim_step', { model_id: adam, seq_id: 2, adam_params: { learning_rate: 1e-3 } })).request_id);

    // weights_info reports the optimizer; copies keep it.
    const saved = (await client.result((await client.post('save_weights', { model_id: dimuon, path: 'd', seq_id: seq++ })).request_id)).path as string;
    assert.deepEqual((await client.post('weights_info', { tinker_path: saved })).optimizer_config, DIMUON);
    const adamSaved = (await client.result((await client.post('save_weights', { model_id: adam, path: 'a', seq_id: 3 })).request_id)).path as string;
    assert.equal((await client.post('weights_info', { tinker_path: adamSaved })).optimizer_config, undefined, 'absent means AdamW');
    const copy = (await client.post('copy_weights', { session_id: sessionId, model_seq_id: 3, source_path: saved })).tinker_path as string;
    assert.deepEqual((await client.post('weights_info', { tinker_path: copy })).optimizer_config, DIMUON);

    // Full-state loads keep the kind: into an AdamW model refused; create-via-load takes the checkpoint's.
    const adamTarget = await createModel(client, sessionId, 8);
    const refused = await client.request('POST', 'load_weights', { model_id: adamTarget, seq_id: 1, path: saved, optimizer: true });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error, /holds Dimuon optimizer state, but model .* was created with the AdamW optimizer/);
    const dimuonTarget = await createModel(client, sessionId, 9, DIMUON);
    const reverse = await client.request('POST', 'load_weights', { model_id: dimuonTarget, seq_id: 1, path: adamSaved, optimizer: true });
    assert.equal(reverse.status, 400);
    assert.match(reverse.json.error, /holds AdamW optimizer state, but model .* was created with the Dimuon optimizer/);
    await client.result((await client.post('load_weights', { model_id: await createModel(client, sessionId, 10), seq_id: 1, path: saved, optimizer: false })).request_id);
    const resumed = (await client.result((await client.post('load_weights', { session_id: sessionId, model_seq_id: 4, path: copy, optimizer: true })).request_id)).model_id as string;
    await client.result((await client.post('optim_step', { model_id: resumed, seq_id: 1, optimizer_params: { type: 'dimuon', learning_rate: 0.02 } })).request_id);
    const conflicting = await client.request('POST', 'load_weights', { session_id: sessionId, model_seq_id: 5, path: saved, optimizer: true, optimizer_config: { type: 'adamw' } });
    assert.equal(conflicting.status, 400);
    assert.equal(conflicting.json.field, 'optimizer_config');
    const weightsOnly = (await client.result((await client.post('load_weights', { session_id: sessionId, model_seq_id: 6, path: saved, optimizer: false })).request_id)).model_id as string;
    assert.equal((await client.request('POST', 'optim_step', { model_id: weightsOnly, seq_id: 1, optimizer_params: { type: 'dimuon', learning_rate: 0.02 } })).status, 400,
      'a weights-only load makes an AdamW model unless optimizer_config says otherwise');

    // An engine restart rebuilds the just-saved Dimuon model as a Dimuon adapter.
    const restoredModel = await createModel(client, sessionId, 7, DIMUON);
    process.kill(server.engine.pid!, 'SIGKILL');
    const deadline = Date.now() + 60_000;
    while ((await health(server)) === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    while ((await health(server)) !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await loss(client, restoredModel, 1);
    await client.result((await client.post('optim_step', { model_id: restoredModel, seq_id: 2, optimizer_params: { type: 'dimuon', learning_rate: 0.02 } })).request_id);

    // A server restart keeps the kind in the store.
    await server.close();
    server = await startServer({ dataDir, port: 0, settings: { longPollMs: 300 }, log: () => {} });
    client = new TestClient(server.url);
    assert.deepEqual((await client.post('weights_info', { tinker_path: saved })).optimizer_config, DIMUON);
    const session2 = await client.createSession();
    const again = (await client.result((await client.post('load_weights', { session_id: session2, model_seq_id: 0, path: saved, optimizer: true })).request_id)).model_id as string;
    const afterRestart = await client.request('POST', 'optim_step', { model_id: again, seq_id: 1, adam_params: { learning_rate: 1e-4 } });
    assert.equal(afterRestart.status, 400);
    assert.match(afterRestart.json.error, /created with the Dimuon optimizer/);
    await client.result((await client.post('optim_step', { model_id: again, seq_id: 2, optimizer_params: { type: 'dimuon', learning_rate: 0.02 } })).request_id);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
