import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Datum } from '@tinker-ts/protocol';
import { Engine } from './engine.js';
import { EngineUserError } from './errors.js';
import { Tokenizer } from './tokenizer.js';

const MODEL = 'tinker-ts/tiny-qwen3';
const engine = new Engine({ log: () => {} });
const tok = Tokenizer.fromFiles(engine.tokenizerFiles(MODEL));
const prompt = tok.encode('Q: What is the secret word?\nA:');
const answer = [...tok.encode(' banana split'), tok.tokenId('<|im_end|>')!];
const lora = { rank: 8, seed: 1, train_attn: true, train_mlp: true, train_unembed: true };

function datum(): Datum {
  const seq = [...prompt, ...answer];
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: seq.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: seq.slice(1), dtype: 'int64', shape: [seq.length - 1] },
      weights: { data: seq.slice(1).map((_, i) => (i + 1 >= prompt.length ? 1 : 0)), dtype: 'float32', shape: [seq.length - 1] },
    },
  };
}

function trainStep(id: string): number {
  const loss = engine.forwardBackward(id, [datum()], 'cross_entropy', null, false).metrics['loss:sum']!;
  engine.optimStep(id, { type: 'dimuon', learning_rate: 0.02 });
  return loss;
}

test('a Dimuon adapter on a stand-in: the loss falls, and a save → load with the optimizer continues identically', () => {
  engine.createAdapter('d', MODEL, lora, 'dimuon');
  assert.equal(engine.adapterInfo('d').optimizer, 'dimuon');
  const losses: number[] = [];
  for (let step = 0; step < 12; step++) losses.push(trainStep('d'));
  assert.ok(losses.at(-1)! < losses[0]! * 0.7, `loss ${losses[0]} -> ${losses.at(-1)}`);

  const dir = join(mkdtempSync(join(tmpdir(), 'engine-dimuon-')), 'state');
  engine.saveState('d', dir, true);
  engine.createAdapter('resumed', MODEL, { ...lora, seed: 7 }, 'dimuon');
  engine.loadState('resumed', dir, true);
  assert.equal(engine.adapterInfo('resumed').step, 12);
  const original: number[] = [];
  const resumed: number[] = [];
  for (let step = 0; step < 8; step++) {
    original.push(trainStep('d'));
    resumed.push(trainStep('resumed'));
  }
  assert.deepEqual(resumed, original);
  assert.ok(original.at(-1)! < losses[0]! * 0.2, `loss ${losses[0]} -> ${original.at(-1)}`);

  // Weights only: the momentum restarts, so the trajectory differs.
  engine.createAdapter('fresh-momentum', MODEL, lora, 'dimuon');
  engine.loadState('fresh-momentum', dir, false);
  trainStep('fresh-momentum');
  assert.notEqual(trainStep('fresh-momentum'), original[1]);
  for (const id of ['d', 'resumed', 'fresh-momentum']) engine.dropAdapter(id);
});

test('an adapter refuses the other family: parameters and optimizer state alike', () => {
  engine.createAdapter('adam', MODEL, lora);
  engine.createAdapter('dimuon', MODEL, lora, 'dimuon');
  assert.equal(engine.adapterInfo('adam').optimizer, 'adamw');
  assert.throws(() => engine.optimStep('adam', { type: 'dimuon', learning_rate: 0.01 }),
    (e: Error) => e instanceof EngineUserError && /created with the AdamW optimizer; it cannot take a step with Dimuon parameters/.test(e.message));
  assert.throws(() => engine.optimStep('dimuon', { learning_rate: 1e-3 }),
    (e: Error) => e instanceof EngineUserError && /created with the Dimuon optimizer/.test(e.message));
  assert.throws(() => engine.optimStep('dimuon', { type: 'dimuon' }), /learning_rate/);
  const dir = join(mkdtempSync(join(tmpdir(), 'engine-dimuon-')), 'state');
  engine.saveState('dimuon', dir, true);
  assert.throws(() => engine.loadState('adam', dir, true), (e: Error) => e instanceof EngineUserError && /Dimuon optimizer state/.test(e.message));
  engine.loadState('adam', dir, false);
  assert.throws(() => engine.createAdapter('x', MODEL, lora, 'sgd' as never), /unknown optimizer "sgd"/);
  engine.dropAdapter('adam');
  engine.dropAdapter('dimuon');
});
