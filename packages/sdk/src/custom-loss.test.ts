import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Var, differentiable, dpoLoss, evaluateCustomLoss, klPenalty, sequenceLogprob, track } from './custom-loss.js';
import { Datum } from './datum.js';
import { ValidationError } from './errors.js';

/** Central finite differences of f at x, per coordinate. */
function numericGrad(f: (x: number[]) => number, x: number[], h = 1e-5): number[] {
  return x.map((_, i) => {
    const up = [...x];
    const down = [...x];
    up[i]! += h;
    down[i]! -= h;
    return (f(up) - f(down)) / (2 * h);
  });
}

function checkAgainstFiniteDifferences(f: (xs: Var[]) => Var, x: number[]): void {
  const vars = x.map((v) => new Var(v));
  const out = f(vars);
  out.backward();
  const analytic = vars.map((v) => v.grad);
  const numeric = numericGrad((xs) => f(xs.map((v) => new Var(v))).value, x);
  analytic.forEach((g, i) => assert.ok(Math.abs(g - numeric[i]!) < 1e-6 * Math.max(1, Math.abs(g)), `d/dx${i}: ${g} vs ${numeric[i]}`));
}

test('every Var op differentiates like finite differences', () => {
  const x = [0.3, -1.2, 2.5];
  checkAgainstFiniteDifferences(([a, b, c]) => a!.mul(b!).add(c!.div(a!)).sub(b!.square()), x);
  checkAgainstFiniteDifferences(([a, b, c]) => a!.exp().mul(c!.log()).add(b!.neg().pow(3)), x);
  checkAgainstFiniteDifferences(([a, b, c]) => a!.logSigmoid().add(b!.sigmoid()).add(c!.softplus()), x);
  checkAgainstFiniteDifferences((xs) => Var.mean(xs).mul(Var.sum(xs)).add(Var.dot(xs, [1, -2, 0.5])), x);
});

test('detach stops the gradient through that use only', () => {
  const a = new Var(1.5);
  const b = new Var(2);
  a.mul(a).mul(b.detach()).add(b).backward();
  assert.equal(a.grad, 2 * 1.5 * 2);
  assert.equal(b.grad, 1);
});

test('logSigmoid is stable far from zero', () => {
  assert.ok(Math.abs(new Var(-800).logSigmoid().value + 800) < 1e-9);
  assert.equal(new Var(800).logSigmoid().value, -0);
  const v = new Var(-800);
  v.logSigmoid().backward();
  assert.equal(v.grad, 1);
});

test('dpoLoss gradient matches finite differences in the policy logprobs', () => {
  const ref = { chosen: -4.0, rejected: -3.0 };
  const f = (xs: Var[]) => {
    const chosen = sequenceLogprob(xs.slice(0, 2));
    const rejected = sequenceLogprob(xs.slice(2, 4), [1, 0.5]);
    return dpoLoss([{ chosen, rejected, refChosen: ref.chosen, refRejected: ref.rejected }], 0.1).loss;
  };
  checkAgainstFiniteDifferences(f, [-1.5, -2.0, -0.7, -2.2]);
  const { metrics } = dpoLoss([{ chosen: new Var(-1), rejected: new Var(-5), refChosen: -2, refRejected: -2 }], 0.5);
  assert.equal(metrics['dpo_accuracy:mean'], 1);
  assert.equal(metrics['dpo_margin:mean'], 0.5 * (1 + 3));
});

test('klPenalty gradient matches finite differences and is zero at the reference', () => {
  checkAgainstFiniteDifferences((xs) => klPenalty(xs, [-1, -2, -0.5]), [-1.3, -1.7, -0.2]);
  assert.equal(klPenalty([new Var(-1), new Var(-2)], [-1, -2]).value, 0);
});

test('evaluateCustomLoss differentiates a Var loss over tracked logprobs', () => {
  const data = [Datum.fromTokens([1, 2, 3]), Datum.fromTokens([4, 5, 6, 7])];
  const logprobs = [new Float32Array([-0.5, -1]), new Float32Array([-2, -0.25, -3])];
  const fn = differentiable((_, lps) => {
    const total = Var.sum(lps.map((lp) => Var.sum(lp)));
    return { loss: total.mul(total).div(2).neg(), metrics: { 'custom:mean': 1 } };
  });
  const out = evaluateCustomLoss(fn, data, logprobs);
  const s = -0.5 - 1 - 2 - 0.25 - 3;
  assert.equal(out.loss, -(s * s) / 2);
  assert.deepEqual(out.metrics, { 'custom:mean': 1 });
  for (const g of out.grads) for (const v of g) assert.ok(Math.abs(v - -s) < 1e-6);
  assert.deepEqual(out.grads.map((g) => g.length), [2, 3]);
});

test('a logprobs array the loss does not read gets zero gradient', () => {
  const logprobs = [new Float32Array([-1, -2]), new Float32Array([-3])];
  const out = evaluateCustomLoss((_, lps) => ({ loss: Var.sum(track(lps[0]!)) }), [], logprobs);
  assert.deepEqual(Array.from(out.grads[0]!), [1, 1]);
  assert.deepEqual(Array.from(out.grads[1]!), [0]);
});

test('given gradients are used as they are, and checked against the logprobs', () => {
  const logprobs = [new Float32Array([-1, -2])];
  const out = evaluateCustomLoss(() => ({ loss: 1.5, grads: [[0.25, -0.5]] }), [], logprobs);
  assert.equal(out.loss, 1.5);
  assert.deepEqual(Array.from(out.grads[0]!), [0.25, -0.5]);
  assert.throws(() => evaluateCustomLoss(() => ({ loss: 1, grads: [[1]] }), [], logprobs), (e: unknown) => e instanceof ValidationError && e.field === 'grads[0]');
  assert.throws(() => evaluateCustomLoss(() => ({ loss: 1 }), [], logprobs), /return `grads`, or compute `loss` as a Var/);
});
