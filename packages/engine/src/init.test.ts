import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdapterState, randomModelWeights, smallModelConfig } from './init.js';
import { EngineUserError } from './errors.js';

describe('initialisation', () => {
  const cfg = smallModelConfig({ family: 'qwen3', numKvHeads: 2 });

  it('random base weights are deterministic, N(0, 0.02²), with unit norms and the right shapes', () => {
    const a = randomModelWeights(cfg, 3);
    const b = randomModelWeights(cfg, 3);
    assert.deepEqual(a.layers[1].q, b.layers[1].q);
    assert.notDeepEqual(a.layers[1].q, randomModelWeights(cfg, 4).layers[1].q);
    assert.equal(a.embed.length, cfg.vocabSize * cfg.hiddenSize);
    assert.equal(a.layers[0].k.length, cfg.numKvHeads * cfg.headDim * cfg.hiddenSize);
    assert.equal(a.layers[0].down.length, cfg.hiddenSize * cfg.intermediateSize);
    assert.ok(a.layers[0].qNorm!.every((x) => x === 1) && a.finalNorm.every((x) => x === 1));
    const std = Math.sqrt(a.embed.reduce((s, x) => s + x * x, 0) / a.embed.length);
    assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
    assert.equal(randomModelWeights({ ...cfg, tieWordEmbeddings: true }, 3).lmHead, null);
    assert.equal(randomModelWeights({ ...cfg, family: 'llama' }, 3).layers[0].qNorm, null);
  });

  it('a new adapter has PEFT init: A ~ U(±1/√in), B = 0, zero grads and moments, keyed per module', () => {
    const s = { rank: 4, alpha: 8, seed: 9, trainAttn: true, trainMlp: true, trainUnembed: true };
    const adapter = createAdapterState(cfg, s);
    assert.equal(adapter.params.size, cfg.numLayers * 7 + 1);
    const down = adapter.params.get('layers.1.down')!;
    assert.equal(down.A.length, 4 * cfg.intermediateSize);
    assert.equal(down.B.length, cfg.hiddenSize * 4);
    const bound = 1 / Math.sqrt(cfg.intermediateSize);
    assert.ok(down.A.every((x) => Math.abs(x) <= bound));
    assert.ok(Math.max(...down.A.map(Math.abs)) > 0.8 * bound, 'A fills its range');
    assert.ok(down.B.every((x) => x === 0));
    assert.ok(adapter.params.get('lm_head')!.B.length === cfg.vocabSize * 4);
    for (const m of [adapter.grads, adapter.adamM, adapter.adamV]) for (const p of m.values()) assert.ok(p.A.every((x) => x === 0));
    assert.equal(adapter.step, 0);
    assert.deepEqual(createAdapterState(cfg, s).params.get('layers.0.q')!.A, adapter.params.get('layers.0.q')!.A);
    // Each module has its own stream: dropping the MLP modules leaves attention's A unchanged.
    assert.deepEqual(createAdapterState(cfg, { ...s, trainMlp: false }).params.get('layers.1.v')!.A, adapter.params.get('layers.1.v')!.A);
    assert.ok(!createAdapterState(cfg, { ...s, trainMlp: false, trainUnembed: false }).params.has('lm_head'));
  });

  it('rejects invalid LoRA settings', () => {
    const s = { rank: 0, alpha: 8, seed: 9, trainAttn: true, trainMlp: true, trainUnembed: false };
    assert.throws(() => createAdapterState(cfg, s), EngineUserError);
    assert.throws(() => createAdapterState(cfg, { ...s, rank: 4, trainAttn: false, trainMlp: false }), EngineUserError);
  });
});
