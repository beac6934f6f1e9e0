import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Datum } from './datum.js';
import { ModelInput } from './model-input.js';
import { TensorData } from './tensor-data.js';
import { ValidationError } from './errors.js';

test('plain arrays take the dtype their key has on the wire', () => {
  const d = new Datum({ modelInput: [1, 2, 3], lossFnInputs: { target_tokens: [2, 3, 4], weights: [1, 1, 0], advantages: new Float64Array([0.5, 0.5, 0.5]) } });
  assert.equal(d.lossFnInputs['target_tokens']!.dtype, 'int64');
  assert.equal(d.lossFnInputs['weights']!.dtype, 'float32');
  assert.equal(d.lossFnInputs['advantages']!.dtype, 'float32');
  assert.deepEqual(d.toWire(), {
    model_input: { chunks: [{ type: 'encoded_text', tokens: [1, 2, 3] }] },
    loss_fn_inputs: {
      target_tokens: { data: [2, 3, 4], dtype: 'int64', shape: [3] },
      weights: { data: [1, 1, 0], dtype: 'float32', shape: [3] },
      advantages: { data: [0.5, 0.5, 0.5], dtype: 'float32', shape: [3] },
    },
  });
});

test('a plain array under an unknown key must be a TensorData', () => {
  assert.throws(
    () => new Datum({ modelInput: [1], lossFnInputs: { mystery: [1] } }),
    (e: unknown) => e instanceof ValidationError && e.field === 'loss_fn_inputs.mystery',
  );
  const ok = new Datum({ modelInput: [1], lossFnInputs: { mystery: TensorData.float32([1]) } });
  assert.equal(ok.lossFnInputs['mystery']!.dtype, 'float32');
});

test('2-D top-K targets and weights are sent sparse when that is smaller', () => {
  const d = new Datum({
    modelInput: [1, 2, 3, 4],
    lossFnInputs: {
      target_tokens: [[5, 0, 0, 0], [6, 0, 0, 0], [7, 0, 0, 0], [8, 0, 0, 0]],
      weights: [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]],
    },
  });
  const t = d.lossFnInputs['target_tokens']!;
  assert.ok(t.isSparse);
  assert.deepEqual(t.shape, [4, 4]);
  assert.deepEqual(t.toRows()[2], [7, 0, 0, 0]);
  const wire = d.toWire().loss_fn_inputs['weights']!;
  assert.deepEqual(wire.sparse_crow_indices, [0, 1, 2, 3, 4]);
  assert.deepEqual(Datum.fromWire(d.toWire()).lossFnInputs['weights']!.toArray(), d.lossFnInputs['weights']!.toArray());
});

test('fromTokens shifts targets and weights by one', () => {
  const d = Datum.fromTokens([10, 11, 12, 13], [0, 0, 1, 1]);
  assert.deepEqual(d.modelInput.toInts(), [10, 11, 12]);
  assert.deepEqual(d.lossFnInputs['target_tokens']!.toArray(), [11, 12, 13]);
  assert.deepEqual(d.lossFnInputs['weights']!.toArray(), [0, 1, 1]);
  assert.throws(() => Datum.fromTokens([1]), /at least 2 tokens/);
  assert.throws(() => Datum.fromTokens([1, 2], [1]), (e: unknown) => e instanceof ValidationError && e.field === 'weights');
});

test('withLossFnInputs replaces inputs without touching the model input', () => {
  const mi = ModelInput.fromInts([1, 2]);
  const d = new Datum({ modelInput: mi, lossFnInputs: { target_tokens: [2, 3] } }).withLossFnInputs({ weights: [0.5, 0.25] });
  assert.equal(d.modelInput, mi);
  assert.deepEqual(d.lossFnInputs['weights']!.toArray(), [0.5, 0.25]);
});

test('a datum without modelInput (e.g. wire snake_case) is a clear validation error', () => {
  assert.throws(
    () => new Datum({ model_input: { chunks: [] } } as never),
    (e: unknown) => e instanceof ValidationError && e.field === 'model_input' && /got model_input/.test(e.message),
  );
});
