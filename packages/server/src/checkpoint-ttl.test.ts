/**
 * Checkpoint TTL: ttl_seconds becomes expires_at; once it passes the checkpoint is no longer
 * loadable, and the sweeper deletes its record and its files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './server.js';
import { TestClient } from './testkit.js';

test('an expired checkpoint is unreadable and its files are swept', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-server-ttl-'));
  const server = await startServer({ dataDir, port: 0, sweepIntervalMs: 100 });
  try {
    const client = new TestClient(server.url);
    const sessionId = await client.createSession();
    const modelId = await client.createModel(sessionId, 0);
    const shortLived = await client.result((await client.post('save_weights', { model_id: modelId, path: 'short-lived', seq_id: 1, ttl_seconds: 1 })).request_id);
    const kept = await client.result((await client.post('save_weights', { model_id: modelId, path: 'kept', seq_id: 2 })).request_id);
    const dir = path.join(dataDir, 'checkpoints', modelId, 'weights', 'short-lived');
    assert.ok(fs.existsSync(dir));
    assert.equal((await client.request('POST', 'weights_info', { tinker_path: shortLived.path })).status, 200);

    const deadline = Date.now() + 15_000;
    while (fs.existsSync(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(fs.existsSync(dir), false, 'expired checkpoint files deleted');
    assert.equal((await client.request('POST', 'weights_info', { tinker_path: shortLived.path })).status, 404);
    assert.equal((await client.request('POST', 'weights_info', { tinker_path: kept.path })).status, 200);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
