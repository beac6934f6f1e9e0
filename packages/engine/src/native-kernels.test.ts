import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as ref } from './reference-kernels.js';
import { nativeKernels as nat, setGemmStrategy, type GemmStrategy } from './native-kernels.js';
import { Prng } from './prng.js';

function randn(n: number, seed: number): Float32Array {
  return new Prng(seed, 'gemm').fillNormal(new Float32Array(n), 0, 1);
}

function maxRelError(actual: Float32Array, expected: Float32Array, K: number): number {
  let worst = 0;
  // Errors of a K-term sum of unit normals scale with sqrt(K).
  const scale = Math.sqrt(Math.max(1, K));
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(expected[i]) && Number.isNaN(actual[i])) continue; // padding both sides left alone
    if (Number.isNaN(actual[i])) return Infinity;
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (scale + Math.abs(expected[i])));
  }
  return worst;
}

/** Shapes of LoRA products (a rank-8..64 side), decode rows and splittable products. */
const SHAPES: [number, number, number][] = [
  [300, 8, 256], [300, 256, 8], [256, 8, 300], [8, 256, 300], [130, 40, 200], [129, 64, 1000], [200, 1000, 17],
  [1, 700, 300], [700, 1, 300], [16, 3000, 130], [2100, 33, 70],
];

function checkStrategy(strategy: GemmStrategy): void {
  const previous = setGemmStrategy(strategy);
  try {
    let seed = 1;
    for (const [M, N, K] of SHAPES) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const lda = (transA ? M : K) + 3, ldb = (transB ? K : N) + 2, ldc = N + 1;
          const opts = { lda, ldb, ldc, aOffset: 2, bOffset: 5, cOffset: 1 };
          const A = randn(2 + (transA ? K : M) * lda, seed++);
          const B = randn(5 + (transB ? N : K) * ldb, seed++);
          const C0 = randn(1 + M * ldc, seed++);
          for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
            const cr = new Float32Array(C0);
            const cn = new Float32Array(C0);
            // beta = 0 must overwrite C, stale NaNs included.
            if (beta === 0) {
              cn.fill(Number.NaN, 1);
              cr.fill(Number.NaN, 1);
            }
            ref.gemm(transA, transB, M, N, K, alpha, A, B, beta, cr, opts);
            nat.gemm(transA, transB, M, N, K, alpha, A, B, beta, cn, opts);
            assert.equal(cn[0], cr[0], 'element before cOffset untouched');
            const err = maxRelError(cn, cr, K);
            assert.ok(err < 1e-5, `${strategy} tA=${transA} tB=${transB} ${M}x${N}x${K} a=${alpha} b=${beta}: error ${err}`);
          }
        }
      }
    }
  } finally {
    setGemmStrategy(previous);
  }
}

test('gemm on thin, single-row and split shapes matches the reference (planned strategy: thin kernels, sgemv, halves)', () => {
  checkStrategy('planned');
});

test('gemm split into independent halves matches the reference', () => {
  checkStrategy('split');
});

test('setGemmStrategy rejects unknown names and returns the previous strategy', () => {
  assert.throws(() => setGemmStrategy('fast' as GemmStrategy), RangeError);
  const before = setGemmStrategy('blas');
  assert.equal(setGemmStrategy(before), 'blas');
});
