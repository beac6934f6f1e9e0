import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels } from './reference-kernels.js';
import { optimStep, DEFAULT_ADAM_PARAMS, type AdamParams } from './adamw.js';
import { zerosLike } from './lora.js';
import type { AdapterState, LoraParams, LoraSettings } from './model-types.js';
import { EngineUserError } from './errors.js';

function adapterWith(A: number[], B: number[]): AdapterState {
  const params: LoraParams = new Map([['layers.0.q', { A: Float32Array.from(A), B: Float32Array.from(B), inDim: A.length, outDim: B.length }]]);
  const settings: LoraSettings = { rank: 1, alpha: 1, seed: 0, trainAttn: true, trainMlp: false, trainUnembed: false };
  return { settings, params, grads: zerosLike(params), adamM: zerosLike(params), adamV: zerosLike(params), step: 0 };
}

/** torch.optim.AdamW with clip_grad_norm_ first, written out in f64 for a flat parameter vector. */
function torchAdamW(p: number[], grads: number[][], h: AdamParams): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  p = [...p];
  grads.forEach((g0, stepIndex) => {
    const step = stepIndex + 1;
    let g = [...g0];
    if (h.grad_clip_norm > 0) {
      const norm = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
      const coef = Math.min(1, h.grad_clip_norm / (norm + 1e-6));
      g = g.map((x) => x * coef);
    }
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - h.learning_rate * h.weight_decay;
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - h.beta1 ** step);
      const vHat = v[i] / (1 - h.beta2 ** step);
      p[i] -= (h.learning_rate * mHat) / (Math.sqrt(vHat) + h.eps);
    }
  });
  return p;
}

describe('AdamW optimizer step', () => {
  const A0 = [0.5, -0.3, 0.8];
  const B0 = [0.1, -0.2];
  const gradSeq = [
    [[0.3, -1.2, 0.05], [2.0, -0.4]],
    [[-0.1, 0.6, 0.2], [0.5, 0.9]],
    [[0.4, 0.1, -0.7], [-1.5, 0.3]],
  ];
  const cases: [string, AdamParams][] = [
    ['with weight decay, no clipping', { learning_rate: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip_norm: 0 }],
    ['with clipping by the global norm over A and B', { learning_rate: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-12, weight_decay: 0.05, grad_clip_norm: 1.0 }],
  ];
  for (const [label, h] of cases) {
    it(`3 steps equal torch.optim.AdamW ${label}`, () => {
      const adapter = adapterWith(A0, B0);
      const norms: number[] = [];
      for (const [gA, gB] of gradSeq) {
        const g = adapter.grads.get('layers.0.q')!;
        g.A.set(gA);
        g.B.set(gB);
        norms.push(optimStep(referenceKernels, adapter, h)['grad_norm:mean']);
        assert.ok(g.A.every((x) => x === 0) && g.B.every((x) => x === 0), 'gradients are zeroed after the step');
      }
      assert.equal(adapter.step, 3);
      const want = torchAdamW([...A0, ...B0], gradSeq.map(([a, b]) => [...a, ...b]), h);
      const got = [...adapter.params.get('layers.0.q')!.A, ...adapter.params.get('layers.0.q')!.B];
      got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 2e-6, `param ${i}: ${x} vs ${want[i]}`));
      norms.forEach((n, i) => assert.ok(Math.abs(n - Math.hypot(...gradSeq[i][0], ...gradSeq[i][1])) < 1e-5));
    });
  }

  it('clipping changes the result when the norm exceeds the limit', () => {
    const run = (clip: number): number[] => {
      const adapter = adapterWith(A0, B0);
      for (const [gA, gB] of gradSeq) {
        adapter.grads.get('layers.0.q')!.A.set(gA);
        adapter.grads.get('layers.0.q')!.B.set(gB);
        optimStep(referenceKernels, adapter, { ...DEFAULT_ADAM_PARAMS, learning_rate: 0.01, grad_clip_norm: clip });
      }
      return [...adapter.params.get('layers.0.q')!.A];
    };
    assert.notDeepEqual(run(0), run(0.5));
  });

  it('rejects invalid hyperparameters', () => {
    const adapter = adapterWith(A0, B0);
    assert.throws(() => optimStep(referenceKernels, adapter, { ...DEFAULT_ADAM_PARAMS, beta1: 1 }), EngineUserError);
    assert.throws(() => optimStep(referenceKernels, adapter, { ...DEFAULT_ADAM_PARAMS, learning_rate: -1 }), EngineUserError);
    assert.throws(() => optimStep(referenceKernels, adapter, { ...DEFAULT_ADAM_PARAMS, grad_clip_norm: Number.NaN }), EngineUserError);
    assert.equal(adapter.step, 0);
  });
});
