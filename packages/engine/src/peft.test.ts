import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoraParams } from './init.js';
import { Prng } from './prng.js';
import { readPeftAdapter, writePeftAdapter, peftModuleName } from './peft.js';
import { readSafetensorsFile } from './safetensors.js';
import type { LoraSettings, ModelConfig } from './model-types.js';

const tinyConfig: ModelConfig = {
  family: 'qwen3', vocabSize: 64, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 128, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [1],
};

const settings: LoraSettings = { rank: 4, alpha: 32, seed: 5, trainAttn: true, trainMlp: true, trainUnembed: true };

test('PEFT module names follow the HF layout', () => {
  assert.equal(peftModuleName('layers.3.q'), 'base_model.model.model.layers.3.self_attn.q_proj');
  assert.equal(peftModuleName('layers.0.down'), 'base_model.model.model.layers.0.mlp.down_proj');
  assert.equal(peftModuleName('lm_head'), 'base_model.model.lm_head');
});

test('PEFT export writes the standard tensor names, shapes and adapter_config.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-'));
  const params = createLoraParams(tinyConfig, settings);
  writePeftAdapter(dir, { baseModel: 'Qwen/Qwen3-8B', settings, params });
  const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(config.peft_type, 'LORA');
  assert.equal(config.task_type, 'CAUSAL_LM');
  assert.equal(config.r, 4);
  assert.equal(config.lora_alpha, 32);
  assert.equal(config.base_model_name_or_path, 'Qwen/Qwen3-8B');
  assert.deepEqual(config.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'lm_head']);
  const f = readSafetensorsFile(join(dir, 'adapter_model.safetensors'));
  assert.deepEqual(f.tensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight')!.shape, [4, 16]);
  assert.deepEqual(f.tensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight')!.shape, [16, 4]);
  assert.deepEqual(f.tensors.get('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight')!.shape, [4, 24]);
  assert.deepEqual(f.tensors.get('base_model.model.lm_head.lora_B.weight')!.shape, [64, 4]);
  assert.equal(f.tensors.size, 2 * (2 * 7 + 1));
});

test('PEFT export -> import round trip restores settings and weights exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-'));
  const s = { ...settings, trainUnembed: false };
  const params = createLoraParams(tinyConfig, s);
  const r = new Prng(1);
  for (const p of params.values()) r.fillNormal(p.B, 0, 1);
  writePeftAdapter(dir, { baseModel: 'tiny', settings: s, params });
  const back = readPeftAdapter(dir, tinyConfig);
  assert.equal(back.baseModel, 'tiny');
  assert.deepEqual({ ...back.settings, seed: 5 }, s);
  assert.deepEqual([...back.params.keys()], [...params.keys()]);
  for (const [k, p] of params) {
    assert.deepEqual(back.params.get(k)!.A, p.A);
    assert.deepEqual(back.params.get(k)!.B, p.B);
  }
});

test('PEFT import rejects adapters whose shapes do not fit the base model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-'));
  writePeftAdapter(dir, { baseModel: 'tiny', settings, params: createLoraParams(tinyConfig, settings) });
  assert.throws(() => readPeftAdapter(dir, { ...tinyConfig, hiddenSize: 32 }), /shape/);
  assert.throws(() => readPeftAdapter(join(dir, 'nope'), tinyConfig), /cannot read PEFT adapter config/);
});

test('PEFT import of an adapter that trains only some modules fills the rest as fresh modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peft-'));
  const s = { ...settings, trainMlp: false, trainUnembed: false };
  const full = createLoraParams(tinyConfig, s);
  const r = new Prng(2);
  for (const p of full.values()) r.fillNormal(p.B, 0, 1);
  // Keep only q and v, as many external LoRA recipes do.
  const partial = new Map([...full].filter(([k]) => /\.(q|v)$/.test(k)));
  writePeftAdapter(dir, { baseModel: 'tiny', settings: s, params: partial });
  const back = readPeftAdapter(dir, tinyConfig);
  assert.equal(back.settings.trainAttn, true);
  assert.equal(back.settings.trainMlp, false);
  assert.deepEqual(back.params.get('layers.1.v')!.B, full.get('layers.1.v')!.B);
  const k = back.params.get('layers.1.k')!;
  assert.ok(k.B.every((x) => x === 0));
  assert.ok(k.A.some((x) => x !== 0));
});
