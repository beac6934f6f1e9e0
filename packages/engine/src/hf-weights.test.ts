import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceKernels as k } from './reference-kernels.js';
import { randomModelWeights } from './init.js';
import { runTrainingPass } from './model.js';
import { packSequences } from './packed-batch.js';
import { modelConfigFromHf, modelConfigToHf, readHfConfig } from './hf-config.js';
import { hfTensorsOf, readHfWeights, writeHfWeights } from './hf-weights.js';
import { writeSafetensorsFile } from './safetensors.js';
import { EngineUserError } from './errors.js';
import type { ModelConfig, ModelWeights } from './model-types.js';

const llama: ModelConfig = {
  family: 'llama', vocabSize: 80, hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-5, ropeTheta: 500000,
  ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
  maxPositionEmbeddings: 128, tieWordEmbeddings: false, bosTokenId: 1, eosTokenIds: [2, 3],
};
const qwen3: ModelConfig = {
  family: 'qwen3', vocabSize: 72, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 1, headDim: 16,
  rmsNormEps: 1e-6, ropeTheta: 1000000, ropeScaling: null, maxPositionEmbeddings: 256, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [5],
};
const tokens = [1, 7, 22, 3, 41, 9, 15, 60, 2, 33];

function logprobs(cfg: ModelConfig, weights: ModelWeights): Float32Array {
  return runTrainingPass(k, { name: 't', config: cfg, weights }, null, packSequences(cfg, [{ tokens: tokens.slice(0, -1), targets: tokens.slice(1) }], 1));
}
function randomizeNorms(w: ModelWeights): void {
  // Non-trivial norm weights so a swapped norm tensor would show in the logits.
  let x = 0.7;
  const fill = (a: Float32Array | null) => a?.forEach((_, i) => (a[i] = (x = (x * 1.37) % 1.5) + 0.5));
  for (const l of w.layers) [l.inputNorm, l.postAttnNorm, l.qNorm, l.kNorm].forEach(fill);
  fill(w.finalNorm);
}

/** Round-to-nearest-even to bfloat16, in place (finite values). */
function roundToBf16(x: Float32Array): void {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const lower = b & 0xffff;
    let upper = b >>> 16;
    if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper += 1;
    bits[i] = (upper << 16) >>> 0;
  }
}

for (const cfg of [llama, qwen3]) {
  test(`HF ${cfg.family} checkpoint (f32) loads to the same config and identical logits`, () => {
    const dir = mkdtempSync(join(tmpdir(), `hf-${cfg.family}-`));
    const w = randomModelWeights(cfg, 11, { std: 0.2 });
    randomizeNorms(w);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(modelConfigToHf(cfg)));
    writeHfWeights(dir, cfg, w);
    const loadedCfg = readHfConfig(dir);
    assert.deepEqual(loadedCfg, cfg);
    const loaded = readHfWeights(dir, loadedCfg);
    assert.equal(loaded.lmHead === null, cfg.tieWordEmbeddings);
    assert.deepEqual(logprobs(cfg, loaded), logprobs(cfg, w));
  });

  test(`HF ${cfg.family} checkpoint in bf16 shards loads and matches within bf16 precision`, () => {
    const dir = mkdtempSync(join(tmpdir(), `hf-${cfg.family}-bf16-`));
    const w = randomModelWeights(cfg, 12, { std: 0.2 });
    randomizeNorms(w);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...modelConfigToHf(cfg), torch_dtype: 'bfloat16' }));
    const all = [...hfTensorsOf(cfg, w)];
    const shards = [new Map(all.slice(0, 7)), new Map(all.slice(7))];
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensorsFile(join(dir, file), s, { dtype: 'BF16' });
      for (const name of s.keys()) weightMap[name] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const loaded = readHfWeights(dir, readHfConfig(dir));
    // Exactly the logits of the in-memory weights rounded to bf16 ...
    const rounded = randomModelWeights(cfg, 12, { std: 0.2 });
    randomizeNorms(rounded);
    for (const t of hfTensorsOf(cfg, rounded).values()) roundToBf16(t.data);
    const a = logprobs(cfg, loaded);
    assert.deepEqual(a, logprobs(cfg, rounded));
    // ... and close to the f32 ones.
    const b = logprobs(cfg, w);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    assert.ok(maxDiff > 0 && maxDiff < 0.05, `max logprob difference ${maxDiff}`);
  });
}

test('HF config conversion handles GQA defaults, eos lists and generation_config', () => {
  const c = modelConfigFromHf({
    architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
    num_attention_heads: 8, rms_norm_eps: 1e-5, max_position_embeddings: 512, bos_token_id: 1, eos_token_id: 2,
  });
  assert.equal(c.numKvHeads, 8);
  assert.equal(c.headDim, 8);
  assert.equal(c.tieWordEmbeddings, false);
  assert.deepEqual(c.eosTokenIds, [2]);
  assert.equal(c.ropeScaling, null);
  const dir = mkdtempSync(join(tmpdir(), 'hf-cfg-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(modelConfigToHf(qwen3)));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [5, 6] }));
  assert.deepEqual(readHfConfig(dir).eosTokenIds, [5, 6]);
});

test('unsupported HF configs and mismatched checkpoints give clear user errors', () => {
  assert.throws(() => modelConfigFromHf({ architectures: ['MistralForCausalLM'] }), (e: Error) => e instanceof EngineUserError && /unsupported architecture/.test(e.message));
  assert.throws(() => modelConfigFromHf({ ...modelConfigToHf(llama), rope_scaling: { rope_type: 'yarn', factor: 4 } }), /yarn/);
  assert.throws(() => modelConfigFromHf({ ...modelConfigToHf(llama), hidden_size: undefined }), /missing "hidden_size"/);
  const dir = mkdtempSync(join(tmpdir(), 'hf-bad-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(modelConfigToHf(llama)));
  assert.throws(() => readHfWeights(dir, llama), /neither model.safetensors/);
  writeHfWeights(dir, qwen3, randomModelWeights(qwen3, 1));
  assert.throws(() => readHfWeights(dir, llama), (e: Error) => e instanceof EngineUserError && /tensor "model\.layers\.0\.self_attn\.q_proj\.weight" has shape \[64,32\], config needs \[32,32\]/.test(e.message));
});
