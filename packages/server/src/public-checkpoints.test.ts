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
    server.ctx.store.setCheckpointPublic(a.runId, a.kind, a.name, true);

    assert.equal((await bob.post('weights_info', { tinker_path: saved.path })).lora_rank, 4);
    const load = await bob.post('load_weights', { session_id: bobSession, model_seq_id: 0, path: saved.path, optimizer: false });
    const loaded = await bob.result(load.request_id);
    assert.equal(loaded.model_id, `${bobSession}:train:0`);
    assert.equal(server.ctx.store.getModel(loaded.model_id)!.owner, server.ctx.store.getSession(bobSession)!.owner);

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
