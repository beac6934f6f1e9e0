/**
 * Qwen3-MoE against transformers + PEFT on a tiny random-init checkpoint that transformers builds
 * (parity/qwen3_moe_reference.py): per-token logprobs of the base model, PEFT loading our export,
 * two LoRA + AdamW steps compared tensor by tensor, and sampling logprobs equal to forward ones.
 *
 * Needs a Python with torch, transformers and peft: TINKER_TORCH_PYTHON (default python3). Without
 * one the test is skipped, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ADAM_PARAMS, optimStep } from './adamw.js';
import { forwardWithCache } from './cached-forward.js';
import { readHfConfig } from './hf-config.js';
import { readHfWeights } from './hf-weights.js';
import { createAdapterState } from './init.js';
import { createKvCache } from './kv-cache.js';
import { runTrainingPass } from './model.js';
import type { LoadedModel } from './model-types.js';
import { nativeAddonPath, nativeKernels } from './native-kernels.js';
import { packSequences } from './packed-batch.js';
import { PEFT_WEIGHTS_FILE, readPeftAdapter, writePeftAdapter } from './peft.js';
import { Prng } from './prng.js';
import { readSafetensorsFile, tensorAsFloat32 } from './safetensors.js';

const SCRIPT = fileURLToPath(new URL('../parity/qwen3_moe_reference.py', import.meta.url));
const PYTHON = process.env['TINKER_TORCH_PYTHON'] || 'python3';

function skipReason(): string | false {
  if (!existsSync(nativeAddonPath)) return `native addon not built (${nativeAddonPath} missing)`;
  const probe = spawnSync(PYTHON, ['-c', 'import torch, transformers, peft; transformers.Qwen3MoeForCausalLM'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.error) return `${PYTHON} cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) return `${PYTHON} lacks torch/transformers/peft (set TINKER_TORCH_PYTHON): ${probe.stderr.trim().split('\n').pop()}`;
  return false;
}

function python(args: string[]): void {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, `reference script failed: ${r.stderr}`);
}

/** Largest relative difference seen per check, reported with the test. */
const worst: Record<string, number> = {};

function assertRelClose(what: string, ours: ArrayLike<number>, theirs: ArrayLike<number>, rel: number): void {
  assert.equal(ours.length, theirs.length, `${what}: length`);
  for (let i = 0; i < ours.length; i++) {
    const err = Math.abs(ours[i] - theirs[i]);
    worst[what] = Math.max(worst[what] ?? 0, err / Math.abs(theirs[i]));
    assert.ok(err <= rel * Math.abs(theirs[i]), `${what}[${i}]: ours ${ours[i]}, transformers ${theirs[i]} (relative ${err / Math.abs(theirs[i])})`);
  }
}

test('Qwen3-MoE matches transformers + PEFT: logprobs, PEFT export, two LoRA+AdamW steps, sampling logprobs', { skip: skipReason() }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qwen3-moe-parity-'));
  try {
    const ckpt = join(dir, 'ckpt');
    python(['make', ckpt]);
    const cfg = readHfConfig(ckpt);
    assert.equal(cfg.moe?.numExperts, 6);
    const model: LoadedModel = { name: 'tiny-moe', config: cfg, weights: readHfWeights(ckpt, cfg) };
    const k = nativeKernels;
    const rank = 2;
    const adapter = createAdapterState(cfg, { rank, alpha: 8, seed: 5, trainAttn: true, trainMlp: true, trainUnembed: false });
    // Non-zero B, so the first step's A gradients are not zero.
    const rng = new Prng(6, 'B');
    for (const p of adapter.params.values()) rng.fillNormal(p.B, 0, 0.2);
    const exported = join(dir, 'adapter');
    writePeftAdapter(exported, { baseModel: 'tiny-moe', settings: adapter.settings, params: adapter.params }, cfg);

    const seqs = [11, 6].map((n) => {
      const t = Array.from({ length: n + 1 }, () => Math.floor(rng.uniform() * cfg.vocabSize));
      return { tokens: t.slice(0, n), targets: t.slice(1), weights: Array.from({ length: n }, (_, i) => (i < 2 ? 0 : 1)) };
    });
    const adam = { ...DEFAULT_ADAM_PARAMS, learning_rate: 1e-2, weight_decay: 0.01, grad_clip_norm: 0 };
    writeFileSync(join(dir, 'batch.json'), JSON.stringify({ seqs, adam }));
    python(['run', ckpt, exported, join(dir, 'batch.json'), dir]);
    const ref = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as
      { base: number[][]; adapter: number[][]; trained: number[][]; losses: number[]; versions: Record<string, string> };

    const batch = packSequences(cfg, seqs, 1);
    const flat = (xs: number[][]): number[] => xs.flat();
    assertRelClose('base logprobs', runTrainingPass(k, model, null, batch), flat(ref.base), 1e-4);
    assertRelClose('adapter logprobs (our export loaded by PEFT)', runTrainingPass(k, model, adapter, batch), flat(ref.adapter), 1e-4);

    const weights = Float32Array.from(seqs.flatMap((s) => s.weights));
    for (let step = 0; step < 2; step++) {
      let loss = 0;
      runTrainingPass(k, model, adapter, batch, {
        lossGradient: (r0, n, lp, dlp) => { for (let i = 0; i < n; i++) { dlp[i] = -weights[r0 + i]; loss -= weights[r0 + i] * lp[i]; } },
      });
      assert.ok(Math.abs(loss - ref.losses[step]) <= 1e-4 * Math.abs(ref.losses[step]), `step ${step} loss ${loss} vs ${ref.losses[step]}`);
      optimStep(k, adapter, adam);
    }
    const trainedLp = runTrainingPass(k, model, adapter, batch);
    assertRelClose('logprobs after two steps', trainedLp, flat(ref.trained), 1e-4);

    // Tensor by tensor, in PEFT's names and layout.
    const ours = join(dir, 'ours-trained');
    writePeftAdapter(ours, { baseModel: 'tiny-moe', settings: adapter.settings, params: adapter.params }, cfg);
    const a = readSafetensorsFile(join(ours, PEFT_WEIGHTS_FILE));
    const b = readSafetensorsFile(join(dir, 'trained', PEFT_WEIGHTS_FILE));
    assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
    assert.ok([...b.tensors.keys()].some((n) => n.endsWith('mlp.experts.base_layer.lora_A.weight')));
    for (const name of b.tensors.keys()) {
      const x = tensorAsFloat32(a, name);
      const y = tensorAsFloat32(b, name);
      let maxAbs = 0;
      let maxErr = 0;
      for (let i = 0; i < y.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(y[i])); maxErr = Math.max(maxErr, Math.abs(x[i] - y[i])); }
      assert.ok(maxErr <= 1e-4 * maxAbs, `${name}: max difference ${maxErr} (max |value| ${maxAbs})`);
      worst['trained LoRA tensors (max |diff| / max |value|)'] = Math.max(worst['trained LoRA tensors (max |diff| / max |value|)'] ?? 0, maxErr / maxAbs);
    }
    // The adapter must differ from the base model, or the comparisons above prove little.
    const moved = flat(ref.adapter).some((x, i) => Math.abs(x - flat(ref.base)[i]) > 1e-2) && flat(ref.trained).some((x, i) => Math.abs(x - flat(ref.adapter)[i]) > 1e-2);
    assert.ok(moved, 'the adapter and the two steps change the logprobs');

    // PEFT's own save reads back into the same adapter.
    const back = readPeftAdapter(join(dir, 'trained'), cfg);
    assertRelClose('logprobs of the PEFT-saved adapter read back', runTrainingPass(k, model, back, batch), flat(ref.trained), 1e-4);

    // Sampling path (KV cache, prefill + single steps) gives the forward logprobs.
    const s0 = seqs[0];
    const cache = createKvCache(cfg, 1, 32);
    let logits = forwardWithCache(k, model, adapter, cache, Int32Array.from(s0.tokens.slice(0, 4)), 4, 'last')!.slice();
    for (let i = 3; i < s0.tokens.length; i++) {
      k.logSoftmaxRows(logits, 1, cfg.vocabSize);
      const want = trainedLp[i];
      assert.ok(Math.abs(logits[s0.targets[i]] - want) <= 1e-4 * Math.abs(want), `sampled position ${i}: ${logits[s0.targets[i]]} vs ${want}`);
      if (i + 1 < s0.tokens.length) logits = forwardWithCache(k, model, adapter, cache, Int32Array.from([s0.tokens[i + 1]]), 1, 'last')!.slice();
    }
    t.diagnostic(`worst relative differences: ${JSON.stringify(worst)}; ${b.tensors.size} PEFT tensors; ${JSON.stringify(ref.versions)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
