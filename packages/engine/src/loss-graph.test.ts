import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateLossProgram, type LossProgram, type LossStep } from './loss-graph.js';
import { EngineUserError } from './errors.js';

/** Steps 0..2: inputs logprobs (rank 1), ref (rank 0), index (rank 1); 3, 4: datum 0's and 1's logprobs. */
const HEAD: LossStep[] = [
  { op: 'input', name: 'logprobs', rank: 1 },
  { op: 'input', name: 'ref', rank: 0 },
  { op: 'input', name: 'index', rank: 1 },
  { op: 'item', x: 0, index: 0 },
  { op: 'item', x: 0, index: 1 },
];
const LP0 = 3;
const LP1 = 4;

const inputsOf = (lp: number[][]) => ({ logprobs: lp, ref: [[0.25], [-0.5]], index: [[2, 0, 0], [1, 1, 0]] });

/** The program's steps after HEAD, with the loss the last step. */
function program(...steps: LossStep[]): LossProgram {
  return { steps: [...HEAD, ...steps], loss: HEAD.length + steps.length - 1, metrics: {} };
}

/** Central differences of the loss in every logprob, against the reverse-mode gradient. */
function checkGradient(p: LossProgram, lp: number[][], h = 1e-6): void {
  const { dlogprobs } = evaluateLossProgram(p, inputsOf(lp), true);
  let norm = 0;
  lp.forEach((row, d) =>
    row.forEach((_, k) => {
      const at = (delta: number) => evaluateLossProgram(p, inputsOf(lp.map((r, i) => r.map((x, j) => (i === d && j === k ? x + delta : x)))), false).loss;
      const numeric = (at(h) - at(-h)) / (2 * h);
      const analytic = dlogprobs![d]![k]!;
      norm += analytic * analytic;
      assert.ok(Math.abs(analytic - numeric) < 1e-5 * Math.max(1, Math.abs(numeric)), `d/dlogprobs[${d}][${k}]: ${analytic} vs ${numeric}`);
    }),
  );
  assert.ok(norm > 1e-6, 'the gradient under test is not ~0');
}

const LP = [[-0.3, -1.2, -2.5], [-0.7, -0.1]];
const n = HEAD.length;

test('every op differentiates like finite differences', () => {
  const unaries = ['neg', 'exp', 'log', 'sigmoid', 'logsigmoid', 'softplus', 'square'] as const;
  for (const fn of unaries) {
    // log needs positive values: exp first.
    checkGradient(program({ op: 'unary', fn: 'exp', x: LP0 }, { op: 'unary', fn, x: n }, { op: 'sum', x: n + 1 }), LP);
  }
  for (const fn of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const) {
    // A rank-1 and a broadcast rank-0 operand, both from logprobs.
    checkGradient(program({ op: 'item', x: LP1, index: 0 }, { op: 'binary', fn, a: LP0, b: n }, { op: 'sum', x: n + 1 }), LP);
  }
  checkGradient(program({ op: 'unary', fn: 'neg', x: LP0 }, { op: 'const', value: 1.5 }, { op: 'binary', fn: 'pow', a: n, b: n + 1 }, { op: 'mean', x: n + 2 }), LP);
  // pow in its exponent: 2 ** sum(lp1).
  checkGradient(program({ op: 'const', value: 2 }, { op: 'sum', x: LP1 }, { op: 'binary', fn: 'pow', a: n, b: n + 1 }), LP);
  checkGradient(program({ op: 'clamp', x: LP0, min: -2, max: -0.5 }, { op: 'sum', x: n }), LP);
  checkGradient(program({ op: 'const', value: -1 }, { op: 'binary', fn: 'gt', a: LP0, b: n }, { op: 'unary', fn: 'square', x: LP0 }, { op: 'where', cond: n + 1, a: LP0, b: n + 2 }, { op: 'sum', x: n + 3 }), LP);
  checkGradient(program({ op: 'item', x: 2, index: 0 }, { op: 'gather', x: LP0, index: n }, { op: 'unary', fn: 'exp', x: n + 1 }, { op: 'sum', x: n + 2 }), LP);
  checkGradient(program({ op: 'slice', x: LP0, start: 1, stop: null, step: null }, { op: 'item', x: LP0, index: -1 }, { op: 'binary', fn: 'mul', a: n, b: n + 1 }, { op: 'sum', x: n + 2 }), LP);
  // cat of both datums, stack of per-datum sums, dot of a datum with itself.
  checkGradient(program({ op: 'list', items: [LP0, LP1] }, { op: 'cat', xs: n }, { op: 'unary', fn: 'square', x: n + 1 }, { op: 'mean', x: n + 2 }), LP);
  checkGradient(program({ op: 'cat', xs: 0 }, { op: 'unary', fn: 'exp', x: n }, { op: 'sum', x: n + 1 }), LP);
  checkGradient(program({ op: 'sum', x: LP0 }, { op: 'sum', x: LP1 }, { op: 'list', items: [n, n + 1] }, { op: 'stack', xs: n + 2 }, { op: 'unary', fn: 'logsigmoid', x: n + 3 }, { op: 'sum', x: n + 4 }), LP);
  checkGradient(program({ op: 'dot', a: LP0, b: LP0 }), LP);
  // A rank-1 loss is summed.
  const perToken = evaluateLossProgram(program({ op: 'unary', fn: 'square', x: LP0 }), inputsOf(LP), true);
  assert.ok(Math.abs(perToken.loss - (0.09 + 1.44 + 6.25)) < 1e-12);
  checkGradient(program({ op: 'unary', fn: 'square', x: LP0 }), LP);
});

test('detach and comparisons pass no gradient; rank-0 inputs broadcast; metrics come out by name', () => {
  const p: LossProgram = {
    steps: [...HEAD, { op: 'item', x: 1, index: 0 }, { op: 'unary', fn: 'detach', x: LP0 }, { op: 'binary', fn: 'mul', a: LP0, b: n + 1 }, { op: 'binary', fn: 'add', a: n + 2, b: n }, { op: 'sum', x: n + 3 }, { op: 'mean', x: LP1 }],
    loss: n + 4,
    metrics: { 'lp1:mean': n + 5 },
  };
  const out = evaluateLossProgram(p, inputsOf(LP), true);
  assert.deepEqual(Array.from(out.dlogprobs![0]!), LP[0]!.map((x) => Math.fround(x)), 'd(x·stopgrad(x))/dx = x');
  assert.deepEqual(Array.from(out.dlogprobs![1]!), [0, 0], 'a metric gets no gradient');
  assert.ok(Math.abs(out.metrics['lp1:mean']! - -0.4) < 1e-12);
  assert.ok(Math.abs(out.loss - (0.09 + 1.44 + 6.25 + 3 * 0.25)) < 1e-12);
  assert.equal(out.metrics['loss:sum'], out.loss);
});

test('a program that does not fit the batch is the caller\'s error', () => {
  const rejects = (p: LossProgram, message: RegExp) =>
    assert.throws(() => evaluateLossProgram(p, inputsOf(LP), true), (e: unknown) => e instanceof EngineUserError && e.category === 'user' && message.test(e.message));
  rejects(program({ op: 'item', x: 0, index: 5 }, { op: 'sum', x: n }), /index 5 is outside the 2 datums/);
  rejects(program({ op: 'binary', fn: 'add', a: LP0, b: LP1 }), /3 and 2 values/);
  rejects(program({ op: 'item', x: 2, index: 0 }, { op: 'gather', x: LP1, index: n }, { op: 'sum', x: n + 1 }), /gather index/);
  rejects(program({ op: 'unary', fn: 'log', x: LP0 }, { op: 'sum', x: n }), /evaluated to NaN/);
  rejects(program({ op: 'stack', xs: 0 }), /stack takes scalars/);
  rejects(program({ op: 'unary', fn: 'exp', x: 0 }), /needs a tensor, got a list/);
  rejects({ ...program({ op: 'sum', x: LP0 }), metrics: { m: LP0 } }, /metric m must be a scalar/);
});

test('a loss that does not reach every datum of the batch is refused: those datums would get no gradient', () => {
  const p = program({ op: 'sum', x: LP0 }, { op: 'sum', x: LP1 }, { op: 'binary', fn: 'add', a: HEAD.length, b: HEAD.length + 1 });
  assert.equal(evaluateLossProgram(p, inputsOf(LP), true).dlogprobs!.length, 2, 'both datums read: fine');
  const three = { ...inputsOf([...LP, [-0.2]]), ref: [[0.25], [-0.5], [0]], index: [[2, 0, 0], [1, 1, 0], [0]] };
  assert.throws(
    () => evaluateLossProgram(p, three, true),
    (e: unknown) => e instanceof EngineUserError && /the batch has 3 datums but the loss reads the logprobs of 2 of them \(not datum 2\)/.test(e.message),
  );
  // Concatenating the whole list reaches every datum.
  const whole: LossProgram = { steps: [...HEAD, { op: 'cat', xs: 0 }, { op: 'sum', x: HEAD.length }], loss: HEAD.length + 1, metrics: {} };
  assert.ok(Math.abs(evaluateLossProgram(whole, three, false).loss - -5) < 1e-12);
});
