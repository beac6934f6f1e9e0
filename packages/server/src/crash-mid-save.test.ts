/**
 * Durability across a kill in the middle of a save: the server process is SIGKILLed while a
 * checkpoint is being written (its temporary directory exists), then restarted on the same data
 * dir. Every checkpoint acknowledged before the kill is listed and loads with the loss the model
 * had when it was saved; every listed checkpoint loads; no partial directory is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ForwardBackwardRequest } from '@tinker-ts/protocol';
import { startChildServer } from './e2e-testkit.js';
import { TestClient, tinyBatch } from './testkit.js';

function fb(modelId: string, seq: number, forwardOnly: boolean): ForwardBackwardRequest {
  return {
    forward_backward_input: { data: tinyBatch(), loss_fn: 'cross_entropy', loss_fn_config: null },
    model_id: modelId,
    seq_id: seq,
    forward_only: forwardOnly,
  };
}

const ROUNDS = 16;

test('SIGKILL mid-save: every acknowledged checkpoint survives and loads with the same loss', async (t) => {
  const server = await startChildServer({ settings: { longPollMs: 1000 } });
  try {
    let client = new TestClient(server.url, 'tml-e2e-user');
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId, 0);

    // Each round: train a step, save, then measure the loss of exactly what was saved.
    const rounds: Array<{ name: string; save: string; probe: string }> = [];
    let seq = 1;
    for (let i = 0; i < ROUNDS; i++) {
      await client.forwardBackwardProto(fb(modelId, seq++, false));
      await client.post('optim_step', { model_id: modelId, seq_id: seq++, adam_params: { learning_rate: 1e-2 } });
      const save = (await client.post('save_weights', { model_id: modelId, path: `round-${i}`, seq_id: seq++ })).request_id as string;
      const probe = (await client.forwardBackwardProto(fb(modelId, seq++, true))).json.request_id as string;
      rounds.push({ name: `round-${i}`, save, probe });
    }

    // Results as they come, until the kill.
    let killed = false;
    const saved = new Map<string, string>();
    const losses = new Map<string, number>();
    const collecting = (async () => {
      for (const r of rounds) {
        const s = await client.result(r.save);
        if (killed) return;
        saved.set(r.name, s.path);
        const loss = (await client.forwardBackwardResult(r.probe)).metrics['loss:sum']!;
        if (killed) return;
        losses.set(r.name, loss);
      }
    })().catch(() => {});

    // Kill the moment a save is being written, once two rounds are known.
    const weightsDir = path.join(server.dataDir, 'checkpoints', modelId, 'weights');
    const midSave = () => fs.existsSync(weightsDir) && fs.readdirSync(weightsDir).some((e) => e.startsWith('.tmp-'));
    const deadline = Date.now() + 120_000;
    while (!(losses.size >= 2 && midSave()) && saved.size < ROUNDS && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const caughtMidSave = losses.size >= 2 && midSave();
    killed = true;
    await server.crashAndRestart();
    await collecting;
    if (!caughtMidSave) t.diagnostic('the kill came between saves, not during one');
    assert.ok(losses.size >= 2, 'some checkpoints were acknowledged before the kill');

    client = new TestClient(server.url, 'tml-e2e-user');
    assert.deepEqual(fs.readdirSync(weightsDir).filter((e) => e.startsWith('.')), [], 'no partial directory is left');
    const listed = (await client.request('GET', `training_runs/${encodeURIComponent(modelId)}/checkpoints`)).json.checkpoints as Array<{ tinker_path: string }>;
    const listedPaths = listed.map((c) => c.tinker_path);
    for (const p of saved.values()) assert.ok(listedPaths.includes(p), `acknowledged ${p} is listed`);

    // Every listed checkpoint loads; the acknowledged ones give the loss measured when saved.
    let modelSeq = 1;
    for (const p of listedPaths) {
      const load = await client.post('load_weights', { session_id: sessionId, model_seq_id: modelSeq++, path: p, optimizer: true });
      const loaded = (await client.result(load.request_id)).model_id as string;
      const probe = await client.forwardBackwardProto(fb(loaded, 1, true));
      const loss = (await client.forwardBackwardResult(probe.json.request_id)).metrics['loss:sum']!;
      const name = p.slice(p.lastIndexOf('/') + 1);
      if (losses.has(name)) assert.equal(loss, losses.get(name), `${p} loads with the loss it was saved with`);
    }
  } finally {
    await server.close();
  }
});
