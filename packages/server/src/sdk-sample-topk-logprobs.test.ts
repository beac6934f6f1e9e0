/**
 * Top-k logprobs of sampled tokens (`topk_sample_logprobs`, SDK ≥ 0.29 wire) over real HTTP: one
 * best-first list per sampled token, scored as a forward pass over the same tokens scores them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceClient } from '@tinker-ts/sdk';
import { E2E_MODEL, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let env: InProcessServer | undefined;
let sc: ServiceClient;

before(async () => {
  env = await startInProcessServer('tinker-sdk-topk-');
  ({ sc } = env);
});

after(async () => {
  await env?.close();
});

test('each sampled token comes with its top-k alternatives, consistent with the forward pass', async () => {
  const client = await sc.createSamplingClient({ baseModel: E2E_MODEL });
  const prompt = [1, 2, 3, 4];
  const res = await client.sample({ prompt, numSamples: 2, samplingParams: { maxTokens: 4, seed: 11, temperature: 1 }, topkSampleLogprobs: 3 });
  for (const seq of res.sequences) {
    const lists = seq.topkLogprobs!;
    assert.equal(lists.length, seq.tokens.length);
    // The forward pass over prompt + sampled tokens scores each sampled token the same way.
    const forward = await client.computeLogprobs([...prompt, ...seq.tokens]);
    for (const [t, list] of lists.entries()) {
      assert.equal(list!.length, 3);
      for (let j = 1; j < 3; j++) assert.ok(list![j - 1]![1] >= list![j]![1], 'best first');
      assert.ok(seq.logprobs![t]! <= list![0]![1] + 1e-5, 'no token beats the best listed');
      const listed = list!.find(([token]) => token === seq.tokens[t]);
      if (listed) assert.ok(Math.abs(listed[1] - seq.logprobs![t]!) < 1e-4, 'a listed sampled token has its own logprob');
      assert.ok(Math.abs(forward[prompt.length + t]! - seq.logprobs![t]!) < 1e-4);
    }
  }
  // Off by default.
  const plain = await client.sample({ prompt, samplingParams: { maxTokens: 2, seed: 11 } });
  assert.equal(plain.sequences[0]!.topkLogprobs, undefined);
  // A negative k is refused before anything is sent.
  assert.throws(() => client.sample({ prompt, topkSampleLogprobs: -1 }), /topk_sample_logprobs: must be a non-negative integer/);
});
