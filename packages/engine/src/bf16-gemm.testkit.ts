/**
 * The bf16 GEMM (Kernels.gemmBf16) on fixed odd shapes: both layouts of B, row, column and K
 * tails, strides and offsets, the few-row (decoding) and packed paths, beta = 0 over NaNs.
 * bf16-gemm.test.ts runs this file in a child process per kernel level (TINKER_ENGINE_ISA is
 * read when the addon loads) and compares what each prints with the reference kernels.
 */
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';
import { Prng } from './prng.js';
import { toBf16 } from './weight-dtype.js';

export interface Bf16GemmCase {
  name: string;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra row stride and leading offset of every operand. */
  pad: number;
}

const SHAPES: [M: number, N: number, K: number][] = [
  [1, 37, 100], [3, 17, 7], [5, 70, 129], [8, 32, 64], [9, 33, 1], [16, 100, 256], [31, 5, 300],
  [33, 49, 31], [70, 65, 130], [100, 31, 2], [129, 257, 75],
  // K past one block of the dot kernel (512 values), ending on an odd one.
  [20, 40, 1101], [40, 33, 1101],
];

export const BF16_GEMM_CASES: Bf16GemmCase[] = SHAPES.flatMap(([M, N, K], i) =>
  [true, false].map((transB) => ({
    name: `${transB ? 'x·Wᵀ' : 'dY·W'} ${M}x${N}x${K}`, transB, M, N, K,
    alpha: i % 3 === 0 ? 1 : 0.75, beta: i % 2 === 0 ? 0 : 0.5, pad: i % 4 === 1 || i % 4 === 2 ? 3 : 0,
  })));

export interface Bf16GemmOperands {
  A: Float32Array;
  B: Uint16Array;
  C: Float32Array;
  opts: { lda: number; ldb: number; ldc: number; aOffset: number; bOffset: number; cOffset: number };
}

/** The operands of one case: unit normals, B rounded to bf16; with beta = 0, C starts as NaN (never read). */
export function bf16GemmOperands(c: Bf16GemmCase, seed: number): Bf16GemmOperands {
  const prng = new Prng(seed, 'bf16-gemm');
  const lda = c.K + c.pad, ldb = (c.transB ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  const bRows = c.transB ? c.N : c.K;
  const A = prng.fillNormal(new Float32Array(c.pad + c.M * lda), 0, 1);
  const B = toBf16(prng.fillNormal(new Float32Array(c.pad + bRows * ldb), 0, 1));
  const C = c.beta === 0 ? new Float32Array(c.pad + c.M * ldc).fill(NaN) : prng.fillNormal(new Float32Array(c.pad + c.M * ldc), 0, 1);
  return { A, B, C, opts: { lda, ldb, ldc, aOffset: c.pad, bOffset: c.pad, cOffset: c.pad } };
}

/** Runs every case on `kernels`; returns each case's C. */
export function runBf16Gemms(kernels: Kernels): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  BF16_GEMM_CASES.forEach((c, i) => {
    const { A, B, C, opts } = bf16GemmOperands(c, i + 1);
    kernels.gemmBf16(c.transB, c.M, c.N, c.K, c.alpha, A, B, c.beta, C, opts);
    out[c.name] = Array.from(C);
  });
  return out;
}

// As a child process: print the level, the bf16 kernel the addon picked and what it produced.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { nativeKernelLevel, nativeBf16GemmKernel, nativeKernels } = await import('./native-kernels.js');
  const result = { level: nativeKernelLevel(), kernel: nativeBf16GemmKernel(), outputs: runBf16Gemms(nativeKernels) };
  process.stdout.write(JSON.stringify(result));
}
