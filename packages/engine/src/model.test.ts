import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Kernels } from './kernels.js';
import type { AdapterState, LoadedModel, LoraModuleKind, ModelConfig } from './model-types.js';
import { referenceKernels } from './reference-kernels.js';
import { nativeAddonPath, nativeKernels } from './native-kernels.js';
import { createAdapterState, randomModelWeights, smallModelConfig } from './init.js';
import { DecodeWorkspace } from './decode-workspace.js';
import { Prng } from './prng.js';
import { loraKey, LM_HEAD_KEY } from './lora.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { createKvCache } from './kv-cache.js';
import { forwardWithCache } from './cached-forward.js';
import { attentionHalfBackward, attentionHalfForward } from './layers/attention.js';
import { allocBlock, allocScratch } from './layers/block-activations.js';
import { mlpHalfBackward, mlpHalfForward } from './layers/mlp.js';
import { makeContext, type AdapterView } from './layers/pass-context.js';

const nativeBuilt = existsSync(nativeAddonPath);
const kernelSets: { kernels: Kernels; skip: string | false }[] = [
  { kernels: referenceKernels, skip: false },
  { kernels: nativeKernels, skip: nativeBuilt ? false : `native addon not built (${nativeAddonPath} missing)` },
];

const llama2: ModelConfig = smallModelConfig({ vocabSize: 37, hiddenSize: 16, intermediateSize: 24, numHeads: 4, numKvHeads: 4, headDim: 4 });
const llamaScaledTied: ModelConfig = smallModelConfig({
  vocabSize: 41, hiddenSize: 16, intermediateSize: 20, numHeads: 2, numKvHeads: 1, headDim: 8, tieWordEmbeddings: true,
  ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 },
});
const qwenGqaTied: ModelConfig = smallModelConfig({
  family: 'qwen3', vocabSize: 43, hiddenSize: 16, intermediateSize: 24, numHeads: 4, numKvHeads: 2, headDim: 8, tieWordEmbeddings: true, ropeTheta: 1e6,
});
const qwenGqaUntied: ModelConfig = { ...qwenGqaTied, tieWordEmbeddings: false };

/** A model whose weights and norms are all non-trivial, so every gradient path is exercised. */
function testModel(cfg: ModelConfig, seed = 1): LoadedModel {
  const weights = randomModelWeights(cfg, seed, { std: 0.25 });
  const rng = new Prng(seed, 'norms');
  const jitter = (w: Float32Array | null): void => { if (w) for (let i = 0; i < w.length; i++) w[i] = 1 + 0.3 * rng.normal(); };
  for (const l of weights.layers) { jitter(l.inputNorm); jitter(l.postAttnNorm); jitter(l.qNorm); jitter(l.kNorm); }
  jitter(weights.finalNorm);
  return { name: 'test', config: cfg, weights };
}

/** An adapter on every module with random B (fresh adapters have B = 0, which would hide A's gradient). */
function testAdapter(cfg: ModelConfig, seed = 2, rank = 3): AdapterState {
  const adapter = createAdapterState(cfg, { rank, alpha: 2 * rank, seed, trainAttn: true, trainMlp: true, trainUnembed: true });
  const rng = new Prng(seed, 'B');
  for (const p of adapter.params.values()) rng.fillNormal(p.B, 0, 0.3);
  return adapter;
}

function randomTokens(rng: Prng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => Math.floor(rng.uniform() * vocab));
}

/**
 * Central-difference check of the directional derivative ⟨grad, δ⟩ along a unit direction δ that mixes
 * the gradient's own direction with a random one (so the derivative cannot vanish by chance):
 * perturbs `param` in place (restoring it) by ±eps·δ and evaluates `loss` (f64 on top of the f32 model).
 */
function checkDirectional(what: string, param: Float32Array, grad: Float32Array, loss: () => number, rng: Prng,
  opts: { eps?: number; rtol?: number; atol?: number } = {}): void {
  const saved = param.slice();
  const gradNorm = Math.sqrt(sumProduct(grad, grad));
  // A check that cannot fail is no check: the gradient under test must be non-trivial.
  assert.ok(gradNorm > 1e-3, `${what}: gradient is ~0 (norm ${gradNorm})`);
  // Steeper losses get smaller steps, keeping the third-order truncation error in check.
  const eps = opts.eps ?? 1e-2 / Math.max(1, gradNorm);
  const dir = rng.fillNormal(new Float32Array(param.length), 0, 1);
  const randNorm = Math.sqrt(sumProduct(dir, dir));
  for (let i = 0; i < dir.length; i++) dir[i] = dir[i] / randNorm + grad[i] / gradNorm;
  const norm = Math.sqrt(sumProduct(dir, dir));
  const plus = new Float32Array(param.length);
  const minus = new Float32Array(param.length);
  for (let i = 0; i < param.length; i++) { plus[i] = saved[i] + (eps * dir[i]) / norm; minus[i] = saved[i] - (eps * dir[i]) / norm; }
  // Compare against the perturbation actually representable in f32.
  let analytic = 0;
  for (let i = 0; i < param.length; i++) analytic += grad[i] * (plus[i] - minus[i]);
  analytic /= 2 * eps;
  param.set(plus);
  const lp = loss();
  param.set(minus);
  const lm = loss();
  param.set(saved);
  const fd = (lp - lm) / (2 * eps);
  const tol = (opts.atol ?? 1e-3) + (opts.rtol ?? 1e-2) * Math.abs(analytic);
  assert.ok(Math.abs(fd - analytic) <= tol, `${what}: finite difference ${fd} vs analytic ${analytic} (|diff| ${Math.abs(fd - analytic)} > ${tol})`);
}

function zeroGrads(adapter: AdapterState): void {
  for (const g of adapter.grads.values()) { g.A.fill(0); g.B.fill(0); }
}

function sumProduct(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

// ---------------------------------------------------------------------------------------------

for (const { kernels: k, skip } of kernelSets) {
  describe(`model stages with ${skip ? 'native' : k.name} kernels`, { skip }, () => {
    for (const cfg of [llama2, qwenGqaTied, llamaScaledTied]) {
      const label = `${cfg.family} H${cfg.numHeads}/KVH${cfg.numKvHeads}${cfg.ropeScaling ? ' llama3-rope' : ''}`;

      it(`attention half backward matches finite differences (${label})`, () => {
        const model = testModel(cfg);
        const adapter = testAdapter(cfg);
        const batch = packSequences(cfg, [{ tokens: [1, 2, 3], targets: [2, 3, 4] }, { tokens: [5, 6, 7, 8, 9], targets: [6, 7, 8, 9, 10] }], 1);
        const T = batch.tokens.length;
        const d = cfg.hiddenSize;
        const rng = new Prng(7);
        const x = rng.fillNormal(new Float32Array(T * d), 0, 1);
        const G = rng.fillNormal(new Float32Array(T * d), 0, 1);
        const ctx = makeContext(k, model, adapter, batch.positions, 8);
        const core = (q: Float32Array, kk: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array): void =>
          k.attentionForward(q, kk, v, out, lse, batch.seqStarts, cfg.numHeads, cfg.numKvHeads, cfg.headDim, 1 / Math.sqrt(cfg.headDim));
        const layer = 1;
        const a = allocBlock(ctx, layer, T);
        const loss = (): number => { attentionHalfForward(ctx, layer, x, a, core); return sumProduct(G, a.xMid); };
        loss();
        const s = allocScratch(ctx);
        s.dRes.set(G);
        zeroGrads(adapter);
        attentionHalfBackward(ctx, layer, x, a, batch.seqStarts, s, true);
        const dx = s.dRes.slice();
        checkDirectional('dx', x, dx, loss, rng);
        for (const kind of ['q', 'k', 'v', 'o'] as LoraModuleKind[]) {
          const key = loraKey(layer, kind);
          checkDirectional(`${key}.A`, adapter.params.get(key)!.A, adapter.grads.get(key)!.A, loss, rng);
          checkDirectional(`${key}.B`, adapter.params.get(key)!.B, adapter.grads.get(key)!.B, loss, rng);
        }
      });

      it(`MLP half backward matches finite differences (${label})`, () => {
        const model = testModel(cfg);
        const adapter = testAdapter(cfg);
        const T = 6;
        const d = cfg.hiddenSize;
        const rng = new Prng(8);
        const ctx = makeContext(k, model, adapter, new Int32Array(T), 0);
        const a = allocBlock(ctx, 0, T);
        const xMid = rng.fillNormal(new Float32Array(T * d), 0, 1);
        const G = rng.fillNormal(new Float32Array(T * d), 0, 1);
        const out = new Float32Array(T * d);
        const loss = (): number => { a.xMid.set(xMid); mlpHalfForward(ctx, 0, a, out); return sumProduct(G, out); };
        loss();
        const s = allocScratch(ctx);
        s.dRes.set(G);
        zeroGrads(adapter);
        mlpHalfBackward(ctx, 0, a, s);
        checkDirectional('dxMid', xMid, s.dRes.slice(), loss, rng);
        for (const kind of ['gate', 'up', 'down'] as LoraModuleKind[]) {
          const key = loraKey(0, kind);
          checkDirectional(`${key}.A`, adapter.params.get(key)!.A, adapter.grads.get(key)!.A, loss, rng);
          checkDirectional(`${key}.B`, adapter.params.get(key)!.B, adapter.grads.get(key)!.B, loss, rng);
        }
      });
    }
  });

  describe(`whole model with ${skip ? 'native' : k.name} kernels`, { skip }, () => {
    const cases: [string, ModelConfig][] = [
      ['2-layer Llama, untied head', llama2],
      ['2-layer Llama, tied head, GQA, llama3 rope scaling', llamaScaledTied],
      ['2-layer Qwen3, GQA, tied head', qwenGqaTied],
      ['2-layer Qwen3, GQA, untied head', qwenGqaUntied],
    ];
    for (const [label, cfg] of cases) {
      it(`every LoRA gradient matches finite differences: ${label}`, () => {
        const model = testModel(cfg);
        const adapter = testAdapter(cfg);
        const rng = new Prng(11);
        const seqs = [4, 7, 2].map((n) => {
          const tokens = randomTokens(rng, n + 1, cfg.vocabSize);
          return { tokens: tokens.slice(0, n), targets: tokens.slice(1) };
        });
        const batch = packSequences(cfg, seqs, 1);
        const c = rng.fillNormal(new Float32Array(batch.tokens.length), 0, 1);
        // Small head chunks so the chunked head path runs several chunks.
        const loss = (): number => sumProduct(c, runTrainingPass(k, model, adapter, batch, { headChunkRows: 5 }));
        zeroGrads(adapter);
        const lp = runTrainingPass(k, model, adapter, batch, {
          headChunkRows: 5,
          lossGradient: (r0, n, _lp, dlp) => dlp.set(c.subarray(r0, r0 + n)),
        });
        assert.ok(Math.abs(sumProduct(c, lp) - loss()) < 1e-4, 'training and forward-only passes agree');
        for (const [key, p] of adapter.params) {
          const g = adapter.grads.get(key)!;
          checkDirectional(`${key}.A`, p.A, g.A, loss, rng);
          checkDirectional(`${key}.B`, p.B, g.B, loss, rng);
        }
        assert.ok(adapter.params.has(LM_HEAD_KEY));
      });
    }

    it('top-K targets: K logprobs per position, -1 padding gives 0 and no gradient', () => {
      const cfg = qwenGqaTied;
      const model = testModel(cfg);
      const adapter = testAdapter(cfg);
      const single = (targets: number[]): Float32Array =>
        runTrainingPass(k, model, adapter, packSequences(cfg, [{ tokens: [3, 4, 5], targets }], 1));
      const top = runTrainingPass(k, model, adapter, packSequences(cfg, [{ tokens: [3, 4, 5], targets: [1, 2, 3, -1, 5, 6] }], 2));
      const a = single([1, 3, 5]);
      const b = single([2, 0, 6]);
      assert.ok(Math.abs(top[0] - a[0]) < 1e-5 && Math.abs(top[2] - a[1]) < 1e-5 && Math.abs(top[4] - a[2]) < 1e-5);
      assert.ok(Math.abs(top[1] - b[0]) < 1e-5 && Math.abs(top[5] - b[2]) < 1e-5);
      assert.equal(top[3], 0);
    });

    it('a fresh adapter (B = 0) leaves the logprobs of the base model unchanged', () => {
      const cfg = llama2;
      const model = testModel(cfg);
      const fresh = createAdapterState(cfg, { rank: 4, alpha: 8, seed: 3, trainAttn: true, trainMlp: true, trainUnembed: true });
      const batch = packSequences(cfg, [{ tokens: [1, 2, 3, 4], targets: [2, 3, 4, 5] }], 1);
      const base = runTrainingPass(k, model, null, batch);
      const adapted = runTrainingPass(k, model, fresh, batch);
      for (let i = 0; i < base.length; i++) assert.ok(Math.abs(base[i] - adapted[i]) < 1e-6);
      assert.ok(base.every((x) => x < 0 && Number.isFinite(x)));
    });

    for (const cfg of [llama2, qwenGqaTied, llamaScaledTied]) {
      it(`forwardWithCache (prefill, fork, single-token steps) equals the training forward: ${cfg.family}${cfg.ropeScaling ? ' llama3-rope' : ''}`, () => {
        const model = testModel(cfg);
        const adapter = testAdapter(cfg);
        const view: AdapterView = { params: adapter.params, settings: adapter.settings };
        const rng = new Prng(21);
        const prompt = randomTokens(rng, 6, cfg.vocabSize);
        const cont = [randomTokens(rng, 4, cfg.vocabSize), randomTokens(rng, 4, cfg.vocabSize)];
        const cache = createKvCache(cfg, 2, 16);
        // Prefill the prompt into both sequences, then decode each its own way.
        const prefill = forwardWithCache(k, model, view, cache, Int32Array.from([...prompt, ...prompt]), prompt.length, 'last')!;
        assert.deepEqual([...cache.lengths], [6, 6]);
        const cachedLogprobs: number[][] = [[], []];
        let last: Float32Array[] = [prefill.slice(0, cfg.vocabSize), prefill.slice(cfg.vocabSize)];
        const workspace = new DecodeWorkspace(); // the steps reuse one set of buffers, as the sampler's do
        for (let step = 0; step < 4; step++) {
          for (let s = 0; s < 2; s++) {
            const row = Float32Array.from(last[s]);
            k.logSoftmaxRows(row, 1, cfg.vocabSize);
            cachedLogprobs[s].push(row[cont[s][step]]);
          }
          if (step === 3) break;
          const out = forwardWithCache(k, model, view, cache, Int32Array.from([cont[0][step], cont[1][step]]), 1, 'last', workspace)!;
          last = [out.subarray(0, cfg.vocabSize), out.subarray(cfg.vocabSize)];
        }
        for (let s = 0; s < 2; s++) {
          const full = [...prompt, ...cont[s]];
          const lp = runTrainingPass(k, model, view, packSequences(cfg, [{ tokens: full.slice(0, 9), targets: full.slice(1, 10) }], 1));
          for (let step = 0; step < 4; step++) {
            const want = lp[5 + step];
            assert.ok(Math.abs(cachedLogprobs[s][step] - want) <= 1e-4, `seq ${s} step ${step}: cached ${cachedLogprobs[s][step]} vs training ${want}`);
          }
        }
      });
    }

    it('forwardWithCache streams every row\'s logits in chunks when asked', () => {
      const cfg = llama2;
      const model = testModel(cfg);
      const adapter = testAdapter(cfg);
      const tokens = [3, 1, 4, 1, 5, 9, 2, 6];
      const cache = createKvCache(cfg, 2, 8);
      const rows: number[] = [];
      const lps = new Float64Array(8);
      forwardWithCache(k, model, adapter, cache, Int32Array.from(tokens), 4, (r0, n, chunk) => {
        const copy = chunk.slice();
        k.logSoftmaxRows(copy, n, cfg.vocabSize);
        for (let i = 0; i < n; i++) {
          rows.push(r0 + i);
          const r = r0 + i;
          const next = r % 4 === 3 ? 0 : tokens[r + 1];
          lps[r] = copy[i * cfg.vocabSize + next];
        }
      });
      assert.deepEqual(rows, [0, 1, 2, 3, 4, 5, 6, 7]);
      const want = runTrainingPass(k, model, adapter, packSequences(cfg, [
        { tokens: tokens.slice(0, 4), targets: [...tokens.slice(1, 4), 0] },
        { tokens: tokens.slice(4), targets: [...tokens.slice(5), 0] },
      ], 1));
      for (let r = 0; r < 8; r++) assert.ok(Math.abs(lps[r] - want[r]) <= 1e-4, `row ${r}`);
    });
  });
}

describe('model input checks', () => {
  it('rejects token ids outside the vocabulary and sequences longer than the model supports', () => {
    const cfg = smallModelConfig({ maxPositionEmbeddings: 8 });
    assert.throws(() => packSequences(cfg, [{ tokens: [1, 64], targets: [2, 3] }], 1), /outside the vocabulary/);
    assert.throws(() => packSequences(cfg, [{ tokens: [1, 2], targets: [2, -5] }], 1), /outside the vocabulary/);
    assert.throws(() => packSequences(cfg, [{ tokens: new Array(9).fill(1), targets: new Array(9).fill(1) }], 1), /at most 8/);
  });

  it('refuses to run past the KV cache capacity', () => {
    const cfg = smallModelConfig();
    const model = testModel(cfg);
    const cache = createKvCache(cfg, 1, 4);
    forwardWithCache(referenceKernels, model, null, cache, Int32Array.from([1, 2, 3]), 3, 'last');
    assert.throws(() => forwardWithCache(referenceKernels, model, null, cache, Int32Array.from([1, 2]), 2, 'last'), /capacity/);
    assert.equal(cache.lengths[0], 3);
  });
});

describe('native kernels against the reference at a moderate size', { skip: nativeBuilt ? false : `native addon not built (${nativeAddonPath} missing)` }, () => {
  const cfg = smallModelConfig({ family: 'qwen3', vocabSize: 3000, hiddenSize: 128, intermediateSize: 256, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 32 });
  const model = testModel(cfg, 4);
  const adapter = testAdapter(cfg, 5, 8);
  const rng = new Prng(31);
  const seqs = [40, 17].map((n) => {
    const t = randomTokens(rng, n + 1, cfg.vocabSize);
    return { tokens: t.slice(0, n), targets: t.slice(1) };
  });
  const batch = packSequences(cfg, seqs, 1);
  const c = rng.fillNormal(new Float32Array(batch.tokens.length), 0, 1);

  it('training logprobs and every LoRA gradient agree', () => {
    const run = (k: Kernels): { lp: Float32Array; grads: Map<string, Float32Array> } => {
      zeroGrads(adapter);
      const lp = runTrainingPass(k, model, adapter, batch, { lossGradient: (r0, n, _lp, dlp) => dlp.set(c.subarray(r0, r0 + n)) });
      const grads = new Map<string, Float32Array>();
      for (const [key, g] of adapter.grads) grads.set(key, Float32Array.from([...g.A, ...g.B]));
      return { lp, grads };
    };
    const ref = run(referenceKernels);
    const nat = run(nativeKernels);
    for (let i = 0; i < ref.lp.length; i++) assert.ok(Math.abs(ref.lp[i] - nat.lp[i]) < 1e-4, `logprob ${i}: ${ref.lp[i]} vs ${nat.lp[i]}`);
    for (const [key, g] of ref.grads) {
      const h = nat.grads.get(key)!;
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < g.length; i++) { diff += (g[i] - h[i]) ** 2; norm += g[i] ** 2; }
      assert.ok(norm > 0 && Math.sqrt(diff / norm) < 1e-3, `${key}: relative difference ${Math.sqrt(diff / norm)}`);
    }
  });

  it('sampling with a KV cache reproduces the training logprobs within 1e-4', () => {
    const k = nativeKernels;
    const view: AdapterView = { params: adapter.params, settings: adapter.settings };
    const tokens = seqs[0].tokens;
    const cache = createKvCache(cfg, 1, 64);
    let logits = forwardWithCache(k, model, view, cache, Int32Array.from(tokens.slice(0, 32)), 32, 'last')!;
    const lp = runTrainingPass(k, model, view, batch);
    for (let p = 32; p < 40; p++) {
      const row = logits.slice();
      k.logSoftmaxRows(row, 1, cfg.vocabSize);
      const want = lp[p - 1];
      assert.ok(Math.abs(row[tokens[p]] - want) <= 1e-4, `position ${p}: ${row[tokens[p]]} vs ${want}`);
      logits = forwardWithCache(k, model, view, cache, Int32Array.from([tokens[p]]), 1, 'last')!;
    }
  });
});

/**
 * An independent, deliberately naive f64 transcription of the Hugging Face Llama / Qwen3 forward
 * (modeling_llama.py / modeling_qwen3.py) with PEFT LoRA, one token and one head at a time and no
 * kernels, to pin the conventions: rotate_half RoPE, repeat_kv head grouping, q/k norm before RoPE,
 * alpha/r scaling, tied head.
 */
function naiveHfLogprobs(model: LoadedModel, adapter: AdapterState | null, tokens: number[], targets: number[]): number[] {
  const cfg = model.config;
  const w = model.weights;
  const d = cfg.hiddenSize, H = cfg.numHeads, KVH = cfg.numKvHeads, hd = cfg.headDim, ff = cfg.intermediateSize;
  const s = adapter === null ? 0 : adapter.settings.alpha / adapter.settings.rank;
  const linear = (x: number[], W: Float32Array, inDim: number, outDim: number, key: string): number[] => {
    const y = new Array<number>(outDim).fill(0);
    for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) y[o] += W[o * inDim + i] * x[i];
    const p = adapter?.params.get(key);
    if (p) {
      const r = p.A.length / inDim;
      const u = new Array<number>(r).fill(0);
      for (let q = 0; q < r; q++) for (let i = 0; i < inDim; i++) u[q] += p.A[q * inDim + i] * x[i];
      for (let o = 0; o < outDim; o++) for (let q = 0; q < r; q++) y[o] += s * p.B[o * r + q] * u[q];
    }
    return y;
  };
  const rmsNorm = (x: number[], weight: Float32Array): number[] => {
    const ms = x.reduce((a, b) => a + b * b, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + cfg.rmsNormEps)) * weight[i]);
  };
  const invFreq = Array.from({ length: hd / 2 }, (_, i) => 1 / Math.pow(cfg.ropeTheta, (2 * i) / hd));
  if (cfg.ropeScaling) {
    const sc = cfg.ropeScaling;
    const lowW = sc.originalMaxPositionEmbeddings / sc.lowFreqFactor, highW = sc.originalMaxPositionEmbeddings / sc.highFreqFactor;
    for (let i = 0; i < invFreq.length; i++) {
      const wl = (2 * Math.PI) / invFreq[i];
      if (wl > lowW) invFreq[i] /= sc.factor;
      else if (wl >= highW) {
        const sm = (sc.originalMaxPositionEmbeddings / wl - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
        invFreq[i] = (1 - sm) * invFreq[i] / sc.factor + sm * invFreq[i];
      }
    }
  }
  // q*cos + rotate_half(q)*sin with rotate_half(x) = cat(-x2, x1) and emb = cat(freqs, freqs).
  const rope = (v: number[], pos: number): number[] => v.map((x, i) => {
    const f = invFreq[i % (hd / 2)] * pos;
    const rot = i < hd / 2 ? -v[i + hd / 2] : v[i - hd / 2];
    return x * Math.cos(f) + rot * Math.sin(f);
  });
  let hs = tokens.map((t) => Array.from(w.embed.subarray(t * d, (t + 1) * d)));
  for (let l = 0; l < cfg.numLayers; l++) {
    const lw = w.layers[l];
    const xn = hs.map((x) => rmsNorm(x, lw.inputNorm));
    const heads = (m: number[], n: number, norm: Float32Array | null, pos: number | null): number[][] =>
      Array.from({ length: n }, (_, h) => {
        let v = m.slice(h * hd, (h + 1) * hd);
        if (norm) v = rmsNorm(v, norm);
        return pos === null ? v : rope(v, pos);
      });
    const q = xn.map((x, p) => heads(linear(x, lw.q, d, H * hd, loraKey(l, 'q')), H, lw.qNorm, p));
    const k = xn.map((x, p) => heads(linear(x, lw.k, d, KVH * hd, loraKey(l, 'k')), KVH, lw.kNorm, p));
    const v = xn.map((x) => heads(linear(x, lw.v, d, KVH * hd, loraKey(l, 'v')), KVH, null, null));
    hs = hs.map((x, p) => {
      const attn: number[] = [];
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KVH)); // repeat_kv
        const scores = Array.from({ length: p + 1 }, (_, j) => q[p][h].reduce((a, qi, i) => a + qi * k[j][g][i], 0) / Math.sqrt(hd));
        const m = Math.max(...scores);
        const e = scores.map((sc) => Math.exp(sc - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) attn.push(e.reduce((a, ej, j) => a + (ej / z) * v[j][g][i], 0));
      }
      const o = linear(attn, lw.o, H * hd, d, loraKey(l, 'o'));
      const mid = x.map((xi, i) => xi + o[i]);
      const xm = rmsNorm(mid, lw.postAttnNorm);
      const gate = linear(xm, lw.gate, d, ff, loraKey(l, 'gate'));
      const up = linear(xm, lw.up, d, ff, loraKey(l, 'up'));
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = linear(act, lw.down, ff, d, loraKey(l, 'down'));
      return mid.map((mi, i) => mi + down[i]);
    });
  }
  return hs.map((x, p) => {
    const logits = linear(rmsNorm(x, w.finalNorm), w.lmHead ?? w.embed, d, cfg.vocabSize, LM_HEAD_KEY);
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((a, z) => a + Math.exp(z - m), 0));
    return logits[targets[p]] - lse;
  });
}

describe('forward pass against a naive transcription of the Hugging Face models', () => {
  for (const [label, cfg] of [['Llama', llama2], ['Llama tied, GQA, llama3 rope scaling', llamaScaledTied], ['Qwen3 GQA', qwenGqaUntied]] as const) {
    it(`${label}: logprobs with LoRA match within 1e-5`, () => {
      const model = testModel(cfg, 9);
      const adapter = testAdapter(cfg, 10);
      const rng = new Prng(41);
      const t = randomTokens(rng, 12, cfg.vocabSize);
      const want = naiveHfLogprobs(model, adapter, t.slice(0, 11), t.slice(1));
      for (const { kernels: k, skip } of kernelSets) {
        if (skip) continue;
        const got = runTrainingPass(k, model, adapter, packSequences(cfg, [{ tokens: [5, 6], targets: [6, 7] }, { tokens: t.slice(0, 11), targets: t.slice(1) }], 1));
        for (let p = 0; p < 11; p++) assert.ok(Math.abs(got[2 + p] - want[p]) < 1e-5, `${k.name} position ${p}: ${got[2 + p]} vs ${want[p]}`);
      }
    });
  }
});
