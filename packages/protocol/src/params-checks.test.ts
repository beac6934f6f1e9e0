import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAdamParams, checkSamplingParams } from './params-checks.js';
import { ValidationError } from './errors.js';
import type { SamplingParams } from './types.js';

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.field;
  }
  return 'no error';
}

test('Adam defaults are the SDK defaults', () => {
  assert.deepEqual(checkAdamParams({}), { learning_rate: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-12, weight_decay: 0, grad_clip_norm: 0 });
  assert.equal(checkAdamParams({ learning_rate: 3e-4, weight_decay: 0.01 }).weight_decay, 0.01);
});

test('Adam ranges are enforced with the field named', () => {
  assert.equal(failure(() => checkAdamParams({ learning_rate: -1 })), 'adam_params.learning_rate');
  assert.equal(failure(() => checkAdamParams({ beta1: 1 })), 'adam_params.beta1');
  assert.equal(failure(() => checkAdamParams({ beta2: -0.1 })), 'adam_params.beta2');
  assert.equal(failure(() => checkAdamParams({ eps: -1e-8 })), 'adam_params.eps');
  assert.equal(failure(() => checkAdamParams({ grad_clip_norm: Number.POSITIVE_INFINITY })), 'adam_params.grad_clip_norm');
});

test('sampling defaults and normalised stop list', () => {
  assert.deepEqual(checkSamplingParams({ max_tokens: 5 }), { max_tokens: 5, seed: null, stop: [], temperature: 1, top_k: -1, top_p: 1 });
  assert.deepEqual(checkSamplingParams({ stop: '\n' }).stop, ['\n']);
  assert.deepEqual(checkSamplingParams({ stop: [1, 2] }).stop, [1, 2]);
  assert.equal(checkSamplingParams({ temperature: 0 }).temperature, 0);
});

test('sampling ranges are enforced with the field named', () => {
  const cases: Array<[SamplingParams, string]> = [
    [{ max_tokens: 0 }, 'sampling_params.max_tokens'],
    [{ temperature: -0.1 }, 'sampling_params.temperature'],
    [{ top_p: 0 }, 'sampling_params.top_p'],
    [{ top_p: 1.01 }, 'sampling_params.top_p'],
    [{ top_k: 0 }, 'sampling_params.top_k'],
    [{ top_k: -2 }, 'sampling_params.top_k'],
    [{ seed: -1 }, 'sampling_params.seed'],
    [{ stop: '' }, 'sampling_params.stop'],
    [{ stop: ['a', ''] }, 'sampling_params.stop[1]'],
    [{ stop: [1, -2] }, 'sampling_params.stop[1]'],
  ];
  for (const [params, field] of cases) assert.equal(failure(() => checkSamplingParams(params)), field, JSON.stringify(params));
  assert.equal(failure(() => checkSamplingParams({ max_tokens: 100 }, 'sampling_params', { maxTokensLimit: 10 })), 'sampling_params.max_tokens');
});
