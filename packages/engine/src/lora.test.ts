import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as k } from './reference-kernels.js';
import { adaptedModules, linearBackward, linearForward } from './lora.js';
import { smallModelConfig } from './init.js';
import { Prng } from './prng.js';

describe('LoRA linear', () => {
  const rows = 5, inDim = 6, outDim = 4, r = 3, scale = 1.5;
  const rng = new Prng(3);
  const x = rng.fillNormal(new Float32Array(rows * inDim), 0, 1);
  const W = rng.fillNormal(new Float32Array(outDim * inDim), 0, 0.5);
  const pair = { A: rng.fillNormal(new Float32Array(r * inDim), 0, 0.5), B: rng.fillNormal(new Float32Array(outDim * r), 0, 0.5), inDim, outDim };
  const G = rng.fillNormal(new Float32Array(rows * outDim), 0, 1);

  /** L = Σ G ⊙ y in f64, with y = x·Wᵀ + s·x·Aᵀ·Bᵀ computed by hand. */
  const lossByHand = (): number => {
    let L = 0;
    for (let i = 0; i < rows; i++) for (let o = 0; o < outDim; o++) {
      let y = 0;
      for (let j = 0; j < inDim; j++) y += x[i * inDim + j] * W[o * inDim + j];
      for (let q = 0; q < r; q++) {
        let u = 0;
        for (let j = 0; j < inDim; j++) u += x[i * inDim + j] * pair.A[q * inDim + j];
        y += scale * u * pair.B[o * r + q];
      }
      L += G[i * outDim + o] * y;
    }
    return L;
  };

  it('forward equals x·Wᵀ + s·(x·Aᵀ)·Bᵀ, and accumulate adds onto y', () => {
    const y = new Float32Array(rows * outDim);
    linearForward(k, x, rows, W, inDim, outDim, y, false, { pair, scale, u: new Float32Array(rows * r) });
    let L = 0;
    for (let i = 0; i < y.length; i++) L += G[i] * y[i];
    assert.ok(Math.abs(L - lossByHand()) < 1e-4);
    const y2 = y.slice();
    linearForward(k, x, rows, W, inDim, outDim, y2, true, { pair, scale, u: new Float32Array(rows * r) });
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y2[i] - 2 * y[i]) < 1e-5);
  });

  it('backward (dx, dA, dB) matches central finite differences coordinate by coordinate', () => {
    const u = new Float32Array(rows * r);
    linearForward(k, x, rows, W, inDim, outDim, new Float32Array(rows * outDim), false, { pair, scale, u });
    const grad = { A: new Float32Array(pair.A.length), B: new Float32Array(pair.B.length), inDim, outDim };
    const dx = new Float32Array(x.length);
    linearBackward(k, G, x, rows, W, inDim, outDim, dx, false, { pair, grad, scale, u, du: new Float32Array(rows * r) });
    for (const [name, param, g] of [['x', x, dx], ['A', pair.A, grad.A], ['B', pair.B, grad.B]] as const) {
      for (let i = 0; i < param.length; i++) {
        const saved = param[i];
        const eps = 1e-2;
        param[i] = saved + eps; const hi = param[i]; const lp = lossByHand();
        param[i] = saved - eps; const lo = param[i]; const lm = lossByHand();
        param[i] = saved;
        const fd = (lp - lm) / (hi - lo); // the step actually stored in f32
        assert.ok(Math.abs(fd - g[i]) < 1e-4 + 1e-4 * Math.abs(fd), `d${name}[${i}]: ${g[i]} vs ${fd}`);
      }
    }
  });

  it('lists the adapted modules with their shapes', () => {
    const cfg = smallModelConfig({ numKvHeads: 2, numLayers: 1 });
    const shapes = adaptedModules(cfg, { rank: 2, alpha: 2, seed: 0, trainAttn: true, trainMlp: false, trainUnembed: true });
    assert.deepEqual(shapes.map((m) => [m.key, m.inDim, m.outDim]), [
      ['layers.0.q', 32, 32], ['layers.0.k', 32, 16], ['layers.0.v', 32, 16], ['layers.0.o', 32, 32], ['lm_head', 32, 64],
    ]);
  });
});
