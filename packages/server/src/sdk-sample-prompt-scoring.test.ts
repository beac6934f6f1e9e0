/**
 * Prompt scoring through the SDK over real HTTP: `targetPromptLogprobs` (rows of ids or a CSR
 * TensorData), `promptAltTokensK` and `promptLogprobsLastN` on the weights of a trained model,
 * each number equal to what the training client's forward pass gives for the same tokens.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Datum, TensorData, ValidationError, type SamplingClient, type ServiceClient, type TrainingClient } from '@tinker-ts/sdk';
import { E2E_MODEL, e2eBatch, startInProcessServer, type InProcessServer } from './e2e-testkit.js';

let env: InProcessServer | undefined;
let sc: ServiceClient;
let trainer: TrainingClient;
let sampler: SamplingClient;

before(async () => {
  env = await startInProcessServer('tinker-sdk-prompt-scoring-');
  ({ sc } = env);
  trainer = await sc.createLoraTrainingClient({ baseModel: E2E_MODEL, rank: 4, seed: 3 });
  // One step, so the adapter changes the numbers: sampling must use the same weights as forward.
  await trainer.forwardBackward(e2eBatch(), 'cross_entropy');
  await trainer.optimStep({ learningRate: 1e-2 });
  sampler = await trainer.saveWeightsAndGetSamplingClient('scoring');
});

after(async () => {
  await env?.close();
});

const prompt = [5, 17, 29, 41, 53];
const T = prompt.length;

/** The forward pass's logprob of `id` after prompt[0..row], for each [row, id]. */
async function forward(cells: Array<[number, number]>): Promise<number[]> {
  const out = await trainer.forward(cells.map(([row, id]) => Datum.fromTokens([...prompt.slice(0, row + 1), id])), 'cross_entropy');
  return out.lossFnOutputs.map((o, i) => o['logprobs']!.toArray()[cells[i]![0]]!);
}

test('targetPromptLogprobs: rows of ids and a CSR tensor come back in their layout with the forward pass numbers', async () => {
  const rows = [
    [-1, -1],
    [7, 0],
    [-1, -1],
    [-1, 99],
  ];
  const expected = await forward([[1, 7], [1, 0], [3, 99]]);
  const dense = await sampler.sample({ prompt, samplingParams: { maxTokens: 1 }, targetPromptLogprobs: rows });
  const got = dense.targetPromptLogprobs!;
  assert.equal(got.isSparse, false);
  assert.deepEqual(got.shape, [T - 1, 2]);
  const flat = got.toArray();
  [2, 3, 7].forEach((slot, c) => assert.ok(Math.abs(flat[slot]! - expected[c]!) <= 1e-4, `cell ${c}: ${flat[slot]} vs ${expected[c]}`));
  assert.deepEqual([0, 1, 4, 5, 6].map((slot) => flat[slot]), [0, 0, 0, 0, 0], 'nothing asked, 0 answered');

  const csr = TensorData.sparseCsr([7, 0, 99], [0, 0, 2, 2, 3], [0, 1, 1], [T - 1, 2], 'int64');
  const sparse = (await sampler.sample({ prompt, samplingParams: { maxTokens: 1 }, targetPromptLogprobs: csr })).targetPromptLogprobs!;
  assert.equal(sparse.isSparse, true);
  assert.deepEqual(sparse.sparse, { crowIndices: [0, 0, 2, 2, 3], colIndices: [0, 1, 1] });
  Array.from(sparse.values).forEach((v, c) => assert.ok(Math.abs(v - expected[c]!) <= 1e-4, `sparse cell ${c}`));
});

test('promptAltTokensK: k draws per prompt position after the first, with the forward pass logprobs, the same for the same seed', async () => {
  const k = 3;
  const opts = { prompt, samplingParams: { maxTokens: 1, seed: 8, temperature: 1 }, promptAltTokensK: k };
  const alt = (await sampler.sample(opts)).promptAltTokens!;
  assert.deepEqual(alt.tokens.shape, [T - 1, k]);
  assert.equal(alt.tokens.dtype, 'int64');
  const tokens = alt.tokens.toRows();
  const expected = await forward(tokens.flatMap((row, i) => row.map((tok) => [i, tok] as [number, number])));
  alt.logprobs.toArray().forEach((lp, i) => assert.ok(Math.abs(lp - expected[i]!) <= 1e-4, `draw ${i}`));
  assert.deepEqual((await sampler.sample(opts)).promptAltTokens!.tokens.toRows(), tokens);
  assert.equal((await sampler.sample({ prompt, samplingParams: { maxTokens: 1 } })).promptAltTokens, undefined);
});

test('promptLogprobsLastN: prompt logprobs only at the last n positions', async () => {
  const res = await sampler.sample({ prompt, samplingParams: { maxTokens: 1 }, includePromptLogprobs: true, promptLogprobsLastN: 2 });
  const expected = await forward([[T - 3, prompt[T - 2]!], [T - 2, prompt[T - 1]!]]);
  assert.deepEqual(res.promptLogprobs!.slice(0, T - 2), [null, null, null]);
  res.promptLogprobs!.slice(T - 2).forEach((v, i) => assert.ok(Math.abs(v! - expected[i]!) <= 1e-4));
});

test('what the prompt alone shows to be wrong is refused before sending; the rest by the server', async () => {
  const refused = (opts: Parameters<SamplingClient['sample']>[0], re: RegExp) =>
    assert.throws(() => sampler.sample(opts), (e: Error) => e instanceof ValidationError && re.test(e.message));
  refused({ prompt, targetPromptLogprobs: [[1], [2]] }, /target_prompt_logprobs.shape: has 2 rows; a prompt of 5 tokens needs exactly 4/);
  refused({ prompt, targetPromptLogprobs: TensorData.float32([1, 2, 3, 4], [4, 1]) }, /int64 tensor of token ids/);
  refused({ prompt, promptAltTokensK: -2 }, /prompt_alt_tokens_k: must be a non-negative integer/);
  refused({ prompt, promptLogprobsLastN: 2 }, /needs includePromptLogprobs: true/);
  refused({ prompt, includePromptLogprobs: true, promptLogprobsLastN: 5 }, /must be an integer in \[1, len\(prompt\) - 1 = 4\]/);
  // Too wide for one request: the server's bound, as a 400.
  await assert.rejects(async () => sampler.sample({ prompt, promptAltTokensK: 1 << 20 }), /one request may score at most/);
});
