/**
 * Checkpoint visibility: another user cannot see a private checkpoint (404, as if missing),
 * but a published one is readable by anyone: weights_info, a new model loaded from it, and
 * copy_weights into the reader's own run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './server.js';
import { TestClient } from './testkit.js';
import { parseCheckpointPath } from './tinker-paths.js';

test('published checkpoints are readable by anyone, private ones by their owner only', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-public-'));
  const server = await startServer({ dataDir, port: 0 });
  try {
    const alice = new TestClient(server.url, 'tml-alice');
    const bob = new TestClient(server.url, 'tml-bob');
    const aliceSession = await alice.createSession();
    const modelId = await alice.createModel(aliceSession, 0);
    const saved = await alice.result((await alice.post('save_weights', { model_id: modelId, path: 'shared', seq_id: 1 })).request_id);

    const bobSession = await bob.createSession();
    assert.equal((await bob.request('POST', 'weights_info', { tinker_path: saved.path })).status, 404);
    const denied = await bob.request('POST', 'load_weights', { session_id: bobSession, model_seq_id: 0, path: saved.path, optimizer: false });
    assert.equal(denied.status, 404);

    const a = parseCheckpointPath(saved.path, 'path');
    server.ctx.store.checkpoints.setPublic(a.runId, a.kind, a.name, true);

    assert.equal((await bob.post('weights_info', { tinker_path: saved.path })).lora_rank, 4);
    const load = await bob.post('load_weights', { session_id: bobSession, model_seq_id: 0, path: saved.path, optimizer: false });
    const loaded = await bob.result(load.request_id);
    assert.equal(loaded.model_id, `${bobSession}:train:0`);
    assert.equal(server.ctx.store.models.get(loaded.model_id)!.owner, server.ctx.store.sessions.get(bobSession)!.owner);

    const copy = await bob.post('copy_weights', { session_id: bobSession, model_seq_id: 1, source_path: saved.path });
    assert.equal(copy.tinker_path, `tinker://${bobSession}:train:1/weights/shared`);
    // The copy is Bob's own (private) checkpoint and loads like any other.
    assert.equal((await alice.request('POST', 'weights_info', { tinker_path: copy.tinker_path })).status, 404);
    const fromCopy = await bob.post('load_weights', { session_id: bobSession, model_seq_id: 2, path: copy.tinker_path, optimizer: true });
    await bob.result(fromCopy.request_id);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('unpublishing revokes sampling through a session opened while the weights were published', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-unpublish-'));
  const server = await startServer({ dataDir, port: 0 });
  try {
    const alice = new TestClient(server.url, 'tml-alice');
    const bob = new TestClient(server.url, 'tml-bob');
    const aliceSession = await alice.createSession();
    const modelId = await alice.createModel(aliceSession, 0);
    const saved = await alice.result((await alice.post('save_weights_for_sampler', { model_id: modelId, path: 'shared-sampler', seq_id: 1 })).request_id);
    const route = `training_runs/${encodeURIComponent(modelId)}/checkpoints/sampler_weights/shared-sampler/publish`;
    assert.equal((await alice.request('POST', route, {})).status, 200);

    const bobSession = await bob.createSession();
    const { sampling_session_id: sampler } = await bob.post('create_sampling_session', { session_id: bobSession, sampling_session_seq_id: 0, model_path: saved.path });
    const asample = (seq: number) =>
      bob.request('POST', 'asample', { sampling_session_id: sampler, seq_id: seq, num_samples: 1, prompt: { chunks: [{ tokens: [1, 2, 3] }] }, sampling_params: { max_tokens: 2 } });
    const allowed = await asample(1);
    assert.equal(allowed.status, 200);
    await bob.result(allowed.json.request_id);

    assert.equal((await alice.request('DELETE', route)).status, 200);
    const revoked = await asample(2);
    assert.equal(revoked.status, 404, JSON.stringify(revoked.json));
    assert.match(revoked.json.error, /no longer readable/);
    // The owner still samples her own weights through a session of hers.
    const { sampling_session_id: own } = await alice.post('create_sampling_session', { session_id: aliceSession, sampling_session_seq_id: 0, model_path: saved.path });
    const mine = await alice.request('POST', 'asample', { sampling_session_id: own, seq_id: 1, num_samples: 1, prompt: { chunks: [{ tokens: [1, 2, 3] }] }, sampling_params: { max_tokens: 2 } });
    assert.equal(mine.status, 200);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
