import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from './model-registry.js';
import { modelConfigToHf } from './hf-config.js';
import { writeHfWeights } from './hf-weights.js';
import { randomModelWeights } from './init.js';
import { Tokenizer } from './tokenizer.js';
import { EngineUserError } from './errors.js';
import type { ModelConfig } from './model-types.js';

const cfg: ModelConfig = {
  family: 'qwen3', vocabSize: 151936, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 1e6, ropeScaling: null, maxPositionEmbeddings: 512, tieWordEmbeddings: true, bosTokenId: null, eosTokenIds: [151645],
};

function localModelDir(withTokenizer: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-model-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(modelConfigToHf(cfg)));
  writeHfWeights(dir, cfg, randomModelWeights(cfg, 3));
  if (withTokenizer) {
    const files = Tokenizer.bundledFiles('qwen3');
    copyFileSync(files.tokenizerJson, join(dir, 'tokenizer.json'));
    copyFileSync(files.tokenizerConfigJson!, join(dir, 'tokenizer_config.json'));
  }
  return dir;
}

test('a local HF directory is served under its own name, not as a stand-in, loaded once', () => {
  const dir = localModelDir(true);
  const logs: string[] = [];
  const reg = new ModelRegistry({ models: { 'acme/tiny': dir }, log: (l) => logs.push(l) });
  const info = reg.list().find((m) => m.model_name === 'acme/tiny');
  assert.deepEqual(info, { model_name: 'acme/tiny', max_context_length: 512, family: 'qwen3', stand_in: false });
  const a = reg.load('acme/tiny');
  assert.equal(reg.load('acme/tiny'), a);
  assert.equal(a.weights.layers.length, 1);
  assert.deepEqual(logs, []);
  assert.equal(reg.tokenizerFiles('acme/tiny').tokenizerJson, join(dir, 'tokenizer.json'));
  assert.deepEqual(reg.tokenizer('acme/tiny')!.encode('Hello'), [9707]);
});

test('a registered name replaces the stand-in of the same name', () => {
  const reg = new ModelRegistry({ models: { 'Qwen/Qwen3-8B': localModelDir(false) } });
  assert.equal(reg.isStandIn('Qwen/Qwen3-8B'), false);
  assert.equal(reg.tokenizer('Qwen/Qwen3-8B'), null);
  assert.throws(() => reg.tokenizerFiles('Qwen/Qwen3-8B'), /no tokenizer\.json/);
});

test('stand-ins load lazily with their family vocabulary and are logged as stand-ins', () => {
  const logs: string[] = [];
  const reg = new ModelRegistry({ log: (l) => logs.push(l) });
  assert.equal(logs.length, 0);
  const m = reg.load('meta-llama/Llama-3.2-1B');
  assert.equal(m.config.vocabSize, 128256);
  assert.equal(m.weights.embed.length, 128256 * m.config.hiddenSize);
  assert.match(logs[0], /meta-llama\/Llama-3\.2-1B is a stand-in/);
  assert.throws(() => reg.load('nope/x'), (e: Error) => e instanceof EngineUserError && /unknown base model "nope\/x"/.test(e.message));
});
