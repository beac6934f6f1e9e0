/**
 * The SDK's RestClient over the stored training metrics: a TrainingClient's steps appear in
 * getTrainingRunMetrics with the loss it returned, `after` gives only newer records,
 * reportMetrics adds the loop's own metrics, and bad reports are refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, NotFoundError, ValidationError, type RestClient, type TrainingClient } from '@tinker-ts/sdk';
import { E2E_MODEL, e2eBatch, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let env: InProcessServer;
let rest: RestClient;
let tc: TrainingClient;
const losses: number[] = [];

before(async () => {
  env = await startInProcessServer('tinker-sdk-metrics-');
  rest = env.sc.createRestClient();
  tc = await env.sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 2, seed: 4 });
  for (let i = 0; i < 2; i++) {
    const out = await tc.forwardBackward(e2eBatch(), 'cross_entropy');
    losses.push(out.metrics['loss:sum']!);
    await tc.optimStep({ learningRate: 1e-2 });
  }
});

after(async () => {
  await env?.close();
});

test('a training client\'s steps are recorded with the loss it got', async () => {
  const m = await rest.getTrainingRunMetrics(tc.modelId);
  assert.equal(m.trainingRunId, tc.modelId);
  assert.equal(m.optimSteps, 2);
  const sumOfStep = (step: number) =>
    m.records.filter((r) => r.kind === 'forward_backward' && r.step === step).reduce((s, r) => s + r.metrics['loss:sum']!, 0);
  for (const step of [0, 1]) assert.ok(Math.abs(sumOfStep(step) - losses[step]!) < 1e-4 * Math.abs(losses[step]!), `step ${step}: ${sumOfStep(step)} vs ${losses[step]}`);
  assert.deepEqual(m.records.filter((r) => r.kind === 'optim_step').map((r) => r.step), [0, 1]);
  assert.ok(m.records.every((r) => r.time instanceof Date && !Number.isNaN(r.time.getTime())));

  const last = m.records[m.records.length - 1]!;
  await rest.reportMetrics(tc.modelId, 1, { kl_sample_train_v1: 0.02 });
  const newer = await rest.getTrainingRunMetrics(tc.modelId, { after: last.id });
  assert.equal(newer.records.length, 1);
  assert.deepEqual(newer.records[0]!.metrics, { kl_sample_train_v1: 0.02 });
  assert.equal(newer.records[0]!.kind, 'reported');
  assert.equal(newer.totalCount, m.totalCount + 1);
});

test('bad reports are refused before sending or by the server, unknown runs are 404', async () => {
  assert.throws(() => rest.reportMetrics(tc.modelId, -1, { x: 1 }), ValidationError);
  assert.throws(() => rest.reportMetrics(tc.modelId, 0, { x: Number.NaN }), ValidationError);
  await assert.rejects(async () => rest.reportMetrics(tc.modelId, 0, {}), BadRequestError);
  await assert.rejects(async () => rest.getTrainingRunMetrics('no-such-run'), NotFoundError);
});
