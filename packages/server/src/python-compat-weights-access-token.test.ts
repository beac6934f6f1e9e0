/**
 * The official SDK's create_training_client_from_state(path, weights_access_token=KEY) loads a
 * checkpoint of another account by sending that account's API key in load_weights. The key
 * grants reading the checkpoint; the new model belongs to the caller.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './server.js';
import { TestClient } from './testkit.js';

const OWNER_KEY = 'tml-checkpoint-owner';

let server: RunningServer;
let dataDir: string;
let owner: TestClient;
let other: TestClient;
let checkpointPath: string;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinker-python-access-token-'));
  server = await startServer({ dataDir, port: 0 });
  owner = new TestClient(server.url, OWNER_KEY);
  other = new TestClient(server.url, 'tml-someone-else');
  const modelId = await owner.createModel(await owner.createSession());
  const save = await owner.post('save_weights', { model_id: modelId, path: 'shared', seq_id: 1 });
  checkpointPath = (await owner.result(save.request_id)).path;
});

after(async () => {
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function loadAsOther(modelSeqId: number, token?: string) {
  const sessionId = await other.createSession();
  return other.request('POST', 'load_weights', {
    session_id: sessionId,
    model_seq_id: modelSeqId,
    path: checkpointPath,
    optimizer: true,
    ...(token !== undefined ? { weights_access_token: token } : {}),
    type: 'load_weights',
  });
}

test("another account's private checkpoint is not found without a weights_access_token", async () => {
  const res = await loadAsOther(0);
  assert.equal(res.status, 404);
  assert.match(res.json.error, /not found/);
});

test("the owner's key as weights_access_token loads the checkpoint into the caller's new model", async () => {
  const res = await loadAsOther(0, OWNER_KEY);
  assert.equal(res.status, 200, Buffer.from(res.body).toString());
  const loaded = await other.result(res.json.request_id);
  const info = await other.post('get_info', { model_id: loaded.model_id });
  assert.equal(info.model_id, loaded.model_id);
  // The owner cannot see the caller's model.
  const foreign = await owner.request('POST', 'get_info', { model_id: loaded.model_id });
  assert.equal(foreign.status, 404);
});

test('a weights_access_token the server does not accept is refused as unauthorized', async () => {
  const res = await loadAsOther(0, 'not-an-api-key');
  assert.equal(res.status, 401);
  assert.match(res.json.error, /weights_access_token/);
});
