/**
 * bf16 parity with transformers: tiny random-init Llama and Qwen3 checkpoints stored in BF16 run
 * in transformers loaded as bfloat16 (every op in bf16, as users run such checkpoints) and in our
 * engine (bf16 weights by default for a BF16 checkpoint, f32 activations, bf16 GEMM inputs).
 * Both are compared with transformers in float32 on the same bf16 weights: ours must be at
 * least as close to that as transformers' own bf16 run is, and close to transformers' bf16 run.
 *
 * Needs a Python with torch and transformers: TINKER_TORCH_PYTHON (default python3). Without one
 * the tests are skipped, like the python-compat runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeKernels } from './native-kernels.js';
import { randomModelWeights, smallModelConfig } from './init.js';
import { modelConfigToHf } from './hf-config.js';
import { writeHfWeights } from './hf-weights.js';
import { ModelRegistry } from './model-registry.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { Prng } from './prng.js';
import { weightDtypeOf } from './weight-dtype.js';
import type { ModelConfig } from './model-types.js';

const PYTHON = process.env['TINKER_TORCH_PYTHON'] || 'python3';
const SCRIPT = fileURLToPath(new URL('../parity/transformers_logprobs.py', import.meta.url));

function pythonMissing(): string | false {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, transformers'], { encoding: 'utf8', timeout: 120_000 });
  return probe.status === 0 ? false : `${PYTHON} cannot import torch and transformers (set TINKER_TORCH_PYTHON)`;
}
const skip = pythonMissing();

function transformersLogprobs(dir: string, dtype: 'bfloat16' | 'float32', sequences: number[][]): number[][] {
  const r = spawnSync(PYTHON, [SCRIPT, dir, dtype], { input: JSON.stringify(sequences), encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `transformers (${dtype}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[][];
}

const CASES: { name: string; cfg: ModelConfig }[] = [
  { name: 'Llama', cfg: smallModelConfig({ vocabSize: 120, hiddenSize: 64, intermediateSize: 112, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16 }) },
  {
    name: 'Qwen3 (tied)',
    cfg: smallModelConfig({
      family: 'qwen3', vocabSize: 120, hiddenSize: 64, intermediateSize: 112, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16,
      tieWordEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6,
    }),
  },
];

for (const { name, cfg } of CASES) {
  test(`${name} in bf16: our logprobs against transformers in bfloat16 and float32`, { skip }, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tinker-bf16-parity-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...modelConfigToHf(cfg), torch_dtype: 'bfloat16' }));
    writeHfWeights(dir, cfg, randomModelWeights(cfg, 21, { std: 0.1 }), 'BF16');
    const rng = new Prng(4, 'parity');
    const sequences = [33, 12, 50].map((n) => Array.from({ length: n + 1 }, () => Math.floor(rng.uniform() * cfg.vocabSize)));

    const model = new ModelRegistry({ models: { m: dir }, log: () => {} }).load('m');
    assert.equal(weightDtypeOf(model.weights), 'bf16');
    const batch = packSequences(cfg, sequences.map((s) => ({ tokens: s.slice(0, -1), targets: s.slice(1) })), 1);
    const ours = Array.from(runTrainingPass(nativeKernels, model, null, batch));
    const hfBf16 = transformersLogprobs(dir, 'bfloat16', sequences).flat();
    const hfF32 = transformersLogprobs(dir, 'float32', sequences).flat();
    assert.equal(ours.length, hfBf16.length);

    const stats = (a: number[], b: number[]) => {
      let worst = 0, sum = 0;
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i] - b[i]));
        sum += Math.abs(a[i] - b[i]);
      }
      return { worst, mean: sum / a.length };
    };
    const oursVsF32 = stats(ours, hfF32);
    const hfBf16VsF32 = stats(hfBf16, hfF32);
    const oursVsHfBf16 = stats(ours, hfBf16);
    const detail = `ours−f32 ${JSON.stringify(oursVsF32)}, transformers bf16−f32 ${JSON.stringify(hfBf16VsF32)}, ours−transformers bf16 ${JSON.stringify(oursVsHfBf16)}`;
    t.diagnostic(detail);
    // transformers rounds every activation to bf16 (8 significant bits) and we only round the
    // GEMM inputs, so our error against the exact (f32) computation is at most about theirs;
    // against their bf16 run the two errors add up.
    assert.ok(oursVsF32.mean <= 1.5 * hfBf16VsF32.mean + 1e-3, detail);
    assert.ok(oursVsF32.worst <= 1.5 * hfBf16VsF32.worst + 1e-3, detail);
    assert.ok(oursVsHfBf16.worst <= 2.5 * hfBf16VsF32.worst + 1e-3, detail);
    assert.ok(oursVsHfBf16.worst <= 0.25, detail);
  });
}
