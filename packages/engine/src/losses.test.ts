import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenLoss, LOSS_NAMES, resolveLossConfig, type LossInputs, type LossName } from './losses.js';
import { EngineUserError } from './errors.js';

const t = Float32Array.from([-0.5, -1.2, -0.05, -2.0, -0.7]);
const s = Float32Array.from([-0.6, -0.2, -0.9, -2.1, -0.7]);
const A = Float32Array.from([1.5, -2.0, 0.8, 0.0, -1.0]);
const w = Float32Array.from([1, 0.5, 0, 2, 1]);
const inputs: LossInputs = { weights: w, samplerLogprobs: s, advantages: A };
const configs: Record<LossName, Record<string, number> | null> = {
  cross_entropy: null, importance_sampling: null, ppo: null, cispo: null, dro: { beta: 0.3 },
};

function evaluate(name: LossName, tv: Float32Array, config = configs[name]): { loss: Float32Array; dt: Float32Array; metrics: Record<string, number> } {
  const loss = createTokenLoss(name, inputs, resolveLossConfig(name, config));
  const out = new Float32Array(tv.length);
  const dt = new Float32Array(tv.length);
  loss.evaluate(0, tv, out, dt);
  return { loss: out, dt, metrics: loss.metrics() };
}

function close(actual: number, expected: number, tol = 1e-6, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected}`);
}

describe('loss functions', () => {
  it('cross_entropy is −w·t summed', () => {
    const { loss, dt, metrics } = evaluate('cross_entropy', t);
    const want = [0.5, 0.6, 0, 4.0, 0.7];
    want.forEach((v, i) => close(loss[i], v, 1e-6, `loss[${i}]`));
    [-1, -0.5, 0, -2, -1].forEach((v, i) => close(dt[i], v));
    close(metrics['loss:sum'], 5.8, 1e-5);
  });

  it('importance_sampling is −exp(t−s)·A', () => {
    const { loss } = evaluate('importance_sampling', t);
    close(loss[0], -Math.exp(0.1) * 1.5, 1e-6);
    close(loss[1], Math.exp(-1.0) * 2.0, 1e-6);
  });

  it('ppo takes the pessimistic branch: the clipped ratio where it is lower, with zero gradient', () => {
    const { loss, dt, metrics } = evaluate('ppo', t);
    // token 0: r = e^0.1 = 1.105 inside [0.8, 1.2] → −r·A, gradient −r·A.
    close(loss[0], -Math.exp(0.1) * 1.5, 1e-6);
    close(dt[0], -Math.exp(0.1) * 1.5, 1e-6);
    // token 1: r = e^-1 = 0.368 < 0.8 with A < 0: min(rA, 0.8A) = 0.8A = −1.6 → loss 1.6, no gradient.
    close(loss[1], 1.6, 1e-6);
    assert.equal(dt[1], 0);
    // token 2: r = e^0.85 = 2.34 > 1.2 with A > 0: min picks 1.2·A → loss −0.96, no gradient.
    close(loss[2], -0.96, 1e-6);
    assert.equal(dt[2], 0);
    // token 4: r = 1 with A = −1 → loss 1, gradient 1.
    close(loss[4], 1, 1e-6);
    close(dt[4], 1, 1e-6);
    // Tokens with A ≠ 0: 0, 1, 2, 4; clipped: 1, 2.
    close(metrics['clip_fraction:mean'], 0.5);
  });

  it('ppo honours clip thresholds from the config', () => {
    const { loss, dt } = evaluate('ppo', t, { clip_low_threshold: 0.3, clip_high_threshold: 3 });
    close(loss[1], Math.exp(-1) * 2, 1e-6);
    close(dt[2], -Math.exp(0.85) * 0.8, 1e-5);
  });

  it('cispo is −stopgrad(clamp(r, 0, 4))·t·A', () => {
    const { loss, dt } = evaluate('cispo', t, { clip_low_threshold: 0, clip_high_threshold: 2 });
    close(loss[2], -2 * -0.05 * 0.8, 1e-6); // r = 2.34 clamped to 2
    close(dt[2], -2 * 0.8, 1e-6);
    close(loss[0], -Math.exp(0.1) * -0.5 * 1.5, 1e-6);
    const defaults = resolveLossConfig('cispo', null);
    assert.deepEqual(defaults, { clip_low_threshold: 0, clip_high_threshold: 4 });
  });

  it('dro is −(t·A − ½·beta·(t−s)²)', () => {
    const { loss, dt } = evaluate('dro', t);
    close(loss[1], -(-1.2 * -2.0 - 0.5 * 0.3 * 1.0), 1e-6);
    close(dt[1], -(-2.0 - 0.3 * -1.0), 1e-6);
  });

  // cispo is left out on purpose: its stop-gradient makes dL/dt differ from the loss's derivative.
  for (const name of LOSS_NAMES.filter((n) => n !== 'cispo')) {
    it(`${name}: dL/dt matches central finite differences`, () => {
      // Ratios away from the clip boundaries, where the loss is differentiable.
      const { dt } = evaluate(name, t);
      const eps = 1e-3;
      for (let i = 0; i < t.length; i++) {
        const plus = Float64Array.from(t); plus[i] += eps;
        const minus = Float64Array.from(t); minus[i] -= eps;
        const f = (x: Float64Array): number => {
          const loss = createTokenLoss(name, inputs, resolveLossConfig(name, configs[name]));
          const out = new Float32Array(x.length);
          loss.evaluate(0, Float32Array.from(x), out, null);
          return loss.metrics()['loss:sum'];
        };
        close((f(plus) - f(minus)) / (2 * eps), dt[i], 2e-3, `${name} dt[${i}]`);
      }
    });
  }

  it('evaluates in chunks with the same result as all at once', () => {
    const loss = createTokenLoss('dro', inputs, resolveLossConfig('dro', { beta: 0.3 }));
    const out = new Float32Array(5);
    loss.evaluate(0, t.subarray(0, 2), out.subarray(0, 2), null);
    loss.evaluate(2, t.subarray(2), out.subarray(2), null);
    const whole = evaluate('dro', t);
    assert.deepEqual([...out], [...whole.loss]);
    close(loss.metrics()['loss:sum'], whole.metrics['loss:sum'], 1e-9);
  });

  it('metric names carry exactly one colon', () => {
    for (const name of LOSS_NAMES) for (const key of Object.keys(evaluate(name, t).metrics)) assert.equal(key.split(':').length, 2, key);
  });

  it('rejects missing inputs, a missing beta and unknown config keys with user errors', () => {
    assert.throws(() => createTokenLoss('ppo', { weights: w }, resolveLossConfig('ppo', null)), (e: unknown) => e instanceof EngineUserError && /advantages|logprobs/.test(String(e)));
    assert.throws(() => resolveLossConfig('dro', null), (e: unknown) => e instanceof EngineUserError && /beta/.test(String(e)));
    assert.throws(() => resolveLossConfig('ppo', { clip_ratio: 0.2 }), (e: unknown) => e instanceof EngineUserError && /clip_ratio/.test(String(e)));
    assert.throws(() => resolveLossConfig('cross_entropy', { beta: 1 }), EngineUserError);
    assert.throws(() => resolveLossConfig('ppo', { clip_low_threshold: 1.5, clip_high_threshold: 1.2 }), EngineUserError);
  });
});
