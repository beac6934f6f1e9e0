/**
 * GEMM throughput of the native kernels (OpenBLAS sgemm) on training-shaped problems, reported
 * against the machine's measured FMA peak. Run directly: node dist/bench/gemm-bench.js
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { nativeKernels, openblasCoreName, measurePeakGflops, blasThreads, setBlasThreads, setGemmStrategy, type GemmStrategy } from '../native-kernels.js';

export interface GemmBenchCase {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  threads: number;
  /** Best wall time of the repeats, in milliseconds. */
  ms: number;
  gflops: number;
  /** gflops / peak measured with the same thread count. */
  fractionOfPeak: number;
}

export interface GemmBenchResult {
  coreName: string;
  peakIsa: string;
  /** Measured FMA peak per thread count, GFLOP/s. */
  peakGflops: Record<number, number>;
  cases: GemmBenchCase[];
}

export interface GemmBenchOptions {
  /** OpenBLAS thread counts to measure (default: the current setting). */
  threads?: number[];
  /** Timed repeats per case after one warm-up (default 5); the best is kept. */
  repeats?: number;
  /** Print a table to stdout (default true). */
  print?: boolean;
}

interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

// A linear layer with 2048 tokens, hidden 1024 and FFN 4096; weights stored [out, in] as in HF.
const shapes: Shape[] = [
  { name: 'square 1024³', M: 1024, N: 1024, K: 1024, transA: false, transB: false },
  { name: 'train fwd X·Wᵀ 2048×4096×1024', M: 2048, N: 4096, K: 1024, transA: false, transB: true },
  { name: 'train 2048×1024×4096 (dX = dY·W)', M: 2048, N: 1024, K: 4096, transA: false, transB: false },
  { name: 'train dW = dYᵀ·X 4096×1024×2048', M: 4096, N: 1024, K: 2048, transA: true, transB: false },
];

function timeCase(s: Shape, repeats: number): number {
  const A = new Float32Array(s.M * s.K).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const B = new Float32Array(s.K * s.N).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const C = new Float32Array(s.M * s.N);
  nativeKernels.gemm(s.transA, s.transB, s.M, s.N, s.K, 1, A, B, 0, C);
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    nativeKernels.gemm(s.transA, s.transB, s.M, s.N, s.K, 1, A, B, 0, C);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export function runGemmBench(opts: GemmBenchOptions = {}): GemmBenchResult {
  const originalThreads = blasThreads();
  const threadCounts = opts.threads ?? [originalThreads];
  const repeats = opts.repeats ?? 5;
  const result: GemmBenchResult = { coreName: openblasCoreName(), peakIsa: '', peakGflops: {}, cases: [] };
  try {
    for (const threads of threadCounts) {
      setBlasThreads(threads);
      // Peak is measured before and after the cases and the higher kept: on a shared or
      // virtualised host a single short measurement can land in a slow moment.
      const before = measurePeakGflops({ threads, ms: 250 });
      const timed = shapes.map((s) => ({ s, ms: timeCase(s, repeats) }));
      const peak = Math.max(before.gflops, measurePeakGflops({ threads, ms: 250 }).gflops);
      result.peakIsa = before.isa;
      result.peakGflops[threads] = peak;
      for (const { s, ms } of timed) {
        const gflops = (2 * s.M * s.N * s.K) / (ms * 1e6);
        result.cases.push({ ...s, threads, ms, gflops, fractionOfPeak: gflops / peak });
      }
    }
  } finally {
    setBlasThreads(originalThreads);
  }
  if (opts.print ?? true) printGemmBench(result);
  return result;
}

// LoRA products (rank 8) of the two bench models and their decode-shaped GEMMs.
const strategyShapes: Shape[] = [
  { name: 'LoRA x·Aᵀ 2048×8×256', M: 2048, N: 8, K: 256, transA: false, transB: true },
  { name: 'LoRA u·Bᵀ 2048×1024×8', M: 2048, N: 1024, K: 8, transA: false, transB: true },
  { name: 'LoRA du = dy·B 2048×8×1024', M: 2048, N: 8, K: 1024, transA: false, transB: false },
  { name: 'LoRA dA = duᵀ·x 8×256×2048', M: 8, N: 256, K: 2048, transA: true, transB: false },
  { name: 'LoRA dB = dyᵀ·u 1024×8×2048', M: 1024, N: 8, K: 2048, transA: true, transB: false },
  { name: 'LoRA u·Bᵀ 128×3072×8 (0.6B)', M: 128, N: 3072, K: 8, transA: false, transB: true },
  { name: 'decode 1×3072×1024', M: 1, N: 3072, K: 1024, transA: false, transB: true },
  { name: 'decode 16×3072×1024', M: 16, N: 3072, K: 1024, transA: false, transB: true },
  { name: 'linear 128×3072×1024 (0.6B)', M: 128, N: 3072, K: 1024, transA: false, transB: true },
];

export interface StrategyComparison {
  name: string;
  /** Median microseconds per call under each strategy. */
  micros: Record<GemmStrategy, number>;
}

/**
 * Times each shape under the given GEMM strategies, alternating strategies between rounds so
 * that load from other processes hits both alike; reports medians.
 */
export function compareGemmStrategies(strategies: GemmStrategy[] = ['blas', 'planned'], rounds = 7, print = true): StrategyComparison[] {
  const out: StrategyComparison[] = [];
  const previous = setGemmStrategy('planned');
  try {
    for (const s of strategyShapes) {
      const A = new Float32Array(s.M * s.K).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
      const B = new Float32Array(s.K * s.N).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
      const C = new Float32Array(s.M * s.N);
      const calls = Math.max(1, Math.min(20, Math.round(2e7 / (2 * s.M * s.N * s.K))));
      const samples = new Map<GemmStrategy, number[]>(strategies.map((st) => [st, []]));
      for (let r = 0; r < rounds; r++) {
        for (const st of strategies) {
          setGemmStrategy(st);
          nativeKernels.gemm(s.transA, s.transB, s.M, s.N, s.K, 1, A, B, 0, C);
          const t0 = performance.now();
          for (let c = 0; c < calls; c++) nativeKernels.gemm(s.transA, s.transB, s.M, s.N, s.K, 1, A, B, 0, C);
          samples.get(st)!.push(((performance.now() - t0) * 1000) / calls);
        }
      }
      const micros = Object.fromEntries(strategies.map((st) => {
        const v = [...samples.get(st)!].sort((a, b) => a - b);
        return [st, v[Math.floor(v.length / 2)]];
      })) as Record<GemmStrategy, number>;
      out.push({ name: s.name, micros });
      if (print) {
        const flops = 2 * s.M * s.N * s.K;
        console.log(`  ${s.name.padEnd(30)} ` + strategies.map((st) =>
          `${st} ${micros[st].toFixed(0).padStart(6)} µs ${(flops / micros[st] / 1e3).toFixed(0).padStart(4)} GFLOP/s`).join('   '));
      }
    }
  } finally {
    setGemmStrategy(previous);
  }
  return out;
}

export function printGemmBench(r: GemmBenchResult): void {
  console.log(`OpenBLAS core ${r.coreName}; FMA peak (${r.peakIsa}): ` +
    Object.entries(r.peakGflops).map(([t, g]) => `${t} thread(s) ${g.toFixed(0)} GFLOP/s`).join(', '));
  for (const c of r.cases) {
    console.log(`  ${c.name.padEnd(36)} ${c.threads}T ${c.ms.toFixed(2).padStart(8)} ms ${c.gflops.toFixed(0).padStart(5)} GFLOP/s ` +
      `${(100 * c.fractionOfPeak).toFixed(0).padStart(3)}% of peak`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const threads = process.argv.slice(2).map(Number).filter((n) => n > 0);
  runGemmBench({ threads: threads.length ? threads : undefined });
}
