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

test('the current hosted lineup is served by stand-ins, with their :peft:<ctx> variants listed', () => {
  const reg = new ModelRegistry({ log: () => {} });
  const names = reg.list().map((m) => m.model_name);
  for (const name of ['Qwen/Qwen3.5-4B', 'Qwen/Qwen3-8B', 'openai/gpt-oss-20b', 'thinkingmachines/Inkling', 'moonshotai/Kimi-K2.6',
    'nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16', 'thinkingmachines/Inkling:peft:262144', 'moonshotai/Kimi-K2.6:peft:131072', 'openai/gpt-oss-120b:peft:131072']) {
    assert.ok(names.includes(name), name);
  }
  const variant = reg.list().find((m) => m.model_name === 'thinkingmachines/Inkling:peft:262144')!;
  assert.deepEqual(variant, { model_name: 'thinkingmachines/Inkling:peft:262144', max_context_length: 262144, family: 'qwen3', stand_in: true, tokenizer_id: 'Qwen/Qwen3-8B' });
  assert.equal(reg.list().find((m) => m.model_name === 'Qwen/Qwen3-8B')!.tokenizer_id, undefined);
  assert.equal(reg.maxContextLength('thinkingmachines/Inkling'), 65536);
});

test('a :peft:<ctx> variant shares its base weights and is bounded by the context it names', () => {
  const logs: string[] = [];
  const reg = new ModelRegistry({ log: (l) => logs.push(l) });
  assert.equal(reg.load('moonshotai/Kimi-K2.6:peft:131072'), reg.load('moonshotai/Kimi-K2.6'));
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /Kimi-K2\.6 is a stand-in.*Qwen3 tokenizer \(this model's own is not bundled/);
  assert.equal(reg.maxContextLength('moonshotai/Kimi-K2.6:peft:131072'), 131072);
  assert.equal(reg.maxContextLength('moonshotai/Kimi-K2.6:peft:4096'), 4096);
  assert.equal(reg.maxContextLength('Qwen/Qwen3-8B:sampling-nvfp4'), 32768);
  assert.equal(reg.has('moonshotai/Kimi-K2.6:peft:262144'), false);
  assert.throws(() => reg.maxContextLength('moonshotai/Kimi-K2.6:peft:262144'), (e: Error) => e instanceof EngineUserError && /at most 131072 tokens/.test(e.message));
  assert.throws(() => reg.config('moonshotai/Kimi-K2.6:peft:x'), (e: Error) => e instanceof EngineUserError && /positive integer/.test(e.message));
  assert.throws(() => reg.config('nope/x:peft:4096'), (e: Error) => e instanceof EngineUserError && /unknown base model/.test(e.message));
});

test('retired names without a stand-in of their own are aliases of one: same weights and context, listed as aliases', async () => {
  const { retirementOf } = await import('@tinker-ts/protocol');
  const { RETIRED_ALIASES } = await import('./stand-ins.js');
  const reg = new ModelRegistry({ log: () => {} });
  for (const [alias, target] of Object.entries(RETIRED_ALIASES)) {
    assert.ok(retirementOf(alias), `${alias} is not in protocol's RETIRED_MODELS`);
    assert.equal(reg.has(alias), true, alias);
    assert.equal(reg.maxContextLength(alias), reg.maxContextLength(target), alias);
  }
  assert.equal(reg.load('Qwen/Qwen3-32B'), reg.load('Qwen/Qwen3-8B'));
  assert.equal(reg.maxContextLength('moonshotai/Kimi-K2.5:peft:131072'), 131072);
  assert.deepEqual(reg.list().find((m) => m.model_name === 'Qwen/Qwen3-32B'), {
    model_name: 'Qwen/Qwen3-32B', max_context_length: 32768, family: 'qwen3', stand_in: true, alias_of: 'Qwen/Qwen3-8B',
  });
  // A model registered under a retired name is that model, not an alias.
  const local = new ModelRegistry({ models: { 'Qwen/Qwen3-32B': localModelDir(false) } });
  assert.equal(local.list().find((m) => m.model_name === 'Qwen/Qwen3-32B')!.alias_of, undefined);
  assert.equal(local.isStandIn('Qwen/Qwen3-32B'), false);
});
