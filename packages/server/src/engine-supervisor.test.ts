/**
 * Engine supervision: SIGKILL only the engine process under a running server. What ran or was
 * queued in it fails as the server's fault saying the engine restarted, healthz reports the
 * restart (503 while restarting), a new engine process serves later requests, models whose
 * state can be rebuilt exactly continue where they were, a model trained since its last
 * checkpoint says it lost its state (never training on other weights), and a crash loop ends
 * with the engine reported down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ForwardBackwardRequest } from '@tinker-ts/protocol';
import { TINY_MODEL, TestClient, tinyBatch } from './testkit.js';
import { startServer, type RunningServer } from './server.js';

function fb(modelId: string, seq: number, forwardOnly = false): ForwardBackwardRequest {
  return {
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: forwardOnly,
  };
}

async function logprobs(client: TestClient, modelId: string, seq: number): Promise<number[]> {
  const res = await client.forwardBackwardProto(fb(modelId, seq, true));
  assert.equal(res.status, 200);
  const out = await client.forwardBackwardResult(res.json.request_id);
  return out.loss_fn_outputs.flatMap((o) => [...o['logprobs']!.data]);
}

async function train(client: TestClient, modelId: string, seq: number): Promise<void> {
  await client.forwardBackwardResult((await client.forwardBackwardProto(fb(modelId, seq))).json.request_id);
  await client.result((await client.post('optim_step', { model_id: modelId, seq_id: seq + 1, adam_params: { learning_rate: 1e-2 } })).request_id);
}

async function health(server: RunningServer): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/api/v1/healthz`);
  return { status: res.status, json: await res.json() };
}

async function killEngine(server: RunningServer): Promise<void> {
  const pid = server.engine.pid!;
  process.kill(pid, 'SIGKILL');
  // The supervisor hears of it on this event loop: wait until healthz says the engine cannot serve.
  const deadline = Date.now() + 10_000;
  while ((await health(server)).status === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

async function waitServing(server: RunningServer): Promise<{ status: number; json: any }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const h = await health(server);
    if (h.status === 200 || Date.now() > deadline) return h;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const longSample = {
  base_model: TINY_MODEL,
  num_samples: 8,
  prompt: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
  sampling_params: { max_tokens: 2000, temperature: 1 },
};

test('a killed engine is restarted: in-flight work fails clearly, restorable models go on, others say they lost their state', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-engine-crash-'));
  const lines: string[] = [];
  const server = await startServer({ dataDir, port: 0, settings: { longPollMs: 300 }, engineRestarts: { backoffMs: [50] }, log: (l) => lines.push(l) });
  try {
    const client = new TestClient(server.url);
    const sessionId = await client.createSession();
    assert.deepEqual((await health(server)).json, { status: 'ok' });

    // saved: trained, then checkpointed; fresh: only created; trained: trained since its checkpoint.
    const saved = await client.createModel(sessionId, 0);
    await train(client, saved, 1);
    const checkpoint = await client.result((await client.post('save_weights', { model_id: saved, path: 'before', seq_id: 3 })).request_id);
    const savedWant = await logprobs(client, saved, 4);
    const fresh = await client.createModel(sessionId, 1, 4, 7);
    const freshWant = await logprobs(client, fresh, 1);
    const trained = await client.createModel(sessionId, 2);
    await client.result((await client.post('save_weights', { model_id: trained, path: 'old', seq_id: 1 })).request_id);
    await train(client, trained, 2);

    // In flight when the engine dies: a long sample computing, a forward_backward behind it in
    // the engine, and an optim_step queued behind that on its model.
    const sample = (await client.post('asample', longSample)).request_id as string;
    const running = (await client.forwardBackwardProto(fb(saved, 5))).json.request_id as string;
    const queued = (await client.post('optim_step', { model_id: saved, seq_id: 6, adam_params: { learning_rate: 1e-2 } })).request_id as string;
    await new Promise((r) => setTimeout(r, 100));
    const oldPid = server.engine.pid;
    await killEngine(server);

    for (const id of [sample, running, queued]) {
      const res = await client.retrieveRaw(id, { timeoutMs: 30_000 });
      assert.equal(res.json.category, 'server', `${id}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error, /the engine restarted \(its process was killed by SIGKILL\).*not applied/);
    }
    const h = await waitServing(server);
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'degraded');
    assert.equal(h.json.engine.restarts, 1);
    assert.equal(h.json.engine.lastExit.exit, 'was killed by SIGKILL');
    assert.notEqual(server.engine.pid, oldPid);
    // The crash is logged with the engine's last stderr lines (its stand-in notice, here).
    assert.ok(lines.some((l) => /^engine process was killed by SIGKILL \(exit code null, signal SIGKILL\); its last stderr lines:\n.*\[tinker-ts engine\]/s.test(l)), lines.join('\n'));
    assert.ok(h.json.engine.lastExit.lastStderr.some((l: string) => l.includes('[tinker-ts engine]')));
    assert.ok(lines.some((l) => /engine restarted \(pid \d+\): 2 model\(s\) restored, 1 lost/.test(l)), lines.join('\n'));

    // Rebuilt exactly: the checkpointed model and the fresh one answer as before, and train on.
    assert.deepEqual(await logprobs(client, saved, 7), savedWant);
    await train(client, saved, 8);
    assert.deepEqual(await logprobs(client, fresh, 2), freshWant);

    // Trained since its checkpoint: it says so, and names the checkpoint to go on from.
    const next = await client.forwardBackwardProto(fb(trained, 4));
    const lost = await client.retrieveRaw(next.json.request_id);
    assert.equal(lost.json.category, 'user');
    assert.match(lost.json.error, /lost its in-memory training state \(the engine restarted at .* trained since its last checkpoint\)/);
    assert.ok(lost.json.error.includes(`tinker://${trained}/weights/old`), lost.json.error);

    // New work is served.
    const other = await client.createModel(sessionId, 3);
    await train(client, other, 1);
    const out = await client.sampleResult((await client.post('asample', { ...longSample, num_samples: 1, sampling_params: { max_tokens: 3 } })).request_id);
    assert.equal(out.sequences.length, 1);
    assert.ok(checkpoint.path);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an engine that keeps crashing is given up on: healthz says down with a 503 and calls fail at once', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-engine-loop-'));
  const server = await startServer({ dataDir, port: 0, settings: { longPollMs: 300 }, engineRestarts: { backoffMs: [50], crashLimit: 2 }, log: () => {} });
  try {
    const client = new TestClient(server.url);
    const sessionId = await client.createSession();
    await killEngine(server);
    assert.equal((await waitServing(server)).json.status, 'degraded');
    await killEngine(server);
    const h = await health(server);
    assert.equal(h.status, 503);
    assert.equal(h.json.status, 'down');
    assert.equal(h.json.engine.recentCrashes, 2);

    const create = await client.post('create_model', {
      session_id: sessionId,
      model_seq_id: 0,
      base_model: TINY_MODEL,
      lora_config: { rank: 4 },
      type: 'create_model',
    });
    const res = await client.retrieveRaw(create.request_id, { timeoutMs: 10_000 });
    assert.equal(res.json.category, 'server');
    assert.match(res.json.error, /the engine is down: it crashed 2 times/);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
