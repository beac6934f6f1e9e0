/**
 * ServiceClient.close() over real HTTP finishes the session on the server at once: the session
 * is marked finished and its training runs are unloaded, without waiting for the idle reaper.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServiceClient } from '@tinker-ts/sdk';
import { startServer, type RunningServer } from './server.js';
import { E2E_API_KEY, E2E_MODEL } from './e2e-testkit.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-sdk-finish-'));
let server: RunningServer | undefined;

after(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('close() finishes the session and unloads its models', async () => {
  server = await startServer({ dataDir, port: 0, settings: { longPollMs: 2_000 } });
  const sc = new ServiceClient({ baseURL: server.url, apiKey: E2E_API_KEY });
  const tc = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 1 });
  const model = server.ctx.store.models.get(tc.modelId);
  assert.ok(model, 'the server has no record of the model');
  const sessionId = model.session_id;
  assert.equal(server.ctx.store.sessions.get(sessionId)?.finished_at, null);

  const t0 = Date.now();
  await sc.close();
  assert.ok(Date.now() - t0 < 3_000, `close() took ${Date.now() - t0} ms`);
  assert.ok(server.ctx.store.sessions.get(sessionId)?.finished_at, 'the session was not finished');
  for (let i = 0; i < 100 && server.ctx.store.models.get(tc.modelId)?.state === 'active'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.notEqual(server.ctx.store.models.get(tc.modelId)?.state, 'active');
  // A second close() is harmless.
  await sc.close();
});
