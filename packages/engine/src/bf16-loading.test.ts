/**
 * Loading base weights as bf16: from a BF16 checkpoint the bits are taken as stored (its default
 * dtype is bf16), an F32 checkpoint is rounded on load when bf16 is asked, the per-model dtype
 * of the registry and the Engine, and the refusals of dtypes and names it does not know.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomModelWeights, smallModelConfig } from './init.js';
import { modelConfigToHf } from './hf-config.js';
import { checkpointWeightDtype, readHfWeights, writeHfWeights } from './hf-weights.js';
import { readSafetensorsFile } from './safetensors.js';
import { ModelRegistry } from './model-registry.js';
import { Engine } from './engine.js';
import { EngineUserError } from './errors.js';
import { isBf16, parseWeightDtype, toBf16 } from './weight-dtype.js';
import type { ModelConfig } from './model-types.js';

const cfg: ModelConfig = smallModelConfig({ vocabSize: 50, hiddenSize: 24, intermediateSize: 40, numHeads: 2, numKvHeads: 1, headDim: 12 });
const weights = randomModelWeights(cfg, 3, { std: 0.3 });

function checkpointDir(dtype: 'F32' | 'BF16'): string {
  const dir = mkdtempSync(join(tmpdir(), `tinker-bf16-${dtype}-`));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(modelConfigToHf(cfg)));
  writeHfWeights(dir, cfg, weights, dtype);
  return dir;
}
const bf16Dir = checkpointDir('BF16');
const f32Dir = checkpointDir('F32');

test('a BF16 checkpoint loads as bf16 by default, with the stored bits as they are', () => {
  assert.equal(checkpointWeightDtype(bf16Dir), 'bf16');
  const loaded = new ModelRegistry({ models: { m: bf16Dir }, log: () => {} }).load('m').weights;
  const file = readSafetensorsFile(join(bf16Dir, 'model.safetensors'));
  const entry = file.tensors.get('model.layers.1.mlp.down_proj.weight')!;
  assert.equal(entry.dtype, 'BF16');
  const stored = new Uint16Array(file.data.slice(entry.begin, entry.end).buffer);
  assert.ok(isBf16(loaded.layers[1].down));
  assert.deepEqual(loaded.layers[1].down, stored);
  assert.ok(isBf16(loaded.embed) && isBf16(loaded.lmHead!));
  assert.ok(loaded.finalNorm instanceof Float32Array);
});

test('an F32 checkpoint loads as f32 by default and is rounded to bf16 on load when asked', () => {
  assert.equal(checkpointWeightDtype(f32Dir), 'f32');
  const asF32 = new ModelRegistry({ models: { m: f32Dir }, log: () => {} }).load('m').weights;
  assert.ok(asF32.layers[0].q instanceof Float32Array);
  assert.deepEqual(asF32.layers[0].q, weights.layers[0].q);
  const asBf16 = new ModelRegistry({ models: { m: f32Dir }, dtypes: { m: 'bf16' }, log: () => {} }).load('m').weights;
  assert.deepEqual(asBf16.layers[0].q, toBf16(weights.layers[0].q));
  assert.deepEqual(asBf16.embed, toBf16(weights.embed));
  // Asking f32 of a BF16 checkpoint widens it exactly.
  const widened = readHfWeights(bf16Dir, cfg, 'f32');
  assert.ok(widened.layers[0].q instanceof Float32Array);
  assert.deepEqual(toBf16(widened.layers[0].q as Float32Array), toBf16(weights.layers[0].q));
});

test('stand-ins are f32 unless asked; the Engine reports each base model\'s dtype and bytes', () => {
  const name = 'tinker-ts/tiny-llama3';
  const registry = new ModelRegistry({ log: () => {} });
  assert.equal(registry.dtype(name), 'f32');
  const f32 = new Engine({ models: { local: f32Dir }, log: () => {} });
  const bf16 = new Engine({ models: { local: f32Dir }, dtypes: { local: 'bf16' }, log: () => {} });
  const a = f32.baseWeights('local'), b = bf16.baseWeights('local');
  assert.equal(a.dtype, 'f32');
  assert.equal(b.dtype, 'bf16');
  assert.ok(b.bytes / a.bytes > 0.5 && b.bytes / a.bytes <= 0.55, `bf16/f32 bytes ${b.bytes}/${a.bytes}`);
  assert.equal(new ModelRegistry({ dtypes: { [name]: 'bf16' }, log: () => {} }).dtype(name), 'bf16');
});

test('an unsupported dtype or a dtype for an unknown model is refused by name', () => {
  assert.throws(() => parseWeightDtype('fp16'), (e: unknown) => e instanceof EngineUserError && /dtype "fp16" is not supported \(expected bf16 or f32\)/.test(e.message));
  assert.throws(() => new ModelRegistry({ models: { m: f32Dir }, dtypes: { m: 'float16' }, log: () => {} }),
    (e: unknown) => e instanceof EngineUserError && /dtype of m: "float16" is not supported/.test(e.message));
  assert.throws(() => new ModelRegistry({ dtypes: { nope: 'bf16' }, log: () => {} }),
    (e: unknown) => e instanceof EngineUserError && /dtype given for unknown model "nope"/.test(e.message));
});
