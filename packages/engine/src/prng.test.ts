import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';

describe('seeded PRNG', () => {
  it('is deterministic per seed and stream, and differs across them', () => {
    const draw = (seed: number, stream = ''): number[] => { const r = new Prng(seed, stream); return [r.nextUint32(), r.nextUint32(), r.nextUint32()]; };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    assert.notDeepEqual(draw(42), draw(42, 'layers.0.q'));
    assert.notDeepEqual(draw(1), draw(1 + 2 ** 32), 'the high bits of the seed matter');
  });

  it('produces pinned values, so weights are identical on every machine', () => {
    const r = new Prng(1234);
    assert.deepEqual([r.nextUint32(), r.nextUint32()], PINNED_UINT32);
  });

  it('uniform is in [0, 1) with mean 1/2; normal has mean 0 and variance 1', () => {
    const r = new Prng(7);
    let sum = 0;
    for (let i = 0; i < 20000; i++) { const u = r.uniform(); assert.ok(u >= 0 && u < 1); sum += u; }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    const x = r.fillNormal(new Float32Array(20000), 0, 1);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.04, `variance ${variance}`);
  });
});

const PINNED_UINT32 = [2216695488, 2366930665];
