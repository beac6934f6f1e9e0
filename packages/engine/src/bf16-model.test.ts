/**
 * A model with bf16 base weights against the same model in f32, and its training and sampling:
 * logprobs stay close to f32's, the native kernels agree with the reference kernels on the bf16
 * model itself, a LoRA step lowers the loss, sampled logprobs equal the forward pass's, and the
 * base weights take half the bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Datum } from '@tinker-ts/protocol';
import { nativeKernels } from './native-kernels.js';
import { referenceKernels } from './reference-kernels.js';
import { createAdapterState, randomModelWeights, smallModelConfig } from './init.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { runForwardBackward, runOptimStep } from './training.js';
import { runSampling, type SamplerContext } from './sampler.js';
import { Prng } from './prng.js';
import { baseWeightBytes, convertWeights, isBf16, type FrozenWeight } from './weight-dtype.js';
import type { LoadedModel, ModelConfig } from './model-types.js';

const cfg: ModelConfig = smallModelConfig({
  family: 'qwen3', vocabSize: 97, hiddenSize: 48, intermediateSize: 80, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 12,
  tieWordEmbeddings: false, ropeTheta: 1e6, eosTokenIds: [],
});
// Weights large enough that the distribution is far from uniform (so logprob errors show).
const f32Weights = randomModelWeights(cfg, 5, { std: 0.15 });
const f32Model: LoadedModel<FrozenWeight> = { name: 'tiny-f32', config: cfg, weights: f32Weights };
const bf16Model: LoadedModel<FrozenWeight> = { name: 'tiny-bf16', config: cfg, weights: convertWeights(f32Weights, 'bf16') };

const rng = new Prng(9, 'bf16-model');
const sequences = [40, 17, 64].map((n) => Array.from({ length: n + 1 }, () => Math.floor(rng.uniform() * cfg.vocabSize)));

function forwardLogprobs(k = nativeKernels, model = bf16Model, seqs = sequences): Float32Array {
  const batch = packSequences(cfg, seqs.map((s) => ({ tokens: s.slice(0, -1), targets: s.slice(1) })), 1);
  return runTrainingPass(k, model, null, batch);
}

test('bf16 storage: the linears, embedding and head are bf16, the norms f32', () => {
  const w = bf16Model.weights;
  assert.ok(isBf16(w.embed) && isBf16(w.lmHead!));
  for (const l of w.layers) {
    for (const t of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) assert.ok(isBf16(t));
    for (const t of [l.inputNorm, l.postAttnNorm, l.qNorm!, l.kNorm!]) assert.ok(t instanceof Float32Array);
  }
});

test('bf16 logprobs are close to f32 logprobs of the same model', () => {
  const f32 = forwardLogprobs(nativeKernels, f32Model);
  const bf16 = forwardLogprobs(nativeKernels, bf16Model);
  // bf16 keeps 8 significant bits (relative rounding ≤ 2⁻⁹ ≈ 0.2%) of every weight and of every
  // GEMM input; over 3 layers those perturb the logits by about 0.2–0.5% of their spread, so a
  // logprob (here around −5 with a spread of a few units) moves by a few hundredths at most
  // (measured: worst 0.031, mean 0.008).
  let worst = 0, sum = 0;
  for (let i = 0; i < f32.length; i++) {
    const e = Math.abs(bf16[i] - f32[i]);
    worst = Math.max(worst, e);
    sum += e;
  }
  assert.ok(worst <= 0.05, `worst |Δ logprob| ${worst}`);
  assert.ok(sum / f32.length <= 0.01, `mean |Δ logprob| ${sum / f32.length}`);
  // ... and they do differ: the bf16 path really ran.
  assert.ok(worst > 1e-5, `bf16 logprobs equal f32 ones (worst Δ ${worst}): were the weights rounded?`);
});

test('on the bf16 model the native kernels agree with the reference kernels', () => {
  const native = forwardLogprobs(nativeKernels);
  const reference = forwardLogprobs(referenceKernels);
  // Both compute the same bf16 products, summed in f32 (native) or f64 (reference); measured
  // 5e-7 here. A sum that lands on the other side of a bf16 rounding boundary of the next GEMM's
  // input moves that value by one bf16 step, which is rare and small, hence the margin.
  for (let i = 0; i < native.length; i++) assert.ok(Math.abs(native[i] - reference[i]) <= 1e-4, `logprob ${i}: ${native[i]} vs ${reference[i]}`);
});

function datum(tokens: number[]): Datum {
  const n = tokens.length - 1;
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: tokens.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: tokens.slice(1), dtype: 'int64', shape: [n] },
      weights: { data: new Array(n).fill(1), dtype: 'float32', shape: [n] },
    },
  };
}

test('a LoRA step on bf16 base weights lowers the loss; the adapter, gradients and moments stay f32', () => {
  const adapter = createAdapterState(cfg, { rank: 4, alpha: 8, seed: 3, trainAttn: true, trainMlp: true, trainUnembed: true });
  const data = sequences.map(datum);
  const adam = { learning_rate: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 };
  const losses: number[] = [];
  for (let step = 0; step < 4; step++) {
    losses.push(runForwardBackward(nativeKernels, bf16Model, adapter, data, 'cross_entropy', null, false).metrics['loss:sum']);
    runOptimStep(nativeKernels, adapter, adam);
  }
  const after = runForwardBackward(nativeKernels, bf16Model, adapter, data, 'cross_entropy', null, true).metrics['loss:sum'];
  assert.ok(after < 0.9 * losses[0], `loss went from ${losses[0]} to ${after} (${losses.join(', ')})`);
  for (const maps of [adapter.params, adapter.grads, adapter.adamM, adapter.adamV]) {
    for (const p of maps.values()) assert.ok(p.A instanceof Float32Array && p.B instanceof Float32Array);
  }
});

test('sampled logprobs on bf16 base weights equal the forward pass logprobs of the same tokens', () => {
  const ctx: SamplerContext = { kernels: nativeKernels, model: bf16Model, adapter: null, maxContextLength: 128, decode: () => '' };
  const prompt = sequences[0].slice(0, 9);
  const r = runSampling(ctx, {
    prompt, numSamples: 3, promptLogprobs: false, topkPromptLogprobs: 0,
    params: { maxTokens: 12, temperature: 0.8, topK: -1, topP: 1, seed: 11, stopTokenIds: [], stopStrings: [] },
  });
  for (const s of r.sequences) {
    const fwd = forwardLogprobs(nativeKernels, bf16Model, [[...prompt, ...s.tokens]]).subarray(prompt.length - 1);
    assert.equal(s.logprobs.length, s.tokens.length);
    // Decoding takes the few-row bf16 kernel and the forward pass the packed one: the same
    // products summed in another order (see the native/reference test for the bound).
    for (let i = 0; i < s.tokens.length; i++) assert.ok(Math.abs(s.logprobs[i] - fwd[i]) <= 1e-4, `token ${i}: ${s.logprobs[i]} vs ${fwd[i]}`);
  }
});

test('bf16 base weights take half the bytes of f32 ones (the engine\'s own accounting)', () => {
  const f32 = baseWeightBytes(f32Model.weights);
  const bf16 = baseWeightBytes(bf16Model.weights);
  const d = cfg.hiddenSize, q = cfg.numHeads * cfg.headDim, kv = cfg.numKvHeads * cfg.headDim, ff = cfg.intermediateSize;
  const linears = cfg.numLayers * (d * q * 2 + d * kv * 2 + 3 * d * ff) + 2 * cfg.vocabSize * d;
  const norms = cfg.numLayers * (2 * d + 2 * cfg.headDim) + d;
  assert.equal(f32, 4 * (linears + norms));
  assert.equal(bf16, 2 * linears + 4 * norms);
  assert.ok(bf16 / f32 <= 0.55 && bf16 / f32 > 0.5, `ratio ${bf16 / f32}`);
});

test('an MoE model in bf16: linears and experts bf16, the router f32, logprobs close to f32', () => {
  const moeCfg: ModelConfig = smallModelConfig({
    family: 'qwen3', vocabSize: 97, hiddenSize: 48, intermediateSize: 80, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 12,
    tieWordEmbeddings: false, ropeTheta: 1e6, eosTokenIds: [],
    moe: { numExperts: 4, numExpertsPerTok: 2, moeIntermediateSize: 32, normTopkProb: true, decoderSparseStep: 1, mlpOnlyLayers: [] },
  });
  const w = randomModelWeights(moeCfg, 7, { std: 0.15 });
  const f32: LoadedModel<FrozenWeight> = { name: 'moe-f32', config: moeCfg, weights: w };
  const bf16: LoadedModel<FrozenWeight> = { name: 'moe-bf16', config: moeCfg, weights: convertWeights(w, 'bf16') };
  for (const l of bf16.weights.layers) {
    assert.ok(isBf16(l.q) && l.moe, 'attention in bf16, a sparse MLP');
    assert.ok(isBf16(l.moe.gateUp) && isBf16(l.moe.down) && l.moe.router instanceof Float32Array, 'experts bf16, the router f32');
  }
  // Experts count in the bytes; only norms and routers stay f32.
  const ratio = baseWeightBytes(bf16.weights) / baseWeightBytes(f32.weights);
  assert.ok(ratio > 0.5 && ratio < 0.55, `bytes ratio ${ratio}`);
  const seqs = sequences.map((s) => s.slice(0, 20));
  const batch = packSequences(moeCfg, seqs.map((s) => ({ tokens: s.slice(0, -1), targets: s.slice(1) })), 1);
  const a = runTrainingPass(nativeKernels, f32, null, batch);
  const b = runTrainingPass(nativeKernels, bf16, null, batch);
  let worst = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    worst = Math.max(worst, e);
    sum += e;
  }
  // Most tokens move as little as in a dense model; a token whose router scores nearly tie may be
  // routed to another expert in bf16, which moves its logprob further (worst measured 0.38 here).
  const mean = sum / a.length;
  assert.ok(worst > 0 && mean <= 0.03, `mean |Δ logprob| ${mean} (worst ${worst})`);
});
