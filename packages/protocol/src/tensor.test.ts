import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denseValues, float32Tensor, int64Tensor, maybeSparsify, tensorShape, toDense, toInt32Array } from './tensor.js';
import { ValidationError } from './errors.js';

test('dense view of a sparse CSR tensor', () => {
  const td = { data: [7, 9], dtype: 'int64' as const, shape: [2, 3], sparse_crow_indices: [0, 1, 2], sparse_col_indices: [2, 0] };
  assert.deepEqual(denseValues(td), [0, 0, 7, 9, 0, 0]);
  assert.deepEqual(toDense(td), { data: [0, 0, 7, 9, 0, 0], dtype: 'int64', shape: [2, 3] });
});

test('sparsify uses CSR only when it is smaller, as the SDK does', () => {
  const mostlyZero = int64Tensor([0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], [3, 4]);
  const sparse = maybeSparsify(mostlyZero);
  assert.deepEqual(sparse.sparse_crow_indices, [0, 1, 1, 1]);
  assert.deepEqual(sparse.sparse_col_indices, [3]);
  assert.deepEqual(denseValues(sparse), mostlyZero.data);
  const dense = int64Tensor([1, 2, 3, 4], [2, 2]);
  assert.equal(maybeSparsify(dense), dense);
  const oneD = int64Tensor([0, 0, 0, 0]);
  assert.equal(maybeSparsify(oneD), oneD);
});

test('a tensor without shape is 1-D', () => {
  assert.deepEqual(tensorShape({ data: [1, 2, 3], dtype: 'float32' }), [3]);
});

test('typed-array conversions keep wire precision and check ranges', () => {
  assert.deepEqual(float32Tensor([0.1]).data, [Math.fround(0.1)]);
  assert.deepEqual(Array.from(toInt32Array(int64Tensor(new BigInt64Array([5n, 6n])))), [5, 6]);
  assert.throws(() => toInt32Array(int64Tensor([2 ** 40]), 'target_tokens'), (err: unknown) => err instanceof ValidationError && err.field === 'target_tokens[0]');
  assert.throws(() => float32Tensor([1, 2, 3], [2, 2]), /needs 4 values/);
});
