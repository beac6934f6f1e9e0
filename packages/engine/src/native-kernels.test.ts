import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as ref } from './reference-kernels.js';
import { blasThreads, nativeKernels as nat, setBlasThreads, setGemmStrategy, type GemmStrategy } from './native-kernels.js';
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

/**
 * A few rows against a weight stored [N, K] (decoding several sequences): the packing-free
 * kernel, split by column blocks over the task pool, agrees with OpenBLAS on shapes that leave
 * row, column and K remainders.
 */
test('few-row GEMMs split over the task pool match OpenBLAS on odd shapes', () => {
  const shapes: [number, number, number][] = [
    [2, 64, 64], [3, 1031, 257], [5, 200, 67], [7, 513, 300], [11, 333, 509], [4, 2000, 512], [9, 130, 1029], [13, 8192, 256], [16, 1024, 256],
    [16, 256, 1024], [17, 77, 515], [31, 700, 95], [32, 4099, 128],
  ];
  let seed = 100;
  for (const [M, N, K] of shapes) {
    const lda = K + 5, ldb = K + 3, ldc = N + 7;
    const opts = { lda, ldb, ldc, aOffset: 3, bOffset: 1, cOffset: 2 };
    const A = randn(3 + M * lda, seed++);
    const B = randn(1 + N * ldb, seed++);
    const C0 = randn(2 + M * ldc, seed++);
    for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
      const results = (['blas', 'planned'] as GemmStrategy[]).map((strategy) => {
        const previous = setGemmStrategy(strategy);
        try {
          const C = new Float32Array(C0);
          if (beta === 0) C.fill(Number.NaN, 2); // beta = 0 must not read C
          nat.gemm(false, true, M, N, K, alpha, A, B, beta, C, opts);
          return C;
        } finally {
          setGemmStrategy(previous);
        }
      });
      const [blas, planned] = results;
      assert.equal(planned[0], blas[0], 'elements before cOffset untouched');
      const err = maxRelError(planned, blas, K);
      assert.ok(err < 1e-5, `${M}x${N}x${K} a=${alpha} b=${beta}: error ${err}`);
      // Padding between rows of C (beyond column N) is never written.
      for (let m = 0; m < M; m++) {
        for (let j = N; j < ldc && 2 + m * ldc + j < planned.length; j++) {
          const i = 2 + m * ldc + j;
          assert.ok(Object.is(planned[i], blas[i]), `${M}x${N}x${K}: padding at row ${m} column ${j} changed`);
        }
      }
    }
  }
});

/**
 * The few-row kernel loads B line by line when its rows start part-way into a cache line (as
 * Float32Arrays do): for every start offset within a line, and with A's rows unaligned too, it
 * agrees with OpenBLAS, and its results are bit-identical whatever the offset (where a weight
 * happens to sit in memory must not change sampled logprobs).
 */
test('few-row GEMMs give the same bits wherever A and B start within a cache line', () => {
  const shapes: [number, number, number][] = [[16, 200, 256], [5, 67, 64], [32, 130, 1024], [3, 9, 272]];
  let seed = 300;
  for (const [M, N, K] of shapes) {
    const A0 = randn(M * K, seed++);
    const B0 = randn(N * K, seed++);
    const firstByRun: Float32Array[] = [];
    for (let offset = 0; offset < 16; offset++) {
      const A = new Float32Array(M * K + 16);
      const B = new Float32Array(N * K + 16);
      A.set(A0, (offset * 7) % 16);
      B.set(B0, offset);
      const opts = { lda: K, ldb: K, ldc: N, aOffset: (offset * 7) % 16, bOffset: offset, cOffset: 0 };
      // Planned on one thread runs the kernel directly; on two, split by columns over the task pool.
      const runs: [GemmStrategy, number][] = [['blas', blasThreads()], ['planned', 1], ['planned', 2]];
      const [blas, ...planned] = runs.map(([strategy, threads]) => {
        const previousStrategy = setGemmStrategy(strategy);
        const previousThreads = blasThreads();
        setBlasThreads(threads);
        try {
          const C = new Float32Array(M * N).fill(Number.NaN);
          nat.gemm(false, true, M, N, K, 1, A, B, 0, C, opts);
          return C;
        } finally {
          setBlasThreads(previousThreads);
          setGemmStrategy(previousStrategy);
        }
      });
      planned.forEach((C, run) => {
        const err = maxRelError(C, blas, K);
        assert.ok(err < 1e-5, `${M}x${N}x${K} B offset ${offset}: error ${err}`);
        const first = (firstByRun[run] ??= C);
        assert.ok(C.every((x, i) => Object.is(x, first[i])), `${M}x${N}x${K}: B offset ${offset} changed the result's bits`);
      });
    }
  }
});
