/**
 * The addon runs its hot kernels at the best instruction-set level the CPU supports, or at the
 * lower one TINKER_ENGINE_ISA asks for. Each level this CPU has runs in its own child process
 * (the variable is read when the addon loads); its results must match the reference kernels
 * and the other levels within f32 tolerance, and the few-row GEMM must really be a different
 * build at each level (its vector width changes the order of the sums, so the bits differ).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KernelLevel } from './native-kernels.js';
import { referenceKernels } from './reference-kernels.js';
import { runLevelKernels, type KernelOutputs } from './kernel-level.testkit.js';

const LEVELS: KernelLevel[] = ['baseline', 'avx2', 'avx512'];
const testkit = fileURLToPath(new URL('./kernel-level.testkit.js', import.meta.url));

function runAtLevel(level: string | undefined): SpawnSyncReturns<string> {
  const env = { ...process.env };
  if (level === undefined) delete env.TINKER_ENGINE_ISA;
  else env.TINKER_ENGINE_ISA = level;
  return spawnSync(process.execPath, [testkit], { env, encoding: 'utf8', timeout: 120_000 });
}

function levelResult(level: KernelLevel | undefined): { level: KernelLevel; outputs: KernelOutputs } {
  const r = runAtLevel(level);
  assert.equal(r.status, 0, `TINKER_ENGINE_ISA=${level ?? '(unset)'}: child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { level: KernelLevel; outputs: KernelOutputs };
}

/** |a - e| <= tol * (1 + |e|) everywhere; the error names the kernel and the element. */
function assertAgree(actual: KernelOutputs, expected: KernelOutputs, tol: number, what: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${what}: kernels run`);
  for (const [kernel, e] of Object.entries(expected)) {
    const a = actual[kernel];
    assert.equal(a.length, e.length, `${what} ${kernel}: length`);
    // Sums over K terms of unit normals (the GEMMs) carry errors that grow with sqrt(K).
    const scale = kernel.startsWith('gemm') ? Math.sqrt(Number(kernel.split(/[x+]/)[2])) : 1;
    for (let i = 0; i < e.length; i++) {
      if (!(Math.abs(a[i] - e[i]) <= tol * (scale + Math.abs(e[i])))) {
        assert.fail(`${what} ${kernel}[${i}]: got ${a[i]}, expected ${e[i]}`);
      }
    }
  }
}

const best = levelResult(undefined);
const available = LEVELS.slice(0, LEVELS.indexOf(best.level) + 1);
const reference = runLevelKernels(referenceKernels);

test(`without TINKER_ENGINE_ISA the addon picks the best level this CPU runs (${best.level}), and agrees with the reference`, () => {
  assert.ok(LEVELS.includes(best.level), `unknown level ${best.level}`);
  if (process.arch !== 'x64') assert.equal(best.level, 'baseline');
  assertAgree(best.outputs, reference, 1e-5, best.level);
});

for (const level of available.filter((l) => l !== best.level)) {
  test(`TINKER_ENGINE_ISA=${level} runs the ${level} kernels, which agree with the reference and with ${best.level}`, () => {
    const r = levelResult(level);
    assert.equal(r.level, level);
    assertAgree(r.outputs, reference, 1e-5, level);
    assertAgree(r.outputs, best.outputs, 2e-5, `${level} against ${best.level}`);
    const gemm = 'gemm 16x70x256+0';
    assert.notDeepEqual(r.outputs[gemm], best.outputs[gemm], `${gemm}: ${level} gave the same bits as ${best.level}, so one build ran both`);
  });
}

test('an unknown TINKER_ENGINE_ISA, or a level this CPU lacks, makes loading the addon fail with the reason', () => {
  const unknown = runAtLevel('sse9');
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /TINKER_ENGINE_ISA=sse9 is not a kernel level \(expected avx512, avx2 or baseline\)/);
  const above = LEVELS[LEVELS.indexOf(best.level) + 1];
  if (above !== undefined) {
    const r = runAtLevel(above);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`TINKER_ENGINE_ISA=${above}: this CPU runs at most the ${best.level} kernels`));
  }
});
