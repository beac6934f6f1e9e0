import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as k } from './reference-kernels.js';
import { randomModelWeights } from './init.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { runSampling, topKOf, TokenPicker, type SampleJob, type SamplerContext, type SamplerParams } from './sampler.js';
import { Prng } from './prng.js';
import { EngineUserError } from './errors.js';
import type { LoadedModel, ModelConfig } from './model-types.js';

const cfg: ModelConfig = {
  family: 'qwen3', vocabSize: 96, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 64, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [95],
};
// Larger weights than the default init so the distribution is far from uniform.
const model: LoadedModel = { name: 'tiny', config: cfg, weights: randomModelWeights(cfg, 7, { std: 0.3 }) };
const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
const ctx: SamplerContext = { kernels: k, model, adapter: null, maxContextLength: 64, decode };
const prompt = [3, 14, 15, 9, 26, 5];

function params(p: Partial<SamplerParams> = {}): SamplerParams {
  return { maxTokens: 8, temperature: 1, topK: -1, topP: 1, seed: 1234, stopTokenIds: [], stopStrings: [], ...p };
}
function job(p: Partial<SamplerParams> = {}, extra: Partial<SampleJob> = {}): SampleJob {
  return { prompt, numSamples: 3, params: params(p), promptLogprobs: false, topkPromptLogprobs: 0, ...extra };
}
/** Forward-pass logprobs of tokens[1..] given tokens[..-1]. */
function forwardLogprobs(tokens: number[]): Float32Array {
  const batch = packSequences(cfg, [{ tokens: tokens.slice(0, -1), targets: tokens.slice(1) }], 1);
  return runTrainingPass(k, model, null, batch);
}

test('sampling with a seed is reproducible and samples differ from each other', () => {
  const a = runSampling(ctx, job());
  const b = runSampling(ctx, job());
  assert.deepEqual(a, b);
  assert.equal(a.sequences.length, 3);
  assert.notDeepEqual(a.sequences[0].tokens, a.sequences[1].tokens);
  const c = runSampling(ctx, job({ seed: 99 }));
  assert.notDeepEqual(c.sequences.map((s) => s.tokens), a.sequences.map((s) => s.tokens));
});

test('sampling without a seed varies between calls', () => {
  const runs = [0, 1, 2].map(() => JSON.stringify(runSampling(ctx, job({ seed: null, maxTokens: 12 })).sequences.map((s) => s.tokens)));
  assert.ok(new Set(runs).size > 1);
});

test('greedy sampling is deterministic, identical across samples and follows the argmax', () => {
  const r = runSampling(ctx, job({ temperature: 0, seed: null }));
  for (const s of r.sequences) assert.deepEqual(s.tokens, r.sequences[0].tokens);
  const tokens = [...prompt];
  for (const t of r.sequences[0].tokens) {
    const lp = forwardLogprobsAll(tokens);
    assert.equal(t, argmax(lp));
    tokens.push(t);
  }
});

function forwardLogprobsAll(tokens: number[]): Float32Array {
  // logprobs of every vocab id after `tokens`, via K = V targets at the last position
  const V = cfg.vocabSize;
  const targets = new Array(tokens.length * V).fill(-1);
  for (let v = 0; v < V; v++) targets[(tokens.length - 1) * V + v] = v;
  const lp = runTrainingPass(k, model, null, packSequences(cfg, [{ tokens, targets }], V));
  return lp.subarray((tokens.length - 1) * V);
}
function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}

test('sampled logprobs equal the forward pass logprobs of the same tokens', () => {
  const r = runSampling(ctx, job({ temperature: 0.7, maxTokens: 10 }));
  for (const s of r.sequences) {
    const full = [...prompt, ...s.tokens];
    const fwd = forwardLogprobs(full).subarray(prompt.length - 1);
    assert.equal(s.logprobs.length, s.tokens.length);
    for (let i = 0; i < s.tokens.length; i++) assert.ok(Math.abs(s.logprobs[i] - fwd[i]) <= 1e-4, `token ${i}: ${s.logprobs[i]} vs ${fwd[i]}`);
  }
});

test('max_tokens bounds the length and gives stop_reason length', () => {
  const r = runSampling(ctx, job({ maxTokens: 5 }));
  for (const s of r.sequences) {
    assert.equal(s.tokens.length, 5);
    assert.equal(s.stopReason, 'length');
  }
  const zero = runSampling(ctx, job({ maxTokens: 0 }));
  assert.deepEqual(zero.sequences[0], { tokens: [], logprobs: [], stopReason: 'length' });
});

test('a stop token ends the sequence and is the last token returned', () => {
  const free = runSampling(ctx, job({ maxTokens: 12 }));
  const stopTok = free.sequences[0].tokens[3];
  const r = runSampling(ctx, job({ maxTokens: 12, stopTokenIds: [stopTok] }));
  const s = r.sequences[0];
  assert.equal(s.stopReason, 'stop');
  assert.deepEqual(s.tokens, free.sequences[0].tokens.slice(0, free.sequences[0].tokens.indexOf(stopTok) + 1));
  for (const seq of r.sequences) assert.ok(seq.stopReason === 'length' || seq.tokens.at(-1) === stopTok);
});

test('the model EOS token stops sampling', () => {
  const eosCfg = { ...ctx, model: { ...model, config: { ...cfg, eosTokenIds: [] } } };
  const free = runSampling(eosCfg, job({ maxTokens: 12, temperature: 0 }));
  const eos = free.sequences[0].tokens[2];
  const r = runSampling({ ...ctx, model: { ...model, config: { ...cfg, eosTokenIds: [eos] } } }, job({ maxTokens: 12, temperature: 0 }));
  assert.equal(r.sequences[0].stopReason, 'stop');
  assert.equal(r.sequences[0].tokens.at(-1), eos);
  assert.ok(r.sequences[0].tokens.length <= 3);
});

test('a stop string ends the sequence at the token that completes it', () => {
  const free = runSampling(ctx, job({ maxTokens: 12 }));
  const text = decode(free.sequences[0].tokens);
  const stop = text.slice(4, 6);
  const r = runSampling(ctx, job({ maxTokens: 12, stopStrings: [stop] }));
  const s = r.sequences[0];
  assert.equal(s.stopReason, 'stop');
  const out = decode(s.tokens);
  assert.ok(out.endsWith(stop), out);
  assert.equal(out.indexOf(stop), out.length - stop.length);
  assert.deepEqual(s.tokens, free.sequences[0].tokens.slice(0, s.tokens.length));
});

test('top-k sample logprobs list, for every sampled token, the best tokens of its distribution as the forward pass scores them', () => {
  const r = runSampling(ctx, job({ temperature: 0.8, maxTokens: 5 }, { numSamples: 2, topkSampleLogprobs: 4 }));
  const plain = runSampling(ctx, job({ temperature: 0.8, maxTokens: 5 }, { numSamples: 2 }));
  for (const [i, s] of r.sequences.entries()) {
    // Asking for the lists changes nothing about what is sampled.
    assert.deepEqual(s.tokens, plain.sequences[i].tokens);
    assert.equal(plain.sequences[i].topkLogprobs, undefined);
    assert.equal(s.topkLogprobs!.length, s.tokens.length);
    for (let t = 0; t < s.tokens.length; t++) {
      const all = forwardLogprobsAll([...prompt, ...s.tokens.slice(0, t)]);
      const list = s.topkLogprobs![t];
      assert.equal(list.length, 4);
      assert.equal(list[0][0], argmax(all));
      for (let j = 0; j < 4; j++) {
        assert.ok(Math.abs(list[j][1] - all[list[j][0]]) <= 1e-4, `step ${t} entry ${j}`);
        if (j > 0) assert.ok(list[j - 1][1] >= list[j][1]);
      }
      // The sampled token's own logprob is no better than the best listed.
      assert.ok(s.logprobs[t] <= list[0][1] + 1e-6);
    }
  }
  assert.throws(() => runSampling(ctx, job({}, { topkSampleLogprobs: -1 })), /topk_sample_logprobs must be a non-negative integer/);
});

test('prompt logprobs match the forward pass; the first is null; top-k lists are sorted', () => {
  const r = runSampling(ctx, job({ maxTokens: 1 }, { promptLogprobs: true, topkPromptLogprobs: 3 }));
  const fwd = forwardLogprobs(prompt);
  assert.equal(r.promptLogprobs!.length, prompt.length);
  assert.equal(r.promptLogprobs![0], null);
  for (let i = 1; i < prompt.length; i++) assert.ok(Math.abs((r.promptLogprobs![i] as number) - fwd[i - 1]) <= 1e-4);
  assert.equal(r.topkPromptLogprobs![0], null);
  for (let i = 1; i < prompt.length; i++) {
    const list = r.topkPromptLogprobs![i]!;
    assert.equal(list.length, 3);
    const all = forwardLogprobsAll(prompt.slice(0, i));
    assert.equal(list[0][0], argmax(all));
    assert.ok(list[0][1] >= list[1][1] && list[1][1] >= list[2][1]);
    assert.ok(Math.abs(list[0][1] - all[list[0][0]]) <= 1e-4);
  }
});

test('exceeding the context length or bad parameters are user errors', () => {
  assert.throws(() => runSampling(ctx, job({ maxTokens: 60 })), (e: Error) => e instanceof EngineUserError && /context length 64/.test(e.message));
  assert.throws(() => runSampling(ctx, job({}, { prompt: [] })), EngineUserError);
  assert.throws(() => runSampling(ctx, job({}, { prompt: [1, 96] })), /outside the vocabulary/);
  assert.throws(() => runSampling(ctx, job({ topP: 0 })), /top_p/);
  assert.throws(() => runSampling(ctx, job({ temperature: -1 })), /temperature/);
  assert.throws(() => runSampling(ctx, job({}, { numSamples: 0 })), /num_samples/);
});

test('top-k 1 and a tiny top-p both reduce to greedy', () => {
  const greedy = runSampling(ctx, job({ temperature: 0 })).sequences[0].tokens;
  assert.deepEqual(runSampling(ctx, job({ topK: 1 })).sequences[0].tokens, greedy);
  assert.deepEqual(runSampling(ctx, job({ topP: 1e-6 })).sequences[0].tokens, greedy);
});

test('TokenPicker draws from the tempered, filtered distribution', () => {
  const lp = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  const count = (picker: TokenPicker) => {
    const c = [0, 0, 0, 0];
    const rng = new Prng(5);
    for (let i = 0; i < 20000; i++) c[picker.pick(lp, rng)]++;
    return c.map((x) => x / 20000);
  };
  const plain = count(new TokenPicker(4, 1, -1, 1));
  [0.5, 0.3, 0.15, 0.05].forEach((p, i) => assert.ok(Math.abs(plain[i] - p) < 0.02, `${plain}`));
  const k2 = count(new TokenPicker(4, 1, 2, 1));
  assert.ok(Math.abs(k2[0] - 0.625) < 0.02 && k2[2] === 0 && k2[3] === 0, `${k2}`);
  const p8 = count(new TokenPicker(4, 1, -1, 0.8)); // keeps {0.5, 0.3}
  assert.ok(Math.abs(p8[0] - 0.625) < 0.02 && p8[2] === 0, `${p8}`);
  const hot = count(new TokenPicker(4, 2, -1, 1)); // p^(1/2) normalised
  const z = [0.5, 0.3, 0.15, 0.05].map(Math.sqrt);
  const zs = z.reduce((a, b) => a + b);
  z.forEach((p, i) => assert.ok(Math.abs(hot[i] - p / zs) < 0.02, `${hot}`));
});

test('topKOf returns the largest entries best first', () => {
  assert.deepEqual(topKOf(Float32Array.from([0.1, 5, -1, 5, 3]), 3), [[1, 5], [3, 5], [4, 3]]);
});

test('growing and compacting the KV cache during decoding does not change the samples', () => {
  const wide = runSampling(ctx, job({ maxTokens: 20, stopTokenIds: [7, 8, 9] }, { numSamples: 5 }));
  const narrow = runSampling({ ...ctx, initialDecodeCapacity: 1 }, job({ maxTokens: 20, stopTokenIds: [7, 8, 9] }, { numSamples: 5 }));
  assert.deepEqual(narrow, wide);
  const lengths = new Set(wide.sequences.map((s) => s.tokens.length));
  assert.ok(lengths.size > 1, 'samples should finish at different steps');
});
