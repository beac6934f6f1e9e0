/**
 * ServiceClient.copyWeights over real HTTP: the copy is a new training run holding the same
 * numbers (a training client loaded from it computes the same logprobs; sampler weights sample
 * the same tokens), its TTL is stored, and bad input is refused clearly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseTinkerPath } from '@tinker-ts/protocol';
import { BadRequestError, NotFoundError, ServiceClient, ValidationError, type ForwardBackwardOutput, type TrainingClient } from '@tinker-ts/sdk';
import type { RunningServer } from './server.js';
import { E2E_MODEL, e2eBatch, maxAbsDiff, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let server: RunningServer;
let dataDir: string;
let sc: ServiceClient;
let trained: TrainingClient;

let env: InProcessServer | undefined;

before(async () => {
  env = await startInProcessServer('tinker-sdk-copy-');
  ({ server, dataDir, sc } = env);
  trained = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 11 });
  for (let i = 0; i < 2; i++) {
    await trained.forwardBackward(e2eBatch(), 'cross_entropy');
    await trained.optimStep({ learningRate: 5e-2 });
  }
});

after(async () => {
  await env?.close();
});

function logprobs(out: ForwardBackwardOutput): number[] {
  return out.lossFnOutputs.flatMap((o) => o['logprobs']!.toArray());
}

test('a copied weights checkpoint is a new run with the same numbers', async () => {
  const saved = await trained.saveState('to-copy');
  const copy = await sc.copyWeights(saved.path);
  const src = parseTinkerPath(saved.path);
  const dst = parseTinkerPath(copy);
  assert.notEqual(dst.runId, src.runId);
  assert.equal(dst.kind, src.kind);
  assert.equal(dst.name, src.name);
  const fromCopy = await sc.createTrainingClientFromState(copy);
  const want = logprobs(await trained.forward(e2eBatch(), 'cross_entropy'));
  const got = logprobs(await fromCopy.forward(e2eBatch(), 'cross_entropy'));
  assert.ok(maxAbsDiff(got, want) < 1e-6, `copy differs by ${maxAbsDiff(got, want)}`);
  // The comparison means something only if training moved the weights away from a fresh adapter.
  const fresh = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 11 });
  const untrained = logprobs(await fresh.forward(e2eBatch(), 'cross_entropy'));
  assert.ok(maxAbsDiff(untrained, want) > 1e-4, 'training did not change the logprobs');
});

test('copied sampler weights sample what the originals sample', async () => {
  const saved = await trained.saveWeightsForSampler('to-copy-sampler');
  const copy = await sc.copyWeights(saved.path, { ttlSeconds: 3_600 });
  const params = { maxTokens: 6, seed: 123, temperature: 1 };
  const a = await (await sc.createSamplingClient({ modelPath: saved.path })).sample({ prompt: [3, 1, 4, 1], samplingParams: params });
  const b = await (await sc.createSamplingClient({ modelPath: copy })).sample({ prompt: [3, 1, 4, 1], samplingParams: params });
  assert.deepEqual(b.sequences[0]!.tokens, a.sequences[0]!.tokens);
  const { runId, kind, name } = parseTinkerPath(copy);
  const row = server.ctx.store.checkpoints.get(runId, kind, name);
  assert.ok(row?.expires_at, 'the TTL was not stored');
  assert.ok(Math.abs(row.expires_at - row.created_at - 3_600_000) < 1_000);
});

test('copyWeights refuses bad input clearly', async () => {
  assert.throws(() => sc.copyWeights(''), ValidationError);
  // A path's form is the server's to judge; its answer names the forms it accepts.
  await assert.rejects(
    sc.copyWeights('not-a-path').future(),
    (e: unknown) => e instanceof BadRequestError && /tinker:\/\/<run_id>\/weights\/<name>/.test(e.message),
  );
  assert.throws(() => sc.copyWeights('tinker://run/weights/x', { ttlSeconds: 0 }), (e: unknown) => e instanceof ValidationError && e.field === 'ttl_seconds');
  assert.throws(() => sc.copyWeights('tinker://run/weights/x', { ttlSeconds: 1.5 }), ValidationError);
  await assert.rejects(sc.copyWeights(`tinker://${trained.modelId}/weights/never-saved`).future(), NotFoundError);
});
