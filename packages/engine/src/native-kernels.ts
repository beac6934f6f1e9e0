/**
 * `Kernels` backed by the C++ addon (build/Release/tinker_engine.node): OpenBLAS sgemm plus
 * fused C++ kernels working in place on the caller's typed arrays (zero-copy, byteOffset
 * respected). The addon is loaded on first use; it validates every buffer size and throws
 * TypeError / RangeError instead of reading out of bounds.
 *
 * Threads: large GEMMs use OpenBLAS's threads (one per core by default); thin and small ones
 * run on one thread or as independent halves, and a few rows against a weight are split by
 * columns (see GemmStrategy). Those splits, attention and the large row/elementwise kernels run
 * on a persistent pool of helper threads (parked, not spinning, between calls) while OpenBLAS is
 * set to one thread, so the process never runs more compute threads than cores.
 */
import './openblas-env.js';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';
import { EngineError } from './errors.js';

/** The functions exported by tinker_engine.node (argument order as in the C++ sources). */
export interface NativeAddon {
  coreName(): string;
  setNumThreads(n: number): void;
  numThreads(): number;
  /** The instruction-set level of the addon's own kernels, picked at load (see KernelLevel). */
  kernelLevel(): KernelLevel;
  peakGflops(threads: number, ms: number): number;
  /** Sets (when given) and returns how GEMMs use the cores; see GemmStrategy. */
  gemmStrategy(name?: GemmStrategy): GemmStrategy;
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, B: Float32Array,
    beta: number, C: Float32Array, lda: number, ldb: number, ldc: number, aOffset: number, bOffset: number, cOffset: number): void;
  gemmBf16(transB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, B: Uint16Array, beta: number,
    C: Float32Array, lda: number, ldb: number, ldc: number, aOffset: number, bOffset: number, cOffset: number): void;
  /** Which kernel runs gemmBf16 in this process (see Bf16GemmKernel). */
  bf16GemmKernel(): Bf16GemmKernel;
  rmsNormForward: Kernels['rmsNormForward'];
  rmsNormBackward: Kernels['rmsNormBackward'];
  rope: Kernels['rope'];
  attentionForward: Kernels['attentionForward'];
  attentionBackward: Kernels['attentionBackward'];
  attentionWithCache: Kernels['attentionWithCache'];
  swigluForward: Kernels['swigluForward'];
  swigluBackward: Kernels['swigluBackward'];
  embeddingForward: Kernels['embeddingForward'];
  targetLogprobs: Kernels['targetLogprobs'];
  targetLogprobsBackward: Kernels['targetLogprobsBackward'];
  logSoftmaxRows: Kernels['logSoftmaxRows'];
  drawTokens: Kernels['drawTokens'];
  adamw: Kernels['adamw'];
  sumOfSquares: Kernels['sumOfSquares'];
  scale: Kernels['scale'];
  axpy: Kernels['axpy'];
  /**
   * Runs runs.length tasks on the native task pool (for tests): task t adds 1 + nestedTasks to
   * runs[t] (the nested call's tasks counted as they run) and writes its worker index to
   * workers[t]; task throwAtTask throws a RangeError.
   */
  taskPoolProbe(runs: Int32Array, workers: Int32Array, throwAtTask: number, nestedTasks: number): void;
}

/**
 * How GEMMs use the cores. "planned" (default): products with a side of at most 64 (LoRA ranks,
 * one decoded row) or under 4 MFLOP avoid OpenBLAS's thread synchronisation, running on one
 * thread or as two independent one-thread halves, single-row products go to sgemv, and 2–32
 * rows against a weight stored [N, K] (decoding several sequences) run a packing-free kernel
 * split by columns over the cores; large GEMMs use OpenBLAS's threads. "blas": every GEMM
 * straight to OpenBLAS. "split": every GEMM above 4 MFLOP as independent halves. The last two
 * exist for benchmarks.
 */
export type GemmStrategy = 'planned' | 'blas' | 'split';

/**
 * The instruction-set level the addon's own hot kernels (few-row GEMM, exp/softmax/log-softmax,
 * RMSNorm, SwiGLU, decode attention) run at. The addon is built for plain x86-64 and carries
 * each of these kernels compiled for x86-64-v4 with 512-bit vectors ("avx512"), x86-64-v3
 * ("avx2") and the baseline; it picks the best the CPU supports when it loads.
 * TINKER_ENGINE_ISA=avx2|baseline, set before the addon loads, forces a lower level (a level
 * the CPU lacks, or an unknown name, makes loading fail). OpenBLAS picks its own kernels.
 */
export type KernelLevel = 'avx512' | 'avx2' | 'baseline';

/**
 * The kernel behind gemmBf16, picked when the addon loads: "avx512bf16-dot" (AVX512-BF16 dot
 * products, VDPBF16PS, with f32 accumulation) at the avx512 level on CPUs with avx512_bf16;
 * "f32-tiles" (B widened to f32 tile by tile, then OpenBLAS sgemm) everywhere else. Both round
 * A to bf16, so they compute the same products.
 */
export type Bf16GemmKernel = 'avx512bf16-dot' | 'f32-tiles';

/** Path of the compiled addon, relative to the package root (this file runs from dist/). */
export const nativeAddonPath = fileURLToPath(new URL('../build/Release/tinker_engine.node', import.meta.url));

let addon: NativeAddon | undefined;

/** Loads the addon once per thread (it is context-aware, so worker_threads may load it too). */
export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  if (!existsSync(nativeAddonPath)) {
    throw new EngineError(
      `the native addon is not built (${nativeAddonPath} is missing): install libopenblas-dev and run npm install`,
    );
  }
  const require = createRequire(import.meta.url);
  addon = require(nativeAddonPath) as NativeAddon;
  return addon;
}

/** The OpenBLAS kernel family in use, e.g. "SkylakeX" or "Haswell". */
export function openblasCoreName(): string {
  return loadNativeAddon().coreName();
}

/** The level of the addon's own kernels in this process (see KernelLevel). */
export function nativeKernelLevel(): KernelLevel {
  return loadNativeAddon().kernelLevel();
}

/** The kernel behind gemmBf16 in this process (see Bf16GemmKernel). */
export function nativeBf16GemmKernel(): Bf16GemmKernel {
  return loadNativeAddon().bf16GemmKernel();
}

/** Sets OpenBLAS's thread count (it applies to every later GEMM in this process). */
export function setBlasThreads(threads: number): void {
  loadNativeAddon().setNumThreads(threads);
}

/** OpenBLAS's current thread count. */
export function blasThreads(): number {
  return loadNativeAddon().numThreads();
}

/** Selects how GEMMs use the cores (process-wide) and returns the previous strategy. */
export function setGemmStrategy(strategy: GemmStrategy): GemmStrategy {
  const a = loadNativeAddon();
  const previous = a.gemmStrategy();
  a.gemmStrategy(strategy);
  return previous;
}

export interface PeakMeasurement {
  /** FLOP/s of the FMA microbenchmark, in GFLOP/s. */
  gflops: number;
  threads: number;
  /** Kernel level whose vectors the microbenchmark used. */
  isa: KernelLevel;
}

/**
 * Measures the machine's f32 FMA peak with many independent accumulators on `threads` threads
 * for `ms` milliseconds. Benchmarks report GEMM speed as a share of this number.
 */
export function measurePeakGflops(opts: { threads?: number; ms?: number } = {}): PeakMeasurement {
  const a = loadNativeAddon();
  const threads = opts.threads ?? a.numThreads();
  return { gflops: a.peakGflops(threads, opts.ms ?? 200), threads, isa: a.kernelLevel() };
}

function lazy<K extends keyof NativeAddon>(name: K): NativeAddon[K] {
  // Each call re-reads the loaded addon; after the first call this is a field load.
  return ((...args: unknown[]) => (loadNativeAddon()[name] as (...a: unknown[]) => unknown)(...args)) as NativeAddon[K];
}

export const nativeKernels: Kernels = {
  get name(): string {
    return `openblas:${openblasCoreName()}/${nativeKernelLevel()}`;
  },

  gemm(transA, transB, M, N, K, alpha, A, B, beta, C, opts = {}) {
    loadNativeAddon().gemm(
      transA, transB, M, N, K, alpha, A, B, beta, C,
      opts.lda ?? Math.max(1, transA ? M : K),
      opts.ldb ?? Math.max(1, transB ? K : N),
      opts.ldc ?? Math.max(1, N),
      opts.aOffset ?? 0, opts.bOffset ?? 0, opts.cOffset ?? 0,
    );
  },

  gemmBf16(transB, M, N, K, alpha, A, B, beta, C, opts = {}) {
    loadNativeAddon().gemmBf16(
      transB, M, N, K, alpha, A, B, beta, C,
      opts.lda ?? Math.max(1, K),
      opts.ldb ?? Math.max(1, transB ? K : N),
      opts.ldc ?? Math.max(1, N),
      opts.aOffset ?? 0, opts.bOffset ?? 0, opts.cOffset ?? 0,
    );
  },

  rmsNormForward: lazy('rmsNormForward'),
  rmsNormBackward: lazy('rmsNormBackward'),
  rope: lazy('rope'),
  attentionForward: lazy('attentionForward'),
  attentionBackward: lazy('attentionBackward'),
  attentionWithCache: lazy('attentionWithCache'),
  swigluForward: lazy('swigluForward'),
  swigluBackward: lazy('swigluBackward'),
  embeddingForward: lazy('embeddingForward'),
  targetLogprobs: lazy('targetLogprobs'),
  targetLogprobsBackward: lazy('targetLogprobsBackward'),
  logSoftmaxRows: lazy('logSoftmaxRows'),
  adamw: lazy('adamw'),
  drawTokens: lazy('drawTokens'),
  sumOfSquares: lazy('sumOfSquares'),
  scale: lazy('scale'),
  axpy: lazy('axpy'),
};
