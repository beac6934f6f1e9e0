import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeTinkerOptions } from './fake-tinker.testkit.js';
import { connectFakeTinker } from './fake-tinker-client.testkit.js';
import { parseCheckpointPath } from './rest-client.js';
import { ValidationError } from './errors.js';

async function setup(t: TestContext, options: FakeTinkerOptions = {}) {
  const { peer, service } = await connectFakeTinker(t, options);
  return { peer, rest: service.createRestClient() };
}

test('listTrainingRuns pages by offset; for await walks every run', async (t) => {
  const { peer, rest } = await setup(t, { trainingRuns: 45 });
  const ids: string[] = [];
  for await (const run of rest.listTrainingRuns()) ids.push(run.trainingRunId);
  assert.equal(ids.length, 45);
  assert.equal(ids[44], 'run-44');
  const queries = (await peer.log('training_runs')).map((r) => r.query);
  assert.deepEqual(queries, [
    { limit: '20', offset: '0', access_scope: 'owned' },
    { limit: '20', offset: '20', access_scope: 'owned' },
    { limit: '20', offset: '40', access_scope: 'owned' },
  ]);
  const page = await rest.listTrainingRuns({ limit: 10, offset: 40 });
  assert.deepEqual(page.cursor, { offset: 40, limit: 10, totalCount: 45 });
  assert.equal(page.items.length, 5);
  assert.equal(page.hasNextPage(), false);
  assert.ok(page.items[0]!.lastRequestTime instanceof Date);
  assert.equal(page.items[0]!.loraRank, 8);
});

test('training run, weights info, checkpoints and sessions', async (t) => {
  const { rest } = await setup(t, { trainingRuns: 2 });
  assert.equal((await rest.getTrainingRun('run-1')).modelOwner, 'tester');
  assert.equal((await rest.getTrainingRunByTinkerPath('tinker://run-1/weights/a')).trainingRunId, 'run-1');
  assert.deepEqual(await rest.getWeightsInfo('tinker://run-0/weights/a'), {
    baseModel: 'Qwen/Qwen3-8B', isLora: true, loraRank: 8, trainMlp: true, trainAttn: false, trainUnembed: true,
  });
  const checkpoints = (await rest.listCheckpoints('run-1')).items;
  assert.deepEqual(checkpoints.map((c) => [c.checkpointId, c.checkpointType, c.tinkerPath]), [
    ['weights/a', 'training', 'tinker://run-1/weights/a'],
    ['sampler_weights/b', 'sampler', 'tinker://run-1/sampler_weights/b'],
  ]);
  const mine: string[] = [];
  for await (const c of rest.listUserCheckpoints()) mine.push(c.tinkerPath);
  assert.deepEqual(mine, ['tinker://run-0/weights/a', 'tinker://run-1/sampler_weights/b']);
  const sessions: string[] = [];
  for await (const s of rest.listSessions({ limit: 2 })) sessions.push(s);
  assert.deepEqual(sessions, ['s-a', 's-b', 's-c']);
  assert.deepEqual(await rest.getSession('s-a'), { trainingRunIds: ['run-0'], samplerIds: [] });
  assert.deepEqual(await rest.getSampler('sess-1:sample:0'), { samplerId: 'sess-1:sample:0', baseModel: 'Qwen/Qwen3-8B', modelPath: undefined });
});

test('checkpoint housekeeping routes keep the checkpoint id path', async (t) => {
  const { peer, rest } = await setup(t);
  await rest.deleteCheckpoint('tinker://run-0/weights/step-1');
  await rest.deleteCheckpoint('run-0', 'sampler_weights/s');
  const archive = await rest.getCheckpointArchiveUrl('tinker://run-0/weights/step-1');
  assert.equal(archive.url, 'https://example.test/run-0/weights/step-1.tar');
  assert.ok(archive.expires instanceof Date);
  await rest.publishCheckpoint('tinker://run-0/weights/step-1');
  await rest.unpublishCheckpoint('tinker://run-0/weights/step-1');
  rest.setCheckpointTtl('tinker://run-0/weights/step-1', 3600).result(10_000);
  await rest.setCheckpointTtl('tinker://run-0/weights/step-1', null);
  const calls = (await peer.log()).filter((r) => r.route.startsWith('training_runs/')).map((r) => `${r.method} ${r.route}`);
  assert.deepEqual(calls, [
    'DELETE training_runs/run-0/checkpoints/weights/step-1',
    'DELETE training_runs/run-0/checkpoints/sampler_weights/s',
    'GET training_runs/run-0/checkpoints/weights/step-1/archive',
    'POST training_runs/run-0/checkpoints/weights/step-1/publish',
    'DELETE training_runs/run-0/checkpoints/weights/step-1/publish',
    'PUT training_runs/run-0/checkpoints/weights/step-1/ttl',
    'PUT training_runs/run-0/checkpoints/weights/step-1/ttl',
  ]);
  assert.deepEqual((await peer.log()).filter((r) => r.route.endsWith('/ttl')).map((r) => r.body), [{ ttl_seconds: 3600 }, { ttl_seconds: null }]);
});

test('tinker paths are parsed for their form; refused ones name the forms accepted', () => {
  assert.deepEqual(parseCheckpointPath('tinker://run-0/sampler_weights/final'), {
    trainingRunId: 'run-0', checkpointId: 'sampler_weights/final', checkpointType: 'sampler',
  });
  for (const bad of ['run-0/weights/a', 'tinker://run-0/other/a', 'tinker://run-0/weights', 'tinker://run-0/weights/a/b']) {
    assert.throws(
      () => parseCheckpointPath(bad),
      (e: unknown) => e instanceof ValidationError && e.field === 'tinker_path' && e.message.includes('tinker://<run_id>/sampler_weights/<name>'),
      bad,
    );
  }
  // What the run id and name may contain is the server's to say.
  assert.deepEqual(parseCheckpointPath('tinker://run 1/weights/a+b'), { trainingRunId: 'run 1', checkpointId: 'weights/a+b', checkpointType: 'training' });
});

test('a missing training run is a NotFoundError', async (t) => {
  const { rest } = await setup(t, { trainingRuns: 1 });
  await assert.rejects(rest.getTrainingRun('nope').future(), (e: unknown) => e instanceof Error && e.constructor.name === 'NotFoundError' && /no training run nope/.test(e.message));
});
