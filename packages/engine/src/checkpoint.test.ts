import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdapterState } from './init.js';
import { Prng } from './prng.js';
import { loadTrainingState, readTrainingStateInfo, saveTrainingState } from './checkpoint.js';
import { EngineUserError } from './errors.js';
import type { AdapterState, LoraParams, LoraSettings, ModelConfig } from './model-types.js';

const tinyConfig: ModelConfig = {
  family: 'qwen3', vocabSize: 64, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 128, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [1],
};
const settings: LoraSettings = { rank: 4, alpha: 32, seed: 3, trainAttn: true, trainMlp: true, trainUnembed: true };

function randomize(params: LoraParams, seed: number): void {
  const r = new Prng(seed);
  for (const p of params.values()) { r.fillNormal(p.A, 0, 1); r.fillNormal(p.B, 0, 1); }
}

function trainedState(): AdapterState {
  const s = createAdapterState(tinyConfig, settings);
  randomize(s.params, 1); randomize(s.adamM, 2); randomize(s.adamV, 3);
  for (const p of s.adamV.values()) { p.A.forEach((x, i) => (p.A[i] = x * x)); p.B.forEach((x, i) => (p.B[i] = x * x)); }
  s.step = 17;
  return s;
}

function bits(params: LoraParams): number[][] {
  return [...params].flatMap(([, p]) => [[...new Uint32Array(p.A.buffer)], [...new Uint32Array(p.B.buffer)]]);
}

test('training state save -> load with optimizer restores params, moments and step bit-exactly', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'state');
  const saved = trainedState();
  saveTrainingState(dir, 'tiny', saved, true);
  const loaded = createAdapterState(tinyConfig, { ...settings, seed: 99 });
  loadTrainingState(dir, 'tiny', loaded, true);
  assert.deepEqual(bits(loaded.params), bits(saved.params));
  assert.deepEqual(bits(loaded.adamM), bits(saved.adamM));
  assert.deepEqual(bits(loaded.adamV), bits(saved.adamV));
  assert.equal(loaded.step, 17);
  assert.equal(loaded.settings.seed, 3);
  const info = readTrainingStateInfo(dir);
  assert.deepEqual(info, { baseModel: 'tiny', settings, step: 17, hasOptimizer: true });
});

test('training state saved twice is byte-identical', () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-'));
  const s = trainedState();
  saveTrainingState(join(root, 'a'), 'tiny', s, true);
  saveTrainingState(join(root, 'b'), 'tiny', s, true);
  assert.deepEqual(readFileSync(join(root, 'a', 'adapter_state.safetensors')), readFileSync(join(root, 'b', 'adapter_state.safetensors')));
});

test('loading weights only resets the optimizer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  const saved = trainedState();
  saveTrainingState(dir, 'tiny', saved, false);
  assert.equal(readTrainingStateInfo(dir).hasOptimizer, false);
  const loaded = trainedState();
  loadTrainingState(dir, 'tiny', loaded, false);
  assert.deepEqual(bits(loaded.params), bits(saved.params));
  assert.equal(loaded.step, 0);
  for (const p of loaded.adamM.values()) assert.ok(p.A.every((x) => x === 0));
  assert.throws(() => loadTrainingState(dir, 'tiny', trainedState(), true), /without optimizer state/);
});

test('loading a checkpoint of another base model or rank is a user error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  saveTrainingState(dir, 'tiny', trainedState(), true);
  assert.throws(() => loadTrainingState(dir, 'other', trainedState(), true), (e: Error) => e instanceof EngineUserError && /base model tiny/.test(e.message));
  const rank8 = createAdapterState(tinyConfig, { ...settings, rank: 8 });
  assert.throws(() => loadTrainingState(dir, 'tiny', rank8, true), (e: Error) => e instanceof EngineUserError && /rank 4/.test(e.message));
  assert.throws(() => readTrainingStateInfo(join(dir, 'missing')), EngineUserError);
});
