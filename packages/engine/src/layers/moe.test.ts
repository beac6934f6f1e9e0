import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Kernels } from '../kernels.js';
import type { AdapterState, LoadedModel, ModelConfig } from '../model-types.js';
import { referenceKernels } from '../reference-kernels.js';
import { nativeAddonPath, nativeKernels } from '../native-kernels.js';
import { createAdapterState, randomModelWeights, smallModelConfig } from '../init.js';
import { Prng } from '../prng.js';
import { expertLoraKey, isSparseLayer } from '../moe-config.js';
import { runTrainingPass } from '../model.js';
import { packSequences } from '../packed-batch.js';
import { createKvCache } from '../kv-cache.js';
import { forwardWithCache } from '../cached-forward.js';
import { RouterLoad } from '../router-load.js';
import { allocBlock, allocScratch } from './block-activations.js';
import { mlpHalfBackward, mlpHalfForward } from './mlp.js';
import { makeContext } from './pass-context.js';

const nativeBuilt = existsSync(nativeAddonPath);
const kernelSets: { kernels: Kernels; skip: string | false }[] = [
  { kernels: referenceKernels, skip: false },
  { kernels: nativeKernels, skip: nativeBuilt ? false : `native addon not built (${nativeAddonPath} missing)` },
];

function moeConfig(normTopkProb: boolean, mlpOnlyLayers: number[] = []): ModelConfig {
  return smallModelConfig({
    family: 'qwen3', vocabSize: 37, hiddenSize: 16, intermediateSize: 24, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 4,
    moe: { numExperts: 5, numExpertsPerTok: 2, moeIntermediateSize: 6, normTopkProb, decoderSparseStep: 1, mlpOnlyLayers },
  });
}

/** Non-trivial norms and a router with spread-out logits, so every gradient path is exercised. */
function testModel(cfg: ModelConfig, seed = 1): LoadedModel {
  const weights = randomModelWeights(cfg, seed, { std: 0.25 });
  const rng = new Prng(seed, 'norms');
  const jitter = (w: Float32Array | null): void => { if (w) for (let i = 0; i < w.length; i++) w[i] = 1 + 0.3 * rng.normal(); };
  for (const l of weights.layers) { jitter(l.inputNorm); jitter(l.postAttnNorm); jitter(l.qNorm); jitter(l.kNorm); }
  jitter(weights.finalNorm);
  return { name: 'test', config: cfg, weights };
}

function testAdapter(cfg: ModelConfig, seed = 2, rank = 2): AdapterState {
  const adapter = createAdapterState(cfg, { rank, alpha: 2 * rank, seed, trainAttn: true, trainMlp: true, trainUnembed: false });
  const rng = new Prng(seed, 'B');
  for (const p of adapter.params.values()) rng.fillNormal(p.B, 0, 0.3);
  return adapter;
}

function sumProduct(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Central difference of the directional derivative along a mix of the gradient and a random direction. */
function checkDirectional(what: string, param: Float32Array, grad: Float32Array, loss: () => number, rng: Prng): void {
  const saved = param.slice();
  const gradNorm = Math.sqrt(sumProduct(grad, grad));
  assert.ok(gradNorm > 1e-3, `${what}: gradient is ~0 (norm ${gradNorm})`);
  // Small steps: a step that moves a token across the top-k boundary would make the loss jump.
  const eps = 2e-3 / Math.max(1, gradNorm);
  const dir = rng.fillNormal(new Float32Array(param.length), 0, 1);
  const randNorm = Math.sqrt(sumProduct(dir, dir));
  for (let i = 0; i < dir.length; i++) dir[i] = dir[i] / randNorm + grad[i] / gradNorm;
  const norm = Math.sqrt(sumProduct(dir, dir));
  const plus = new Float32Array(param.length);
  const minus = new Float32Array(param.length);
  for (let i = 0; i < param.length; i++) { plus[i] = saved[i] + (eps * dir[i]) / norm; minus[i] = saved[i] - (eps * dir[i]) / norm; }
  let analytic = 0;
  for (let i = 0; i < param.length; i++) analytic += grad[i] * (plus[i] - minus[i]);
  analytic /= 2 * eps;
  param.set(plus);
  const lp = loss();
  param.set(minus);
  const lm = loss();
  param.set(saved);
  const fd = (lp - lm) / (2 * eps);
  const tol = 2e-3 + 1e-2 * Math.abs(analytic);
  assert.ok(Math.abs(fd - analytic) <= tol, `${what}: finite difference ${fd} vs analytic ${analytic}`);
}

for (const { kernels: k, skip } of kernelSets) {
  describe(`Qwen3-MoE sparse block with ${skip ? 'native' : k.name} kernels`, { skip }, () => {
    for (const norm of [true, false]) {
      it(`backward matches finite differences for the input and every expert adapter (norm_topk_prob=${norm})`, () => {
        const cfg = moeConfig(norm);
        const model = testModel(cfg);
        const adapter = testAdapter(cfg);
        const T = 7;
        const d = cfg.hiddenSize;
        const rng = new Prng(8);
        const ctx = makeContext(k, model, adapter, new Int32Array(T), 0);
        const a = allocBlock(ctx, 0, T);
        const xMid = rng.fillNormal(new Float32Array(T * d), 0, 1);
        const G = rng.fillNormal(new Float32Array(T * d), 0, 1);
        const out = new Float32Array(T * d);
        const loss = (): number => { a.xMid.set(xMid); mlpHalfForward(ctx, 0, a, out); return sumProduct(G, out); };
        loss();
        const routed = a.moe!.slots.filter((s) => s.length > 0).length;
        assert.ok(routed >= 3, `tokens reach several experts (${routed})`);
        const s = allocScratch(ctx);
        s.dRes.set(G);
        for (const g of adapter.grads.values()) { g.A.fill(0); g.B.fill(0); }
        mlpHalfBackward(ctx, 0, a, s);
        checkDirectional('dxMid', xMid, s.dRes.slice(), loss, rng);
        for (let e = 0; e < 5; e++) {
          if (a.moe!.slots[e].length === 0) continue;
          for (const proj of ['gate_up', 'down'] as const) {
            const key = expertLoraKey(0, e, proj);
            checkDirectional(`${key}.A`, adapter.params.get(key)!.A, adapter.grads.get(key)!.A, loss, rng);
            checkDirectional(`${key}.B`, adapter.params.get(key)!.B, adapter.grads.get(key)!.B, loss, rng);
          }
        }
      });
    }

    it('the routing gradient reaches the input: it differs from the gradient with routing weights held fixed', () => {
      const cfg = moeConfig(true);
      const model = testModel(cfg);
      const T = 5;
      const d = cfg.hiddenSize;
      const rng = new Prng(9);
      const ctx = makeContext(k, model, null, new Int32Array(T), 0);
      const a = allocBlock(ctx, 0, T);
      a.xMid.set(rng.fillNormal(new Float32Array(T * d), 0, 1));
      mlpHalfForward(ctx, 0, a, new Float32Array(T * d));
      const s = allocScratch(ctx);
      s.dRes.set(rng.fillNormal(new Float32Array(T * d), 0, 1));
      const withRouting = s.dRes.slice();
      const saved = model.weights.layers[0].moe!.router;
      // A zero router would give dz = 0 in x; compare with a run whose router gradient is cut.
      const full = allocScratch(ctx);
      full.dRes.set(withRouting);
      mlpHalfBackward(ctx, 0, a, full);
      model.weights.layers[0].moe!.router = new Float32Array(saved.length);
      const cut = allocScratch(ctx);
      cut.dRes.set(withRouting);
      mlpHalfBackward(ctx, 0, a, cut);
      model.weights.layers[0].moe!.router = saved;
      let diff = 0;
      for (let i = 0; i < T * d; i++) diff = Math.max(diff, Math.abs(full.dRes[i] - cut.dRes[i]));
      assert.ok(diff > 1e-4, `the router path changes dx (max diff ${diff})`);
    });
  });

  describe(`Qwen3-MoE model with ${skip ? 'native' : k.name} kernels`, { skip }, () => {
    it('every LoRA gradient matches finite differences (sparse and mlp-only layers)', () => {
      const cfg = moeConfig(true, [1]);
      assert.deepEqual([0, 1, 2].map((l) => isSparseLayer(cfg, l)), [true, false, true]);
      const model = testModel(cfg);
      const adapter = testAdapter(cfg);
      // As PEFT on transformers 5: the dense layer of an MoE model carries no MLP adapter.
      assert.ok(!adapter.params.has('layers.1.gate') && adapter.params.has(expertLoraKey(2, 4, 'gate_up')));
      assert.equal(adapter.params.get(expertLoraKey(0, 0, 'gate_up'))!.A.length, 4 * cfg.hiddenSize, 'gate_up has rank 2r');
      const rng = new Prng(11);
      const seqs = [5, 3].map((n) => {
        const tokens = Array.from({ length: n + 1 }, () => Math.floor(rng.uniform() * cfg.vocabSize));
        return { tokens: tokens.slice(0, n), targets: tokens.slice(1) };
      });
      const batch = packSequences(cfg, seqs, 1);
      const c = rng.fillNormal(new Float32Array(batch.tokens.length), 0, 1);
      const loss = (): number => sumProduct(c, runTrainingPass(k, model, adapter, batch));
      for (const g of adapter.grads.values()) { g.A.fill(0); g.B.fill(0); }
      const load = new RouterLoad();
      runTrainingPass(k, model, adapter, batch, { routerLoad: load, lossGradient: (r0, n, _lp, dlp) => dlp.set(c.subarray(r0, r0 + n)) });
      const m = load.metrics();
      // 2 sparse layers × 5 experts; each token goes to 2 of 5, so the mean load is 2/5.
      assert.ok(Math.abs(m['moe/expert_load:mean'] - 0.4) < 1e-12, JSON.stringify(m));
      assert.ok(m['moe/expert_load:max'] >= 0.4 && m['moe/expert_load:min'] <= 0.4);
      for (const key of ['layers.0.q', 'layers.1.v', expertLoraKey(0, 1, 'down'), expertLoraKey(2, 3, 'gate_up')]) {
        const p = adapter.params.get(key)!;
        const g = adapter.grads.get(key)!;
        if (Math.sqrt(sumProduct(g.B, g.B)) < 1e-3) continue; // an expert no token of this batch reached
        checkDirectional(`${key}.A`, p.A, g.A, loss, rng);
        checkDirectional(`${key}.B`, p.B, g.B, loss, rng);
      }
    });

    it('forwardWithCache (prefill then single-token steps) equals the training forward', () => {
      const cfg = moeConfig(false, [1]);
      const model = testModel(cfg);
      const adapter = testAdapter(cfg);
      const view = { params: adapter.params, settings: adapter.settings };
      const rng = new Prng(21);
      const tokens = Array.from({ length: 9 }, () => Math.floor(rng.uniform() * cfg.vocabSize));
      const cache = createKvCache(cfg, 1, 16);
      let last = forwardWithCache(k, model, view, cache, Int32Array.from(tokens.slice(0, 5)), 5, 'last')!.slice();
      const cached: number[] = [];
      for (let i = 5; i < 9; i++) {
        k.logSoftmaxRows(last, 1, cfg.vocabSize);
        cached.push(last[tokens[i]]);
        if (i < 8) last = forwardWithCache(k, model, view, cache, Int32Array.from([tokens[i]]), 1, 'last')!.slice();
      }
      const lp = runTrainingPass(k, model, view, packSequences(cfg, [{ tokens: tokens.slice(0, 8), targets: tokens.slice(1) }], 1));
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(cached[i] - lp[4 + i]) <= 1e-4, `step ${i}: ${cached[i]} vs ${lp[4 + i]}`);
    });
  });
}
