import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDatum, checkForwardBackwardInput, checkLossFnConfig } from './datum-checks.js';
import { ValidationError } from './errors.js';
import type { Datum, LossFnType, TensorData } from './types.js';

const ints = (data: number[], shape?: number[]): TensorData => ({ data, dtype: 'int64', ...(shape ? { shape } : {}) });
const floats = (data: number[], shape?: number[]): TensorData => ({ data, dtype: 'float32', ...(shape ? { shape } : {}) });

function datum(inputs: Record<string, TensorData>, tokens = [1, 2, 3]): Datum {
  return { model_input: { chunks: [{ type: 'encoded_text', tokens }] }, loss_fn_inputs: inputs };
}

const rl = () => ({ target_tokens: ints([2, 3, 4]), logprobs: floats([-1, -1, -1]), advantages: floats([1, 0, -1]) });

function rejects(d: Datum, loss: LossFnType, field: string, message: RegExp, opts = {}): void {
  assert.throws(
    () => checkDatum(d, loss, 'data[0]', opts),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError, String(err));
      assert.equal(err.field, field);
      assert.match(err.message, message);
      return true;
    },
  );
}

test('valid cross_entropy and RL data pass', () => {
  checkDatum(datum({ target_tokens: ints([2, 3, 4]), weights: floats([0, 1, 1]) }), 'cross_entropy');
  checkDatum(datum({ target_tokens: ints([2, 3, 4]) }), 'cross_entropy');
  for (const loss of ['importance_sampling', 'ppo', 'cispo', 'dro'] as const) checkDatum(datum(rl()), loss);
});

test('each loss requires its inputs', () => {
  rejects(datum({ weights: floats([1, 1, 1]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens', /requires/);
  const noAdv = rl() as Record<string, TensorData>;
  delete noAdv.advantages;
  rejects(datum(noAdv), 'ppo', 'data[0].loss_fn_inputs.advantages', /loss ppo requires loss_fn_inputs.advantages/);
  const noLp = rl() as Record<string, TensorData>;
  delete noLp.logprobs;
  rejects(datum(noLp), 'importance_sampling', 'data[0].loss_fn_inputs.logprobs', /requires/);
});

test('lengths must equal the model_input length (no second shift)', () => {
  rejects(datum({ target_tokens: ints([2, 3, 4, 5]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens', /length 4 does not match model_input length 3/);
  rejects(datum({ target_tokens: ints([2, 3, 4]), weights: floats([1, 1]) }), 'cross_entropy', 'data[0].loss_fn_inputs.weights', /length 2/);
});

test('dtypes per key: target_tokens int64, the rest float32', () => {
  rejects(datum({ target_tokens: floats([2, 3, 4]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.dtype', /expected dtype "int64", got "float32"/);
  rejects(datum({ ...rl(), advantages: ints([1, 0, 1]) }), 'ppo', 'data[0].loss_fn_inputs.advantages.dtype', /float32/);
});

test('token ids must be non-negative integers (inputs and targets), and below the vocabulary when known', () => {
  rejects(datum({ target_tokens: ints([2, -3, 4]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.data[1]', /non-negative/);
  rejects(datum({ target_tokens: ints([2, 3, 4]) }, [1, 2.5, 3]), 'cross_entropy', 'data[0].model_input.chunks[0].tokens[1]', /non-negative integers/);
  rejects(datum({ target_tokens: ints([2, 3, 400]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.data[2]', /outside the vocabulary/, { vocabSize: 100 });
});

test('(N, K) top-K targets are allowed for cross_entropy only, with matching weights', () => {
  checkDatum(datum({ target_tokens: ints([1, 2, 3, 4, 5, 6], [3, 2]), weights: floats([0.5, 0.5, 1, 0, 0.2, 0.8], [3, 2]) }), 'cross_entropy');
  rejects(
    datum({ target_tokens: ints([1, 2, 3, 4, 5, 6], [3, 2]), weights: floats([1, 1, 1]) }),
    'cross_entropy',
    'data[0].loss_fn_inputs.weights',
    /weights shape \[3\] must equal target_tokens shape \[3, 2\]/,
  );
  rejects(datum({ ...rl(), target_tokens: ints([1, 2, 3, 4, 5, 6], [3, 2]) }), 'ppo', 'data[0].loss_fn_inputs.target_tokens.shape', /expected shape \[3\], got \[3, 2\]/);
  rejects(datum({ target_tokens: ints([1, 2, 3], [3, 1, 1]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.shape', /\[3, K\]/);
});

test('shape must match the data length', () => {
  rejects(datum({ target_tokens: ints([1, 2, 3, 4, 5], [3, 2]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.data', /needs 6 values, data has 5/);
});

test('sparse CSR inputs are checked for validity', () => {
  const sparse = (crow: number[], col: number[], data: number[]): TensorData => ({
    data,
    dtype: 'int64',
    shape: [3, 4],
    sparse_crow_indices: crow,
    sparse_col_indices: col,
  });
  checkDatum(datum({ target_tokens: sparse([0, 1, 1, 3], [2, 0, 3], [7, 8, 9]) }), 'cross_entropy');
  rejects(datum({ target_tokens: sparse([0, 1, 3], [2, 0, 3], [7, 8, 9]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_crow_indices', /expected 4 row pointers/);
  rejects(datum({ target_tokens: sparse([0, 1, 1, 3], [2, 0, 4], [7, 8, 9]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_col_indices[2]', /\[0, 4\)/);
  rejects(datum({ target_tokens: sparse([0, 2, 1, 3], [2, 0, 3], [7, 8, 9]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_crow_indices[2]', /non-decreasing/);
  rejects(datum({ target_tokens: sparse([0, 1, 1, 3], [2, 3, 3], [7, 8, 9]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_col_indices[2]', /strictly increasing/);
  rejects(datum({ target_tokens: sparse([0, 1, 1, 3], [2, 0], [7, 8]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_crow_indices[3]', /value count 2/);
  rejects(datum({ target_tokens: sparse([0, 1, 1, 2], [2, 0], [7, 8, 9]) }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_col_indices', /one per value/);
  const noCol = { ...sparse([0, 1, 1, 3], [2, 0, 3], [7, 8, 9]), sparse_col_indices: null };
  rejects(datum({ target_tokens: noCol }), 'cross_entropy', 'data[0].loss_fn_inputs.target_tokens.sparse_col_indices', /set together/);
});

test('inputs a loss does not take are rejected, naming what it takes', () => {
  rejects(datum({ target_tokens: ints([2, 3, 4]), advantages: floats([1, 1, 1]) }), 'cross_entropy', 'data[0].loss_fn_inputs.advantages', /takes target_tokens, weights/);
});

test('non-finite float inputs and empty inputs are rejected', () => {
  rejects(datum({ ...rl(), logprobs: floats([-1, Number.NaN, -1]) }), 'ppo', 'data[0].loss_fn_inputs.logprobs.data[1]', /finite/);
  rejects(datum({ target_tokens: ints([]) }, []), 'cross_entropy', 'data[0].model_input', /empty/);
});

test('image chunks count their expected tokens toward the length', () => {
  const d: Datum = {
    model_input: { chunks: [{ type: 'encoded_text', tokens: [1] }, { type: 'image', data: '', format: 'png', expected_tokens: 2 }] },
    loss_fn_inputs: { target_tokens: ints([1, 2, 3]) },
  };
  checkDatum(d, 'cross_entropy');
  const noCount: Datum = { ...d, model_input: { chunks: [{ type: 'image', data: '', format: 'png' }] } };
  rejects(noCount, 'cross_entropy', 'data[0].model_input.chunks[0]', /expected_tokens/);
});

test('loss config defaults and errors', () => {
  assert.deepEqual(checkLossFnConfig('ppo', null), { clip_low_threshold: 0.8, clip_high_threshold: 1.2 });
  assert.deepEqual(checkLossFnConfig('cispo', { clip_high_threshold: 5 }), { clip_low_threshold: 0, clip_high_threshold: 5 });
  assert.deepEqual(checkLossFnConfig('cross_entropy', undefined), {});
  assert.deepEqual(checkLossFnConfig('dro', { beta: 0.1 }), { beta: 0.1 });
  const field = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof ValidationError);
      return `${err.field} | ${err.message}`;
    }
    return 'no error';
  };
  assert.match(field(() => checkLossFnConfig('dro', {})), /^loss_fn_config.beta \| .*requires config key beta/);
  assert.match(field(() => checkLossFnConfig('ppo', { clip_low: 0.5 })), /^loss_fn_config.clip_low \| .*known: clip_low_threshold, clip_high_threshold/);
  assert.match(field(() => checkLossFnConfig('cross_entropy', { beta: 1 })), /takes no config/);
  assert.match(field(() => checkLossFnConfig('ppo', { clip_low_threshold: 1.5, clip_high_threshold: 1.2 })), /^loss_fn_config.clip_high_threshold/);
  assert.match(field(() => checkLossFnConfig('dro', { beta: 0 })), /must be > 0/);
  assert.match(field(() => checkLossFnConfig('sft' as LossFnType, {})), /^loss_fn \|/);
});

test('RL losses take no weights (a mask must be folded into advantages)', () => {
  rejects(datum({ ...rl(), weights: floats([1, 1, 1]) }), 'importance_sampling', 'data[0].loss_fn_inputs.weights', /does not take this input/);
  rejects(datum({ ...rl(), mask: floats([1, 1, 1]) }), 'ppo', 'data[0].loss_fn_inputs.mask', /takes target_tokens, logprobs, advantages, clip_low_threshold, clip_high_threshold/);
  checkDatum(datum({ ...rl(), clip_low_threshold: floats([0.8, 0.8, 0.8]) }), 'ppo');
});

test('a whole batch is checked with paths under forward_backward_input', () => {
  const input = { data: [datum(rl()), datum({ ...rl(), advantages: floats([1]) })], loss_fn: 'ppo' as const, loss_fn_config: null };
  assert.throws(
    () => checkForwardBackwardInput(input),
    (err: unknown) => err instanceof ValidationError && err.field === 'forward_backward_input.data[1].loss_fn_inputs.advantages',
  );
  assert.deepEqual(checkForwardBackwardInput({ ...input, data: [datum(rl())] }), { clip_low_threshold: 0.8, clip_high_threshold: 1.2 });
  assert.throws(() => checkForwardBackwardInput({ ...input, data: [] }), (err: unknown) => err instanceof ValidationError && err.field === 'forward_backward_input.data');
});
