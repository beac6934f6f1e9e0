/**
 * The GEMM over bf16 weights at every kernel level this CPU runs: the AVX512-BF16 dot kernel
 * (avx512 level, on CPUs with avx512_bf16) and the f32-tile kernel (other levels) must both give
 * the reference's f64 sum of the same bf16 products within f32 rounding, and stay within bf16
 * rounding of the plain f32 GEMM of the unrounded operands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KernelLevel } from './native-kernels.js';
import { nativeKernels } from './native-kernels.js';
import { referenceKernels } from './reference-kernels.js';
import { BF16_GEMM_CASES, bf16GemmOperands, runBf16Gemms } from './bf16-gemm.testkit.js';
import { bf16ToFloat32 } from './weight-dtype.js';

const LEVELS: KernelLevel[] = ['baseline', 'avx2', 'avx512'];
const testkit = fileURLToPath(new URL('./bf16-gemm.testkit.js', import.meta.url));
const cpuHasBf16 = process.platform === 'linux' && /\bavx512_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

interface LevelRun { level: KernelLevel; kernel: string; outputs: Record<string, number[]> }

function runAtLevel(level: KernelLevel | undefined): LevelRun | null {
  const env = { ...process.env };
  if (level === undefined) delete env.TINKER_ENGINE_ISA;
  else env.TINKER_ENGINE_ISA = level;
  const r = spawnSync(process.execPath, [testkit], { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  // A level above this CPU's makes loading the addon fail (kernel-level.test.ts checks the message).
  if (r.status !== 0 && /this CPU runs at most/.test(r.stderr)) return null;
  assert.equal(r.status, 0, `TINKER_ENGINE_ISA=${level ?? '(unset)'}: child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as LevelRun;
}

/**
 * Both sides sum the same exact products (bf16 × bf16 fits in f32); the kernels sum in f32, in
 * their own order, so each element may differ by a few f32 ulps of the sum of |products|.
 */
function assertSameSums(actual: Record<string, number[]>, expected: Record<string, number[]>, what: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected));
  for (const c of BF16_GEMM_CASES) {
    const a = actual[c.name], e = expected[c.name];
    assert.equal(a.length, e.length);
    for (let i = 0; i < e.length; i++) {
      if (Number.isNaN(e[i])) {
        // The child's JSON turns NaN into null.
        assert.ok(a[i] === null || Number.isNaN(a[i]), `${what} ${c.name}[${i}]: an element outside C was written`);
        continue;
      }
      // Unit normals: the sum of |products| over K is about 0.64·K; f32 summation error ~ K·2⁻²⁴ of it at worst.
      const tol = 1e-6 * (c.K + Math.abs(e[i]) + 1);
      if (!(Math.abs(a[i] - e[i]) <= tol)) assert.fail(`${what} ${c.name}[${i}]: got ${a[i]}, expected ${e[i]}`);
    }
  }
}

const reference = runBf16Gemms(referenceKernels);

for (const level of LEVELS) {
  test(`TINKER_ENGINE_ISA=${level}: gemmBf16 equals the reference sums of bf16 products on odd shapes`, (t) => {
    const run = runAtLevel(level);
    if (run === null) {
      t.skip(`this CPU has no ${level} level`);
      return;
    }
    assert.equal(run.level, level);
    assert.equal(run.kernel, level === 'avx512' && cpuHasBf16 ? 'avx512bf16-dot' : 'f32-tiles');
    assertSameSums(run.outputs, reference, `${level}/${run.kernel}`);
  });
}

test('without TINKER_ENGINE_ISA an avx512_bf16 CPU runs the bf16 GEMM on AVX512-BF16 dot products', () => {
  const run = runAtLevel(undefined)!;
  assert.equal(run.kernel, run.level === 'avx512' && cpuHasBf16 ? 'avx512bf16-dot' : 'f32-tiles');
});

test('gemmBf16 is within bf16 rounding of the f32 GEMM of the unrounded operands', () => {
  BF16_GEMM_CASES.forEach((c, i) => {
    const { A, B, C, opts } = bf16GemmOperands(c, i + 1);
    const C32 = new Float32Array(C);
    nativeKernels.gemmBf16(c.transB, c.M, c.N, c.K, c.alpha, A, B, c.beta, C, opts);
    nativeKernels.gemm(false, c.transB, c.M, c.N, c.K, c.alpha, A, bf16ToFloat32(B), c.beta, C32, opts);
    const Bf = bf16ToFloat32(B);
    for (let m = 0; m < c.M; m++) {
      for (let n = 0; n < c.N; n++) {
        const j = opts.cOffset + m * opts.ldc + n;
        // Only A is rounded (B already is bf16): each product moves by at most 2⁻⁹ of its size,
        // so the sum by at most 2⁻⁹ · Σ|a||b| (doubled for margin), plus f32 rounding.
        let size = 0;
        for (let k = 0; k < c.K; k++) {
          const b = c.transB ? Bf[opts.bOffset + n * opts.ldb + k] : Bf[opts.bOffset + k * opts.ldb + n];
          size += Math.abs(A[opts.aOffset + m * opts.lda + k] * b);
        }
        const tol = 2 ** -8 * c.alpha * size + 1e-5 * (1 + Math.abs(C32[j]));
        assert.ok(Math.abs(C[j] - C32[j]) <= tol, `${c.name}[${m},${n}]: bf16 ${C[j]} vs f32 ${C32[j]}`);
      }
    }
  });
});

test('gemmBf16 checks its operands: B must be bf16 (a Uint16Array) and every buffer large enough', () => {
  const A = new Float32Array(6), C = new Float32Array(4);
  assert.throws(() => nativeKernels.gemmBf16(true, 2, 2, 3, 1, A, new Float32Array(6) as unknown as Uint16Array, 0, C), /B must be a Uint16Array/);
  assert.throws(() => nativeKernels.gemmBf16(true, 2, 2, 3, 1, A, new Uint16Array(5), 0, C), /B has 5 elements but 6 are needed/);
  assert.throws(() => nativeKernels.gemmBf16(false, 2, 2, 3, 1, A, new Uint16Array(6), 0, new Float32Array(3)), /C has 3 elements but 4 are needed/);
  // K = 0: an empty sum, so C = beta·C.
  const c = new Float32Array([1, 2, 3, 4]);
  nativeKernels.gemmBf16(true, 2, 2, 0, 1, new Float32Array(0), new Uint16Array(0), 0.5, c);
  assert.deepEqual(Array.from(c), [0.5, 1, 1.5, 2]);
});
