/**
 * The whole training loop over real HTTP against the real engine (tiny stand-in model):
 * create_session → create_model → forward_backward (protobuf) + optim_step lowers the loss →
 * save_weights → a new model created by load_weights (with optimizer) continues identically →
 * save_weights_for_sampler → asample with that path → results retrieved as protobuf.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './server.js';
import { TestClient, TINY_MODEL, tinyBatch } from './testkit.js';

let server: RunningServer;
let dataDir: string;
let client: TestClient;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-loop-'));
  server = await startServer({ dataDir, port: 0 });
  client = new TestClient(server.url);
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const ADAM = { learning_rate: 5e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };

async function trainStep(modelId: string, seq: number): Promise<number> {
  const fb = await client.forwardBackwardProto({
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: false,
  });
  assert.equal(fb.status, 200, Buffer.from(fb.body).toString());
  const opt = await client.post('optim_step', { model_id: modelId, seq_id: seq + 1, adam_params: ADAM });
  const out = await client.forwardBackwardResult(fb.json.request_id);
  const step = await client.result(opt.request_id);
  assert.ok(step.metrics === undefined || step.metrics === null || typeof step.metrics === 'object');
  return out.metrics['loss:sum']!;
}

async function forwardLoss(modelId: string, seq: number): Promise<number> {
  const fb = await client.forwardBackwardProto({
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: true,
  });
  assert.equal(fb.status, 200);
  return (await client.forwardBackwardResult(fb.json.request_id)).metrics['loss:sum']!;
}

test('training lowers the loss, checkpoints resume exactly, and sampler weights sample', async () => {
  const caps = await client.request('GET', 'get_server_capabilities');
  assert.ok(caps.json.supported_models.some((m: any) => m.model_name === TINY_MODEL && m.trainable && m.sampleable));

  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  assert.equal(modelId, `${sessionId}:train:0`);

  const info = await client.post('get_info', { model_id: modelId });
  assert.equal(info.model_data.model_name, TINY_MODEL);
  assert.equal(info.lora_rank, 4);

  let seq = 1;
  const losses: number[] = [];
  for (let i = 0; i < 4; i++) {
    losses.push(await trainStep(modelId, seq));
    seq += 2;
  }
  assert.ok(losses[3]! < losses[0]!, `loss should fall: ${losses.join(', ')}`);

  const save = await client.post('save_weights', { model_id: modelId, path: 'after-4', seq_id: seq++ });
  const saved = await client.result(save.request_id);
  assert.equal(saved.path, `tinker://${modelId}/weights/after-4`);
  const ckptDir = path.join(dataDir, 'checkpoints', modelId, 'weights', 'after-4');
  assert.ok(fs.readdirSync(ckptDir).length > 0, 'checkpoint files on disk');

  const wi = await client.post('weights_info', { tinker_path: saved.path });
  assert.deepEqual(wi, { base_model: TINY_MODEL, is_lora: true, lora_rank: 4, train_unembed: false, train_mlp: true, train_attn: true });

  // Original continues one more step; a model created from the checkpoint with its optimizer
  // state must take the identical step.
  const nextOriginal = await trainStep(modelId, seq);
  seq += 2;
  const lossAfterOriginal = await forwardLoss(modelId, seq++);

  const load = await client.post('load_weights', {
    session_id: sessionId,
    model_seq_id: 1,
    path: saved.path,
    optimizer: true,
    type: 'load_weights',
  });
  const loaded = await client.result(load.request_id);
  assert.equal(loaded.model_id, `${sessionId}:train:1`);
  const resumedId = loaded.model_id as string;
  const nextResumed = await trainStep(resumedId, 1);
  const lossAfterResumed = await forwardLoss(resumedId, 3);
  assert.ok(Math.abs(nextResumed - nextOriginal) <= 1e-4 * Math.abs(nextOriginal), `${nextResumed} vs ${nextOriginal}`);
  assert.ok(
    Math.abs(lossAfterResumed - lossAfterOriginal) <= 1e-4 * Math.abs(lossAfterOriginal),
    `${lossAfterResumed} vs ${lossAfterOriginal}`,
  );

  // Sampler weights: a named checkpoint, sampled by path, results as protobuf.
  const sw = await client.post('save_weights_for_sampler', { model_id: modelId, path: 'sampler-1', seq_id: seq++ });
  const swRes = await client.result(sw.request_id);
  assert.equal(swRes.path, `tinker://${modelId}/sampler_weights/sampler-1`);
  const sample = await client.post('asample', {
    num_samples: 2,
    prompt: { chunks: [{ type: 'encoded_text', tokens: [11, 22, 33] }] },
    sampling_params: { max_tokens: 5, temperature: 0, seed: 7 },
    model_path: swRes.path,
    prompt_logprobs: true,
    topk_prompt_logprobs: 0,
    topk_sample_logprobs: 0,
    prompt_alt_tokens_k: 0,
  });
  assert.equal(sample.sample_sequence_ids.length, 2);
  const sr = await client.sampleResult(sample.request_id);
  assert.equal(sr.sequences.length, 2);
  for (const s of sr.sequences) {
    assert.ok(s.tokens.length >= 1 && s.tokens.length <= 5);
    assert.equal(s.logprobs?.length, s.tokens.length);
  }
  assert.equal(sr.prompt_logprobs?.length, 3);
  // Greedy samples of the same prompt agree.
  assert.deepEqual(sr.sequences[0]!.tokens, sr.sequences[1]!.tokens);

  // Ephemeral sampler: save without a path → sampling session id → sample through it.
  const eph = await client.post('save_weights_for_sampler', { model_id: modelId, seq_id: seq++, sampling_session_seq_id: 5 });
  const ephRes = await client.result(eph.request_id);
  assert.equal(ephRes.sampling_session_id, `${sessionId}:sample:5`);
  const s2 = await client.post('asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: [11, 22, 33] }] },
    sampling_params: { max_tokens: 5, temperature: 0 },
    sampling_session_id: ephRes.sampling_session_id,
    seq_id: 0,
  });
  const sr2 = await client.sampleResult(s2.request_id);
  assert.deepEqual(sr2.sequences[0]!.tokens, sr.sequences[0]!.tokens, 'same weights, same greedy sample');

  // JSON result for clients that do not ask for protobuf.
  const asJson = await client.result(s2.request_id);
  assert.equal(asJson.type, 'sample');
  assert.deepEqual(asJson.sequences[0].tokens, sr.sequences[0]!.tokens);
});

test('asample rejects unsupported newer fields clearly', async () => {
  const res = await client.request('POST', 'asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2] }] },
    sampling_params: { max_tokens: 2 },
    base_model: TINY_MODEL,
    record_stability_info: true,
  });
  assert.equal(res.status, 400);
  assert.match(res.json.error, /record_stability_info is not supported/);
});

test('asample answers topk_sample_logprobs in JSON as [token, logprob] lists per sampled token', async () => {
  const sample = await client.post('asample', {
    prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2] }] },
    sampling_params: { max_tokens: 3, seed: 5 },
    base_model: TINY_MODEL,
    topk_sample_logprobs: 2,
  });
  const res = await client.result(sample.request_id);
  const seq = res.sequences[0];
  assert.equal(seq.topk_logprobs.length, seq.tokens.length);
  for (const list of seq.topk_logprobs) {
    assert.equal(list.length, 2);
    assert.ok(list.every(([token, lp]: [number, number]) => Number.isInteger(token) && lp <= 0));
  }
});

test('a failed request is a failed future with category user', async () => {
  const sessionId = await client.createSession();
  const modelId = await client.createModel(sessionId, 0);
  // Token id far outside the vocabulary: only the engine knows the vocabulary size.
  const fb = await client.forwardBackwardProto({
    forward_backward_input: {
      data: [
        {
          model_input: { chunks: [{ type: 'encoded_text', tokens: [1, 2_000_000_000] }] },
          loss_fn_inputs: {
            target_tokens: { data: [2, 3], dtype: 'int64', shape: [2] },
            weights: { data: [1, 1], dtype: 'float32', shape: [2] },
          },
        },
      ],
      loss_fn: 'cross_entropy',
      loss_fn_config: null,
    },
    model_id: modelId,
    seq_id: 1,
    forward_only: false,
  });
  assert.equal(fb.status, 200);
  const res = await client.retrieveRaw(fb.json.request_id, { protobuf: true });
  assert.equal(res.status, 200);
  assert.equal(res.json.category, 'user');
  assert.match(res.json.error, /vocab|token/i);
});
