import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Datum } from '@tinker-ts/protocol';
import type { Kernels } from './kernels.js';
import type { AdapterState, LoadedModel, ModelConfig } from './model-types.js';
import { referenceKernels } from './reference-kernels.js';
import { nativeAddonPath, nativeKernels } from './native-kernels.js';
import { createAdapterState, randomModelWeights, smallModelConfig } from './init.js';
import { runForwardBackward, runOptimStep } from './training.js';
import { EngineUserError } from './errors.js';

const cfg: ModelConfig = smallModelConfig({ family: 'qwen3', vocabSize: 48, hiddenSize: 32, intermediateSize: 64, numHeads: 4, numKvHeads: 2, headDim: 8, maxPositionEmbeddings: 32 });
const model: LoadedModel = { name: 'tiny-qwen3', config: cfg, weights: randomModelWeights(cfg, 5) };
const freshAdapter = (): AdapterState => createAdapterState(cfg, { rank: 8, alpha: 16, seed: 1, trainAttn: true, trainMlp: true, trainUnembed: true });

function textDatum(tokens: number[], inputs: Datum['loss_fn_inputs']): Datum {
  return { model_input: { chunks: [{ type: 'encoded_text', tokens }] }, loss_fn_inputs: inputs };
}

/** A supervised datum the way the SDK builds it: input = seq[:-1], targets = seq[1:]. */
function sftDatum(seq: number[], weights?: number[]): Datum {
  const n = seq.length - 1;
  return textDatum(seq.slice(0, n), {
    target_tokens: { data: seq.slice(1), dtype: 'int64' },
    weights: { data: weights ?? new Array(n).fill(1), dtype: 'float32' },
  });
}

function gradNormSquared(a: AdapterState): number {
  let s = 0;
  for (const g of a.grads.values()) for (const buf of [g.A, g.B]) for (const x of buf) s += x * x;
  return s;
}

const nativeBuilt = existsSync(nativeAddonPath);
const kernelSets: { kernels: Kernels; skip: string | false }[] = [
  { kernels: referenceKernels, skip: false },
  { kernels: nativeKernels, skip: nativeBuilt ? false : `native addon not built (${nativeAddonPath} missing)` },
];

for (const { kernels: k, skip } of kernelSets) {
  describe(`training entry points with ${skip ? 'native' : k.name} kernels`, { skip }, () => {
    it('a tiny model memorises a few short sequences with LoRA (cross_entropy + AdamW)', () => {
      const adapter = freshAdapter();
      const seqs = [[1, 7, 3, 9, 4, 4, 2, 11], [5, 6, 7, 8, 9, 10, 11, 12], [20, 3, 20, 3, 21, 30, 31], [40, 2, 17, 2, 17, 2]];
      const data = seqs.map((s) => sftDatum(s));
      const losses: number[] = [];
      for (let step = 0; step < 30; step++) {
        const out = runForwardBackward(k, model, adapter, data, 'cross_entropy', null, false);
        losses.push(out.metrics['loss:sum']);
        runOptimStep(k, adapter, { learning_rate: 2e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0, grad_clip_norm: 0 });
      }
      const final = runForwardBackward(k, model, adapter, data, 'cross_entropy', null, true).metrics['loss:sum'];
      const tokens = seqs.reduce((n, s) => n + s.length - 1, 0);
      assert.ok(losses[0] > 0.9 * tokens * Math.log(cfg.vocabSize), `initial loss ${losses[0]} is about uniform`);
      assert.ok(final < 0.1 * losses[0], `loss fell from ${losses[0]} to ${final}`);
    });

    it('outputs per-datum logprobs and elementwise_loss, and loss:sum = Σ −w·logprob', () => {
      const adapter = freshAdapter();
      const data = [sftDatum([1, 2, 3, 4], [1, 0, 2]), sftDatum([9, 8, 7, 6, 5, 4])];
      const out = runForwardBackward(k, model, adapter, data, 'cross_entropy', null, true);
      assert.equal(out.loss_fn_outputs.length, 2);
      assert.deepEqual(out.loss_fn_outputs[0].logprobs.shape, [3]);
      assert.deepEqual(out.loss_fn_outputs[1].elementwise_loss.shape, [5]);
      const lp0 = out.loss_fn_outputs[0].logprobs.data;
      assert.ok(lp0.every((x) => x < 0));
      assert.deepEqual(out.loss_fn_outputs[0].elementwise_loss.data.map((x) => Math.round(x * 1e5)), [-lp0[0], 0, -2 * lp0[2]].map((x) => Math.round(x * 1e5)));
      let sum = 0;
      for (const o of out.loss_fn_outputs) for (const x of o.elementwise_loss.data) sum += x;
      assert.ok(Math.abs(out.metrics['loss:sum'] - sum) < 1e-4);
      for (const key of Object.keys(out.metrics)) assert.equal(key.split(':').length, 2);
      assert.equal(gradNormSquared(adapter), 0, 'forward only leaves the gradients alone');
    });

    it('gradients accumulate across calls until the optimizer step, which clears them', () => {
      const data = [sftDatum([3, 1, 4, 1, 5, 9])];
      const once = freshAdapter();
      runForwardBackward(k, model, once, data, 'cross_entropy', null, false);
      const twice = freshAdapter();
      runForwardBackward(k, model, twice, data, 'cross_entropy', null, false);
      runForwardBackward(k, model, twice, data, 'cross_entropy', null, false);
      const g1 = gradNormSquared(once);
      assert.ok(g1 > 0);
      assert.ok(Math.abs(gradNormSquared(twice) / g1 - 4) < 1e-3);
      runOptimStep(k, twice, { learning_rate: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0, grad_clip_norm: 0 });
      assert.equal(gradNormSquared(twice), 0);
      assert.equal(twice.step, 1);
    });

    it('sum reduction: one batch of two datums gives the same gradient as the two datums in separate calls', () => {
      const a = sftDatum([3, 1, 4, 1, 5]);
      const b = sftDatum([2, 7, 1, 8, 2, 8, 1, 8]);
      const together = freshAdapter();
      runForwardBackward(k, model, together, [a, b], 'cross_entropy', null, false);
      const apart = freshAdapter();
      runForwardBackward(k, model, apart, [a], 'cross_entropy', null, false);
      runForwardBackward(k, model, apart, [b], 'cross_entropy', null, false);
      for (const [key, g] of together.grads) {
        const h = apart.grads.get(key)!;
        for (let i = 0; i < g.B.length; i++) assert.ok(Math.abs(g.B[i] - h.B[i]) <= 1e-5 + 1e-4 * Math.abs(h.B[i]), key);
      }
    });

    it('RL losses run end to end; importance_sampling with sampler logprobs = learner logprobs equals −Σ A', () => {
      const adapter = freshAdapter();
      const tokens = [4, 8, 15, 16, 23];
      const targets = [8, 15, 16, 23, 42];
      const fwd = runForwardBackward(k, model, adapter, [textDatum(tokens, {
        target_tokens: { data: targets, dtype: 'int64' }, weights: { data: [1, 1, 1, 1, 1], dtype: 'float32' },
      })], 'cross_entropy', null, true);
      const lp = fwd.loss_fn_outputs[0].logprobs.data;
      const adv = [0, 0, 1, -0.5, 2];
      const rl = (loss: string, config: Record<string, number> | null) => runForwardBackward(k, model, adapter, [textDatum(tokens, {
        target_tokens: { data: targets, dtype: 'int64' }, logprobs: { data: lp, dtype: 'float32' }, advantages: { data: adv, dtype: 'float32' },
      })], loss, config, false);
      const is = rl('importance_sampling', null);
      assert.ok(Math.abs(is.metrics['loss:sum'] - -2.5) < 1e-4, `${is.metrics['loss:sum']}`);
      assert.ok(gradNormSquared(adapter) > 0);
      assert.equal(rl('ppo', null).metrics['clip_fraction:mean'], 0);
      assert.ok(Number.isFinite(rl('cispo', null).metrics['loss:sum']));
      assert.ok(Number.isFinite(rl('dro', { beta: 0.1 }).metrics['loss:sum']));
    });

    it('top-K distillation: (N, K) targets and weights give (N, K) outputs', () => {
      const adapter = freshAdapter();
      const out = runForwardBackward(k, model, adapter, [textDatum([1, 2, 3], {
        target_tokens: { data: [2, 5, 3, 6, 4, 7], dtype: 'int64', shape: [3, 2] },
        weights: { data: [0.7, 0.3, 0.5, 0.5, 1, 0], dtype: 'float32', shape: [3, 2] },
      }), sftDatum([5, 6, 7])], 'cross_entropy', null, false);
      assert.deepEqual(out.loss_fn_outputs[0].logprobs.shape, [3, 2]);
      assert.deepEqual(out.loss_fn_outputs[1].logprobs.shape, [2]);
      const single = runForwardBackward(k, model, adapter, [sftDatum([1, 2, 3, 4])], 'cross_entropy', null, true);
      assert.ok(Math.abs(out.loss_fn_outputs[0].logprobs.data[4] - single.loss_fn_outputs[0].logprobs.data[2]) < 1e-5);
      assert.equal(out.loss_fn_outputs[0].elementwise_loss.data[5], 0);
    });
  });
}

describe('training input checks', () => {
  const k = referenceKernels;
  const adapter = freshAdapter();
  const good = sftDatum([1, 2, 3, 4]);
  const rejects = (data: Datum[], loss: string, config: Record<string, number> | null, pattern: RegExp): void => {
    assert.throws(() => runForwardBackward(k, model, adapter, data, loss, config, false),
      (e: unknown) => e instanceof EngineUserError && pattern.test((e as Error).message), `expected ${pattern}`);
  };

  it('rejects unknown losses and loss configs', () => {
    rejects([good], 'mse', null, /unknown loss function 'mse'/);
    rejects([good], 'cross_entropy', { beta: 1 }, /beta/);
    rejects([good], 'dro', null, /beta/);
  });

  it('rejects missing, unknown and mismatched loss inputs', () => {
    rejects([textDatum([1, 2, 3], { target_tokens: { data: [2, 3], dtype: 'int64' }, weights: { data: [1, 1], dtype: 'float32' } })], 'cross_entropy', null, /not shifted/);
    rejects([textDatum([1, 2, 3], { target_tokens: { data: [2, 3, 4], dtype: 'int64' }, weights: { data: [1, 1], dtype: 'float32' } })], 'cross_entropy', null, /weights/);
    rejects([textDatum([1, 2, 3], { target_tokens: { data: [2, 3, 4], dtype: 'int64' }, weights: { data: [1, 1, 1], dtype: 'float32' }, mask: { data: [1, 1, 1], dtype: 'float32' } })], 'cross_entropy', null, /mask/);
    rejects([good], 'ppo', null, /logprobs|advantages/);
  });

  it('rejects token ids outside the vocabulary, images and over-long sequences', () => {
    rejects([sftDatum([1, 2, 48])], 'cross_entropy', null, /outside the vocabulary/);
    rejects([sftDatum([-1, 2, 3])], 'cross_entropy', null, /outside the vocabulary/);
    rejects([{ model_input: { chunks: [{ type: 'image', data: 'AAAA', format: 'png' }] }, loss_fn_inputs: good.loss_fn_inputs } as Datum], 'cross_entropy', null, /image/);
    rejects([sftDatum(new Array(34).fill(1))], 'cross_entropy', null, /at most 32/);
  });

  it('cross_entropy without weights counts every target once', () => {
    const tokens = { data: [2, 3, 4], dtype: 'int64' as const };
    const bare = runForwardBackward(k, model, adapter, [textDatum([1, 2, 3], { target_tokens: tokens })], 'cross_entropy', null, true);
    const ones = runForwardBackward(k, model, adapter, [textDatum([1, 2, 3], { target_tokens: tokens, weights: { data: [1, 1, 1], dtype: 'float32' } })], 'cross_entropy', null, true);
    assert.equal(bare.metrics['loss:sum'], ones.metrics['loss:sum']);
    assert.ok(bare.metrics['loss:sum'] > 0);
  });

  it('a rejected request leaves the gradients untouched', () => {
    assert.equal(gradNormSquared(adapter), 0);
  });
});
