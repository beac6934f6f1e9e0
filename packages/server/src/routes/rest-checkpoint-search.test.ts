/**
 * Checkpoint search, storage usage and Checkpoint.base_model through the SDK's RestClient
 * against a real server: filters (type, base model, metadata, project), newest-first pages
 * joined by the cursor, another user's checkpoints never found, bad requests refused with 400.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BadRequestError, ServiceClient, ValidationError, type RestClient } from '@tinker-ts/sdk';
import { startRestFixture, type RestFixture } from './rest-testkit.js';
import { TINY_MODEL } from '../testkit.js';

const LLAMA = 'tinker-ts/tiny-llama3';
let fx: RestFixture;
let owner: ServiceClient;
let other: ServiceClient;
let rest: RestClient;
const quiet = { warn() {}, info() {} };

before(async () => {
  fx = await startRestFixture('tinker-ckpt-search-');
  owner = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-search-owner', projectId: 'proj-a', logger: quiet });
  other = new ServiceClient({ baseURL: fx.server.url, apiKey: 'tml-search-other', logger: quiet });
  rest = owner.createRestClient();
  const qwen = await owner.createLoraTrainingClient({ baseModel: TINY_MODEL, rank: 2 });
  await qwen.saveState('q-w1', { userMetadata: { stage: 'sft' } });
  await qwen.saveWeightsForSampler('q-s1', { userMetadata: { stage: 'sft' } });
  await qwen.saveState('q-w2', { userMetadata: { stage: 'rl' } });
  const llama = await owner.createLoraTrainingClient({ baseModel: `${LLAMA}:peft:8192`, rank: 2 });
  await llama.saveState('l-w1', { userMetadata: { stage: 'rl' } });
  const theirs = await other.createLoraTrainingClient({ baseModel: TINY_MODEL, rank: 2 });
  await theirs.saveState('theirs', { userMetadata: { stage: 'sft' } });
});
after(async () => {
  await owner?.close();
  await other?.close();
  await fx?.close();
});

const names = (page: { checkpoints: Array<{ checkpointId: string }> }) => page.checkpoints.map((c) => c.checkpointId);

test('checkpoints carry their run base model, in listings and in search results', async () => {
  const listed = (await rest.listUserCheckpoints()).items;
  assert.equal(listed.length, 4);
  assert.equal(listed.find((c) => c.checkpointId === 'weights/l-w1')!.baseModel, `${LLAMA}:peft:8192`);
  assert.equal(listed.find((c) => c.checkpointId === 'weights/q-w1')!.baseModel, TINY_MODEL);
});

test('search filters by type, base model, metadata and project; newest first; only your own', async () => {
  assert.deepEqual(names(await rest.searchCheckpoints()), ['weights/l-w1', 'weights/q-w2', 'sampler_weights/q-s1', 'weights/q-w1']);
  assert.deepEqual(names(await rest.searchCheckpoints({ checkpointType: 'sampler' })), ['sampler_weights/q-s1']);
  assert.deepEqual(names(await rest.searchCheckpoints({ baseModels: [`${LLAMA}:peft:8192`] })), ['weights/l-w1']);
  assert.deepEqual(names(await rest.searchCheckpoints({ baseModels: [] })), []);
  assert.deepEqual(names(await rest.searchCheckpoints({ userMetadata: { stage: 'sft' } })), ['sampler_weights/q-s1', 'weights/q-w1']);
  assert.deepEqual(names(await rest.searchCheckpoints({ userMetadata: { stage: 'sft' }, checkpointType: 'training' })), ['weights/q-w1']);
  assert.equal((await rest.searchCheckpoints({ projectIds: ['proj-a'] })).checkpoints.length, 4);
  assert.deepEqual(names(await rest.searchCheckpoints({ projectIds: ['proj-b'] })), []);
  assert.deepEqual(names(await other.createRestClient().searchCheckpoints()), ['weights/theirs']);
});

test('pages join through the cursor without gaps or repeats', async () => {
  const seen: string[] = [];
  let cursor = null;
  let pages = 0;
  do {
    const page = await rest.searchCheckpoints({ limit: 3, cursor });
    seen.push(...names(page));
    cursor = page.nextCursor;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.equal(pages, 2);
  assert.deepEqual(seen, ['weights/l-w1', 'weights/q-w2', 'sampler_weights/q-s1', 'weights/q-w1']);
});

test('bad searches are refused: by the SDK before sending, and by the server with 400', async () => {
  assert.throws(() => rest.searchCheckpoints({ limit: 0 }), ValidationError);
  await assert.rejects(async () => rest.searchCheckpoints({ cursor: { lastCreatedAt: 'yesterday', lastCheckpointUuid: 'x' } }), (e: unknown) =>
    e instanceof BadRequestError && /cursor\.last_created_at.*ISO 8601/.test(e.message));
  const res = await fetch(`${fx.server.url}/api/v1/checkpoints/search`, {
    method: 'POST',
    headers: { 'X-API-Key': 'tml-search-owner', 'Content-Type': 'application/json' },
    body: JSON.stringify({ checkpoint_type: 'external', limit: 500 }),
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: string }).error, /checkpoint_type/);
  const owned = await fetch(`${fx.server.url}/api/v1/checkpoints/search`, {
    method: 'POST', headers: { 'X-API-Key': 'tml-search-owner', 'Content-Type': 'application/json' }, body: JSON.stringify({ owner: 'someone-else' }),
  });
  assert.equal(owned.status, 400);
});

test('storage usage sums the live checkpoints per project; storage is not billed here', async () => {
  const usage = await rest.getCurrentCheckpointStorageUsage();
  const all = (await rest.listUserCheckpoints()).items;
  assert.equal(usage.effectiveRateUsdPerGigabyteMonth, null);
  assert.equal(usage.data.length, 1);
  const [item] = usage.data;
  assert.equal(item!.projectId, 'proj-a');
  assert.equal(item!.checkpointCount, 4);
  assert.equal(item!.sizeBytes, all.reduce((s, c) => s + (c.sizeBytes ?? 0), 0));
  assert.ok(item!.sizeBytes > 0);
  assert.equal(item!.sizeGigabytes, item!.sizeBytes / 1e9);
  assert.equal(item!.estimatedMonthlyCostUsd, null);
  assert.deepEqual((await rest.getCurrentCheckpointStorageUsage({ projectId: 'proj-b' })).data, []);
});
