import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceKernels as k } from './reference-kernels.js';
import { DEFAULT_DIMUON_PARAMS, dimuonDirection, dimuonStep, newtonSchulz, preconditionMomentum, rankLrCorrection, type DimuonParams } from './dimuon.js';
import { loadTrainingState, saveTrainingState } from './checkpoint.js';
import { createAdapterState } from './init.js';
import { zerosLike } from './lora.js';
import { resetOptimizerState } from './optimizer-state.js';
import { Prng } from './prng.js';
import { EngineUserError } from './errors.js';
import type { AdapterState, LoraParams, LoraSettings, ModelConfig } from './model-types.js';

const KEY = 'layers.0.q';

/** A one-module Dimuon adapter with A: rank×inDim and B: outDim×rank drawn at random. */
function dimuonAdapter(rank: number, inDim: number, outDim: number, seed = 1): AdapterState {
  const r = new Prng(seed);
  const A = r.fillNormal(new Float32Array(rank * inDim), 0, 1);
  const B = r.fillNormal(new Float32Array(outDim * rank), 0, 1);
  const params: LoraParams = new Map([[KEY, { A, B, inDim, outDim }]]);
  const settings: LoraSettings = { rank, alpha: 32, seed, trainAttn: true, trainMlp: false, trainUnembed: false };
  const state: AdapterState = { settings, params, grads: zerosLike(params), adamM: new Map(), adamV: new Map(), step: 0, optimizer: 'dimuon' };
  resetOptimizerState(state);
  return state;
}

const params = (p: Partial<DimuonParams> = {}): DimuonParams => ({ ...DEFAULT_DIMUON_PARAMS, learning_rate: 0.01, ...p });

function frobenius(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

function diffNorm(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** Eigenvalues of a symmetric n×n matrix (cyclic Jacobi, f64). */
function symmetricEigenvalues(m: Float64Array, n: number): number[] {
  const a = Float64Array.from(m);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-20) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-30) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r * n + p]!;
          const arq = a[r * n + q]!;
          a[r * n + p] = c * arp - s * arq;
          a[r * n + q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p * n + r]!;
          const aqr = a[q * n + r]!;
          a[p * n + r] = c * apr - s * aqr;
          a[q * n + r] = s * apr + c * aqr;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]!);
}

/** Singular values of a rows×cols matrix, from the eigenvalues of its small Gram matrix. */
function singularValues(x: Float32Array, rows: number, cols: number): number[] {
  const n = Math.min(rows, cols);
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      if (rows <= cols) for (let t = 0; t < cols; t++) s += x[i * cols + t]! * x[j * cols + t]!;
      else for (let t = 0; t < rows; t++) s += x[t * cols + i]! * x[t * cols + j]!;
      g[i * n + j] = s;
    }
  }
  return symmetricEigenvalues(g, n).map((e) => Math.sqrt(Math.max(e, 0))).sort((a, b) => a - b);
}

describe('Dimuon optimizer', () => {
  it('descends a quadratic: ½‖P − T‖² falls by far over 80 steps on both LoRA factors', () => {
    const adapter = dimuonAdapter(4, 12, 10);
    const p = adapter.params.get(KEY)!;
    const r = new Prng(7);
    const TA = r.fillNormal(new Float32Array(p.A.length), 0, 1);
    const TB = r.fillNormal(new Float32Array(p.B.length), 0, 1);
    const loss = () => (diffNorm(p.A, TA) ** 2 + diffNorm(p.B, TB) ** 2) / 2;
    const start = loss();
    const losses = [start];
    for (let step = 0; step < 80; step++) {
      const g = adapter.grads.get(KEY)!;
      for (let i = 0; i < g.A.length; i++) g.A[i] = p.A[i]! - TA[i]!;
      for (let i = 0; i < g.B.length; i++) g.B[i] = p.B[i]! - TB[i]!;
      // A decaying schedule, as a caller would supply it (Dimuon takes a fixed-norm step).
      dimuonStep(k, adapter, params({ learning_rate: 0.5 * 0.95 ** step }));
      losses.push(loss());
      assert.ok(g.A.every((x) => x === 0) && g.B.every((x) => x === 0), 'gradients are zeroed after the step');
    }
    assert.equal(adapter.step, 80);
    assert.ok(losses.at(-1)! < start * 0.05, `loss ${start} -> ${losses.at(-1)}`);
  });

  it('takes a step of Frobenius norm lr·(rank/32)^e·√rank per matrix: the exponent scales it as (rank/32)^e', () => {
    const stepNorm = (exponent: number, rank: number): number => {
      const adapter = dimuonAdapter(rank, 16, 20);
      const before = Float32Array.from(adapter.params.get(KEY)!.B);
      new Prng(3).fillNormal(adapter.grads.get(KEY)!.B, 0, 1);
      dimuonStep(k, adapter, params({ learning_rate: 0.01, rank_lr_correction_exponent: exponent }));
      return diffNorm(adapter.params.get(KEY)!.B, before);
    };
    for (const rank of [4, 8]) {
      const plain = stepNorm(0, rank);
      assert.ok(Math.abs(plain - 0.01 * Math.sqrt(rank)) < 1e-6, `exponent 0: ${plain} vs ${0.01 * Math.sqrt(rank)}`);
      for (const e of [0.175, 1]) {
        const ratio = stepNorm(e, rank) / plain;
        assert.ok(Math.abs(ratio - (rank / 32) ** e) < 1e-5, `rank ${rank}, e ${e}: ratio ${ratio} vs ${(rank / 32) ** e}`);
      }
    }
    assert.equal(rankLrCorrection(32, 0.175), 1);
    assert.equal(rankLrCorrection(64, 0), 1);
  });

  it('damps the row and column preconditioner exactly as specified', () => {
    const rows = 3;
    const cols = 5;
    const M = new Prng(11).fillNormal(new Float32Array(rows * cols), 0, 1);
    for (let j = 0; j < cols; j++) M[j] *= 10; // one row far larger than the others
    const expected = (damping: number): number[] => {
      let total = 0;
      for (const v of M) total += v * v;
      const mean = total / (rows * cols);
      const out: number[] = [];
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          let ri = 0;
          let cj = 0;
          for (let t = 0; t < cols; t++) ri += M[i * cols + t]! ** 2;
          for (let t = 0; t < rows; t++) cj += M[t * cols + j]! ** 2;
          ri = ri / cols / mean;
          cj = cj / rows / mean;
          out.push((ri + damping) ** -0.25 * M[i * cols + j]! * (cj + damping) ** -0.25);
        }
      }
      return out;
    };
    for (const damping of [1e-4, 0.5, 1e6]) {
      const got = new Float32Array(rows * cols);
      assert.equal(preconditionMomentum(M, rows, cols, damping, got), true);
      expected(damping).forEach((x, i) => assert.ok(Math.abs(got[i]! - x) <= 1e-6 * Math.max(1, Math.abs(x)), `damping ${damping} [${i}]: ${got[i]} vs ${x}`));
    }
    // Small damping equalises the rows (the large row is scaled down towards the others); a huge
    // damping leaves M's shape alone (a uniform scale of damping^-1/2).
    const rowNorms = (x: Float32Array) => [0, 1, 2].map((i) => frobenius(x.subarray(i * cols, (i + 1) * cols)));
    const small = new Float32Array(rows * cols);
    preconditionMomentum(M, rows, cols, 1e-4, small);
    const spread = (n: number[]) => Math.max(...n) / Math.min(...n);
    assert.ok(spread(rowNorms(small)) < spread(rowNorms(M)) / 3, `row spread ${spread(rowNorms(M))} -> ${spread(rowNorms(small))}`);
    const huge = new Float32Array(rows * cols);
    preconditionMomentum(M, rows, cols, 1e6, huge);
    huge.forEach((x, i) => assert.ok(Math.abs(x * Math.sqrt(1e6) - M[i]!) < 1e-3 * Math.max(1, Math.abs(M[i]!))));
    assert.equal(preconditionMomentum(new Float32Array(6), 2, 3, 1e-4, new Float32Array(6)), false, 'zero momentum has no direction');
  });

  it('orthogonalises by Newton–Schulz: wide and tall outputs have all singular values near 1', () => {
    for (const [rows, cols] of [[6, 20], [20, 6], [8, 8]] as const) {
      const X = new Prng(rows * 100 + cols).fillNormal(new Float32Array(rows * cols), 0, 1);
      // Spread the input's singular values (five steps do not lift those far below the largest).
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) X[i * cols + j] *= 1 + 4 * ((rows <= cols ? i : j) % 3);
      const before = singularValues(X, rows, cols);
      const O = newtonSchulz(k, X, rows, cols);
      const after = singularValues(O, rows, cols);
      assert.ok(before.at(-1)! / before[0]! > 4, `input condition ${before.at(-1)! / before[0]!}`);
      for (const s of after) assert.ok(s > 0.6 && s < 1.25, `${rows}x${cols}: singular values ${after.map((v) => v.toFixed(3)).join(', ')}`);
      const U = dimuonDirection(k, X, rows, cols, 1e-4)!;
      assert.ok(Math.abs(frobenius(U) - Math.sqrt(Math.min(rows, cols))) < 1e-5, 'direction has Frobenius norm √rank');
    }
  });

  it('clips the global gradient norm before the momentum when grad_clip_norm > 0', () => {
    const momentumNorm = (clip: number): { norm: number; reported: number } => {
      const adapter = dimuonAdapter(4, 10, 9);
      const g = adapter.grads.get(KEY)!;
      new Prng(5).fillNormal(g.A, 0, 3);
      new Prng(6).fillNormal(g.B, 0, 3);
      const reported = dimuonStep(k, adapter, params({ beta1: 0, grad_clip_norm: clip }))['grad_norm:mean']!;
      const m = adapter.dimuonMomentum!.get(KEY)!;
      return { norm: Math.hypot(frobenius(m.A), frobenius(m.B)), reported };
    };
    const free = momentumNorm(0);
    assert.ok(free.norm > 10, `gradient norm ${free.norm}`);
    assert.ok(Math.abs(free.norm - free.reported) < 1e-3 * free.norm, 'with beta1 = 0 the momentum is the gradient');
    const clipped = momentumNorm(1.5);
    assert.ok(Math.abs(clipped.norm - 1.5) < 1e-4, `clipped to ${clipped.norm}`);
    assert.ok(Math.abs(clipped.reported - free.reported) < 1e-9, 'the reported norm is the one before clipping');
    assert.ok(Math.abs(momentumNorm(-1).norm - free.norm) < 1e-9, 'a nonpositive limit disables clipping');
    assert.ok(Math.abs(momentumNorm(1e9).norm - free.norm) < 1e-3, 'a limit above the norm changes nothing');
  });

  it('refuses invalid parameters, non-finite gradients and an adapter without Dimuon state', () => {
    const adapter = dimuonAdapter(2, 4, 3);
    assert.throws(() => dimuonStep(k, adapter, params({ damping: 0 })), (e: Error) => e instanceof EngineUserError && /damping/.test(e.message));
    assert.throws(() => dimuonStep(k, adapter, params({ beta1: 1 })), /beta1/);
    assert.throws(() => dimuonStep(k, adapter, params({ learning_rate: -1 })), /learning_rate/);
    adapter.grads.get(KEY)!.A[0] = Number.NaN;
    assert.throws(() => dimuonStep(k, adapter, params()), /gradient norm is NaN/);
    assert.ok(adapter.grads.get(KEY)!.A.every((x) => x === 0), 'the bad gradients were discarded');
    const adam = { ...dimuonAdapter(2, 4, 3), optimizer: 'adamw' as const };
    resetOptimizerState(adam);
    assert.throws(() => dimuonStep(k, adam, params()), /not created with the Dimuon optimizer/);
  });
});

describe('Dimuon state in checkpoints', () => {
  const tinyConfig: ModelConfig = {
    family: 'qwen3', vocabSize: 64, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
    rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 128, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [1],
  };
  const settings: LoraSettings = { rank: 4, alpha: 32, seed: 3, trainAttn: true, trainMlp: true, trainUnembed: true };
  const fresh = (optimizer: 'adamw' | 'dimuon', seed = 3): AdapterState => {
    const s = createAdapterState(tinyConfig, { ...settings, seed });
    s.optimizer = optimizer;
    resetOptimizerState(s);
    return s;
  };
  const fillGrads = (s: AdapterState, seed: number) => {
    const r = new Prng(seed);
    for (const g of s.grads.values()) { r.fillNormal(g.A, 0, 1); r.fillNormal(g.B, 0, 1); }
  };
  const bits = (ps: LoraParams) => [...ps].flatMap(([, p]) => [[...new Uint32Array(p.A.buffer)], [...new Uint32Array(p.B.buffer)]]);

  it('save → load with the optimizer restores the momentum and step: the next steps are identical', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'dimuon-')), 'state');
    const a = fresh('dimuon');
    for (let i = 0; i < 3; i++) { fillGrads(a, 10 + i); dimuonStep(k, a, params({ learning_rate: 0.02 })); }
    saveTrainingState(dir, 'tiny', a, true);
    const b = fresh('dimuon', 99);
    loadTrainingState(dir, 'tiny', b, true);
    assert.equal(b.step, 3);
    assert.deepEqual(bits(b.dimuonMomentum!), bits(a.dimuonMomentum!));
    for (let i = 0; i < 2; i++) {
      fillGrads(a, 20 + i);
      fillGrads(b, 20 + i);
      dimuonStep(k, a, params({ learning_rate: 0.02 }));
      dimuonStep(k, b, params({ learning_rate: 0.02 }));
    }
    assert.deepEqual(bits(b.params), bits(a.params));
    assert.deepEqual(bits(b.dimuonMomentum!), bits(a.dimuonMomentum!));
    // Weights only: the momentum starts at zero, so the next step differs.
    const c = fresh('dimuon');
    loadTrainingState(dir, 'tiny', c, false);
    assert.equal(c.step, 0);
    assert.ok([...c.dimuonMomentum!.values()].every((m) => m.A.every((x) => x === 0) && m.B.every((x) => x === 0)));
  });

  it('a Dimuon checkpoint does not restore into an AdamW adapter with its optimizer, nor the reverse', () => {
    const root = mkdtempSync(join(tmpdir(), 'dimuon-'));
    const d = fresh('dimuon');
    fillGrads(d, 1);
    dimuonStep(k, d, params());
    saveTrainingState(join(root, 'dimuon'), 'tiny', d, true);
    saveTrainingState(join(root, 'adamw'), 'tiny', fresh('adamw'), true);
    assert.throws(() => loadTrainingState(join(root, 'dimuon'), 'tiny', fresh('adamw'), true),
      (e: Error) => e instanceof EngineUserError && /holds Dimuon optimizer state, but this model was created with the AdamW optimizer/.test(e.message));
    assert.throws(() => loadTrainingState(join(root, 'adamw'), 'tiny', fresh('dimuon'), true),
      (e: Error) => e instanceof EngineUserError && /holds AdamW optimizer state, but this model was created with the Dimuon optimizer/.test(e.message));
    // Weights alone move between families.
    const adam = fresh('adamw');
    loadTrainingState(join(root, 'dimuon'), 'tiny', adam, false);
    assert.deepEqual(bits(adam.params), bits(d.params));
    assert.equal(adam.adamM.size, adam.params.size);
  });
});

describe('Newton–Schulz on the short side', () => {
  /** The iteration written out directly on the full matrix, in f64: X ← a·X + (b·A + c·A²)·X, A = XXᵀ. */
  function direct(X: Float32Array, rows: number, cols: number): Float64Array {
    let W = Float64Array.from(X);
    const norm = Math.sqrt(W.reduce((s, x) => s + x * x, 0)) + 1e-7;
    W = W.map((x) => x / norm);
    for (let step = 0; step < 5; step++) {
      const A = new Float64Array(rows * rows);
      for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) {
        let s = 0;
        for (let t = 0; t < cols; t++) s += W[i * cols + t]! * W[j * cols + t]!;
        A[i * rows + j] = s;
      }
      const B = new Float64Array(rows * rows);
      for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) {
        let s = 0;
        for (let t = 0; t < rows; t++) s += A[i * rows + t]! * A[t * rows + j]!;
        B[i * rows + j] = -4.775 * A[i * rows + j]! + 2.0315 * s;
      }
      const next = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        let s = 3.4445 * W[i * cols + j]!;
        for (let t = 0; t < rows; t++) s += B[i * rows + t]! * W[t * cols + j]!;
        next[i * cols + j] = s;
      }
      W = next;
    }
    return W;
  }

  it('equals the direct iteration on wide and tall matrices', () => {
    const rng = new Prng(41, 'ns-short-side');
    for (const [rows, cols] of [[4, 37], [37, 4], [8, 8], [16, 300]] as const) {
      const X = Float32Array.from({ length: rows * cols }, () => rng.normal());
      const got = newtonSchulz(k, X, rows, cols);
      // The direct form on the wide orientation (transpose tall inputs, and the answer back).
      const wide = rows <= cols;
      const Xw = wide ? X : Float32Array.from({ length: rows * cols }, (_, idx) => X[(idx % rows) * cols + Math.floor(idx / rows)]!);
      const wantW = direct(Xw, Math.min(rows, cols), Math.max(rows, cols));
      const want = wide ? wantW : Float64Array.from({ length: rows * cols }, (_, idx) => wantW[(idx % cols) * rows + Math.floor(idx / cols)]!);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      assert.ok(worst < 1e-4, `${rows}×${cols}: worst |Δ| ${worst}`);
    }
  });
});
