// Scoring inside the prompt: chosen token ids (target_prompt_logprobs), k drawn alternatives per
// position (prompt_alt_tokens_k) and the last-n window of prompt logprobs, each checked against
// the training forward pass over the same tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as k } from './reference-kernels.js';
import { randomModelWeights } from './init.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { runSampling, type SampleJob, type SamplerContext, type SamplerParams } from './sampler.js';
import { EngineUserError } from './errors.js';
import type { LoadedModel, ModelConfig } from './model-types.js';

const cfg: ModelConfig = {
  family: 'qwen3', vocabSize: 96, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 64, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [95],
};
const model: LoadedModel = { name: 'tiny', config: cfg, weights: randomModelWeights(cfg, 7, { std: 0.3 }) };
const ctx: SamplerContext = { kernels: k, model, adapter: null, maxContextLength: 64, decode: null };
const prompt = [3, 14, 15, 9, 26, 5, 0, 35];
const T = prompt.length;

function job(p: Partial<SamplerParams> = {}, extra: Partial<SampleJob> = {}): SampleJob {
  return {
    prompt, numSamples: 2, promptLogprobs: false, topkPromptLogprobs: 0,
    params: { maxTokens: 3, temperature: 1, topK: -1, topP: 1, seed: 42, stopTokenIds: [], stopStrings: [], ...p },
    ...extra,
  };
}

/** Forward-pass logprobs of every vocabulary id at logits row `row` (after prompt[0..row]). */
function forwardRow(row: number): Float32Array {
  const tokens = prompt.slice(0, row + 1);
  const V = cfg.vocabSize;
  const targets = new Array(tokens.length * V).fill(-1);
  for (let v = 0; v < V; v++) targets[(tokens.length - 1) * V + v] = v;
  return runTrainingPass(k, model, null, packSequences(cfg, [{ tokens, targets }], V)).subarray((tokens.length - 1) * V);
}
const forward = Array.from({ length: T - 1 }, (_, row) => forwardRow(row));

test('target prompt logprobs equal the forward pass logprobs of the named ids at their rows', () => {
  // Rows 2, 2, 4, 6 (row i scores prompt position i + 1); id 0 is a real token.
  const rows = [2, 2, 4, 6];
  const ids = [0, 77, prompt[5]!, 95];
  const r = runSampling(ctx, job({}, { promptTargets: { rows, ids } }));
  assert.equal(r.targetPromptLogprobs!.length, 4);
  rows.forEach((row, c) => assert.ok(Math.abs(r.targetPromptLogprobs![c]! - forward[row]![ids[c]!]!) <= 1e-4, `cell ${c}`));
  // The id of the prompt's own token scores as its prompt logprob does.
  const withPrompt = runSampling(ctx, job({}, { promptLogprobs: true, promptTargets: { rows, ids } }));
  assert.ok(Math.abs(withPrompt.targetPromptLogprobs![2]! - (withPrompt.promptLogprobs![5] as number)) <= 1e-6);
  // Scoring does not change what is sampled.
  assert.deepEqual(r.sequences, runSampling(ctx, job()).sequences);
});

test('prompt alternatives: k draws per position after the first, each with its forward-pass logprob, seeded', () => {
  const kAlt = 3;
  const r = runSampling(ctx, job({}, { promptAltTokensK: kAlt }));
  const alt = r.promptAltTokens!;
  assert.equal(alt.tokens.length, (T - 1) * kAlt);
  for (let row = 0; row < T - 1; row++) {
    for (let j = 0; j < kAlt; j++) {
      const tok = alt.tokens[row * kAlt + j]!;
      assert.ok(Number.isInteger(tok) && tok >= 0 && tok < cfg.vocabSize);
      assert.ok(Math.abs(alt.logprobs[row * kAlt + j]! - forward[row]![tok]!) <= 1e-4, `row ${row} draw ${j}`);
    }
  }
  assert.deepEqual(runSampling(ctx, job({}, { promptAltTokensK: kAlt })).promptAltTokens, alt, 'same seed, same draws');
  assert.notDeepEqual(runSampling(ctx, job({ seed: 43 }, { promptAltTokensK: kAlt })).promptAltTokens!.tokens, alt.tokens);
  assert.deepEqual(r.sequences, runSampling(ctx, job()).sequences, 'the draws take no randomness from the samples');
  // A one-token prompt has no position to draw at.
  assert.deepEqual(runSampling(ctx, job({}, { prompt: [3], promptAltTokensK: 2 })).promptAltTokens, { tokens: [], logprobs: [] });
  // Greedy: the argmax, k times.
  const greedy = runSampling(ctx, job({ temperature: 0 }, { promptAltTokensK: 2 })).promptAltTokens!;
  for (let row = 0; row < T - 1; row++) {
    const best = forward[row]!.indexOf(Math.max(...forward[row]!));
    assert.deepEqual(greedy.tokens.slice(row * 2, row * 2 + 2), [best, best]);
  }
});

test('prompt alternatives follow the tempered distribution', () => {
  const draws = 4000;
  const temperature = 0.5;
  const alt = runSampling(ctx, job({ temperature, maxTokens: 0 }, { promptAltTokensK: draws })).promptAltTokens!;
  const row = 3;
  const counts = new Map<number, number>();
  for (let j = 0; j < draws; j++) counts.set(alt.tokens[row * draws + j]!, (counts.get(alt.tokens[row * draws + j]!) ?? 0) + 1);
  const w = Array.from(forward[row]!, (lp) => Math.exp(lp / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  for (const [tok, n] of counts) {
    const p = w[tok]! / total;
    // Five standard deviations of a binomial count.
    assert.ok(Math.abs(n - p * draws) <= 5 * Math.sqrt(draws * p * (1 - p)) + 1, `token ${tok}: ${n} draws, expected ${p * draws}`);
  }
});

test('prompt_logprobs_last_n reports only the last n positions, with the full run\'s numbers', () => {
  const full = runSampling(ctx, job({}, { promptLogprobs: true, topkPromptLogprobs: 2 }));
  const last3 = runSampling(ctx, job({}, { promptLogprobs: true, topkPromptLogprobs: 2, promptLogprobsLastN: 3 }));
  assert.equal(last3.promptLogprobs!.length, T);
  for (let i = 0; i < T; i++) {
    if (i < T - 3) {
      assert.equal(last3.promptLogprobs![i], null, `position ${i}`);
      assert.equal(last3.topkPromptLogprobs![i], null);
    } else {
      assert.ok(Math.abs((last3.promptLogprobs![i] as number) - (full.promptLogprobs![i] as number)) <= 1e-6);
      assert.ok(Math.abs((last3.promptLogprobs![i] as number) - forward[i - 1]![prompt[i]!]!) <= 1e-4);
      assert.deepEqual(last3.topkPromptLogprobs![i]!.map(([t]) => t), full.topkPromptLogprobs![i]!.map(([t]) => t));
    }
  }
  assert.deepEqual(last3.sequences, full.sequences);
});

test('malformed prompt scoring requests are user errors', () => {
  const user = (re: RegExp) => (e: Error) => e instanceof EngineUserError && re.test(e.message);
  assert.throws(() => runSampling(ctx, job({}, { promptLogprobs: true, promptLogprobsLastN: T })), user(/prompt_logprobs_last_n must be an integer in \[1, len\(prompt\) - 1 = 7\]/));
  assert.throws(() => runSampling(ctx, job({}, { promptLogprobsLastN: 0 })), user(/prompt_logprobs_last_n/));
  assert.throws(() => runSampling(ctx, job({}, { promptAltTokensK: -1 })), user(/prompt_alt_tokens_k must be a non-negative integer/));
  assert.throws(() => runSampling(ctx, job({}, { promptTargets: { rows: [0], ids: [96] } })), user(/token id 96 is outside the vocabulary \[0, 96\)/));
  assert.throws(() => runSampling(ctx, job({}, { promptTargets: { rows: [7], ids: [1] } })), user(/row 7 is not a prompt row/));
  assert.throws(() => runSampling(ctx, job({}, { promptTargets: { rows: [3, 2], ids: [1, 1] } })), user(/row 2 is not a prompt row in order/));
});
