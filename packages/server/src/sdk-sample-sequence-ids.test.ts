/**
 * Sampling identity over real HTTP: every sequence the SDK returns carries the `sequenceId` the
 * server handed out in its asample answer (`sample_sequence_ids`), for base-model sampling
 * clients, saved sampler weights and a training client's current weights alike.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceClient, type SampleResponse, type SamplingClient } from '@tinker-ts/sdk';
import type { RunningServer } from './server.js';
import { E2E_MODEL, e2eBatch, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let server: RunningServer;
let dataDir: string;
let sc: ServiceClient;

let env: InProcessServer | undefined;

before(async () => {
  env = await startInProcessServer('tinker-sdk-seq-ids-');
  ({ server, dataDir, sc } = env);
});

after(async () => {
  await env?.close();
});

/** Samples 3 sequences and checks each carries the id the server assigned to it. */
async function checkSequenceIds(client: SamplingClient): Promise<string[]> {
  const f = client.sample({ prompt: [1, 2, 3, 4], numSamples: 3, samplingParams: { maxTokens: 4, seed: 7 } });
  const res: SampleResponse = await f;
  assert.equal(res.sequences.length, 3);
  const ids = res.sequences.map((s) => s.sequenceId);
  assert.ok(f.requestId, 'the future knows its request id');
  // Our server numbers the sequences of a request `<request_id>:<i>` in its asample answer.
  assert.deepEqual(ids, [0, 1, 2].map((i) => `${f.requestId}:${i}`));
  return ids as string[];
}

test('base-model samples carry the server-assigned sequence ids', async () => {
  const client = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const first = await checkSequenceIds(client);
  const second = await checkSequenceIds(client);
  assert.equal(new Set([...first, ...second]).size, 6, 'ids repeat across requests');
});

test('samples from saved sampler weights and from current weights carry sequence ids', async () => {
  const tc = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 3 });
  await tc.forwardBackward(e2eBatch(), 'cross_entropy');
  await tc.optimStep({ learningRate: 1e-2 });
  const saved = await tc.saveWeightsForSampler('seq-ids');
  await checkSequenceIds(await sc.createSamplingClient({ modelPath: saved.path }));
  await checkSequenceIds(await tc.saveWeightsAndGetSamplingClient());
  await checkSequenceIds(await tc.saveWeightsAndGetSamplingClient('seq-ids-2'));
});

test('computeLogprobs (a 1-token sample) still works with sequence ids attached', async () => {
  const client = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const lps = await client.computeLogprobs([5, 6, 7, 8]);
  assert.equal(lps.length, 4);
  assert.equal(lps[0], null);
  for (const lp of lps.slice(1)) assert.ok(typeof lp === 'number' && Number.isFinite(lp) && lp <= 0);
});
