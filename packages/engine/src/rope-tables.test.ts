import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildRopeTables, ropeInverseFrequencies, ropeTablesFor } from './rope-tables.js';
import { smallModelConfig } from './init.js';
import { EngineUserError } from './errors.js';

describe('rotary tables', () => {
  it('inverse frequencies are theta^(−2i/d)', () => {
    const inv = ropeInverseFrequencies(8, 10000, null);
    assert.deepEqual([...inv].map((x) => x.toPrecision(6)), [1, 0.1, 0.01, 0.001].map((x) => Math.fround(x).toPrecision(6)));
  });

  it('Llama 3 scaling keeps high frequencies, divides low ones by factor, blends in between', () => {
    // Llama 3.1 values: factor 8, low 1, high 4, original context 8192; head dim 128, theta 500000.
    const scaling = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
    const base = ropeInverseFrequencies(128, 500000, null);
    const scaled = ropeInverseFrequencies(128, 500000, scaling);
    assert.equal(scaled[0], base[0]); // wavelength 2π < 2048: unchanged
    assert.ok(Math.abs(scaled[63] - base[63] / 8) <= 1e-6 * base[63]); // wavelength > 8192: divided by 8
    let blended = 0;
    for (let i = 0; i < 64; i++) {
      const wavelen = (2 * Math.PI) / base[i];
      if (wavelen >= 2048 && wavelen <= 8192) {
        blended++;
        const smooth = (8192 / wavelen - 1) / 3;
        assert.ok(Math.abs(scaled[i] - ((1 - smooth) * base[i] / 8 + smooth * base[i])) <= 1e-6 * base[i]);
        assert.ok(scaled[i] < base[i] && scaled[i] > base[i] / 8);
      }
    }
    assert.ok(blended > 0);
  });

  it('tables hold cos/sin of position × frequency', () => {
    const cfg = smallModelConfig({ headDim: 8 });
    const t = buildRopeTables(cfg, 10);
    assert.ok(Math.abs(t.cos[7 * 4 + 1] - Math.cos(7 * 0.1)) < 1e-6);
    assert.ok(Math.abs(t.sin[7 * 4 + 1] - Math.sin(7 * 0.1)) < 1e-6);
    assert.equal(t.cos[0], 1);
  });

  it('grow on demand up to the model limit and refuse beyond it', () => {
    const cfg = smallModelConfig({ maxPositionEmbeddings: 600 });
    assert.ok(ropeTablesFor(cfg, 10).length >= 10);
    assert.equal(ropeTablesFor(cfg, 600).length, 600);
    assert.throws(() => ropeTablesFor(cfg, 601), EngineUserError);
  });
});
