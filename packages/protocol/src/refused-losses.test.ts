import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLossFnType } from './datum-checks.js';
import { ValidationError } from './errors.js';
import { forwardBackwardRequestSchema } from './request-schemas.js';
import { parse } from './schema.js';

const body = (loss_fn: string) => ({
  model_id: 'm', seq_id: 0,
  forward_backward_input: { data: [], loss_fn },
});

test('stable_reinforce is refused by name, saying why, by the schema and by the loss check', () => {
  for (const run of [() => parse(forwardBackwardRequestSchema, body('stable_reinforce')), () => checkLossFnType('stable_reinforce')]) {
    assert.throws(run, (e: unknown) => e instanceof ValidationError && /stable_reinforce/.test(e.message) && /unpublished/.test(e.message) && /loss_fn/.test(e.message));
  }
});

test('other unknown losses still list the known ones; known ones pass', () => {
  assert.throws(() => parse(forwardBackwardRequestSchema, body('gspo')), /expected one of "cross_entropy"/);
  assert.throws(() => checkLossFnType('__proto__'), /expected one of/);
  assert.equal(parse(forwardBackwardRequestSchema, body('ppo')).forward_backward_input.loss_fn, 'ppo');
});
