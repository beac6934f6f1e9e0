import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TensorData } from './tensor-data.js';
import { ValidationError } from './errors.js';

test('dense float32 tensor keeps values and defaults to a 1-D shape', () => {
  const t = TensorData.float32([0.5, -1, 2]);
  assert.deepEqual(t.shape, [3]);
  assert.ok(t.values instanceof Float32Array);
  assert.deepEqual(t.toArray(), [0.5, -1, 2]);
  assert.deepEqual(t.toWire(), { data: [0.5, -1, 2], dtype: 'float32', shape: [3] });
});

test('int64 tensor rejects non-integers and names the field', () => {
  assert.throws(
    () => new TensorData([1, 2.5], { dtype: 'int64', field: 'loss_fn_inputs.target_tokens' }),
    (e: unknown) => e instanceof ValidationError && e.field === 'loss_fn_inputs.target_tokens.data' && /non-integer 2.5/.test(e.message),
  );
});

test('int64 tensor converts to BigInt64Array and accepts one', () => {
  const t = TensorData.int64(new BigInt64Array([3n, 9007199254740991n]));
  assert.deepEqual(Array.from(t.toTypedArray() as BigInt64Array), [3n, 9007199254740991n]);
  assert.deepEqual(t.toArray(), [3, 9007199254740991]);
});

test('values that do not fill the shape are rejected', () => {
  assert.throws(() => TensorData.float32([1, 2, 3], [2, 2]), /do not fill shape \[2, 2\]/);
});

test('nested rows set a 2-D shape; ragged rows are rejected', () => {
  const t = TensorData.from([[1, 2], [3, 4], [5, 6]], 'float32');
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(t.toRows(), [[1, 2], [3, 4], [5, 6]]);
  assert.throws(() => TensorData.from([[1, 2], [3]], 'float32'), /rectangular/);
});

test('sparse CSR round-trips through the wire and densifies', () => {
  // [[0, 7, 0], [0, 0, 0], [5, 0, 1]]
  const s = TensorData.sparseCsr([7, 5, 1], [0, 1, 1, 3], [1, 0, 2], [3, 3], 'int64');
  assert.ok(s.isSparse);
  assert.deepEqual(s.toArray(), [0, 7, 0, 0, 0, 0, 5, 0, 1]);
  const wire = s.toWire();
  assert.deepEqual(wire, { data: [7, 5, 1], dtype: 'int64', shape: [3, 3], sparse_crow_indices: [0, 1, 1, 3], sparse_col_indices: [1, 0, 2] });
  const back = TensorData.fromWire(wire);
  assert.deepEqual(back.toDense().toArray(), s.toArray());
  assert.equal(back.wireBytes(), 3 * 8 + 8 * (4 + 3));
});

test('malformed CSR indices are rejected naming the index field', () => {
  assert.throws(
    () => TensorData.sparseCsr([1, 2], [0, 1, 3], [0, 1], [2, 2], 'float32'),
    (e: unknown) => e instanceof ValidationError && e.field === 'tensor.sparse_crow_indices',
  );
  assert.throws(
    () => TensorData.sparseCsr([1], [0, 1, 1], [5], [2, 2], 'float32'),
    (e: unknown) => e instanceof ValidationError && e.field === 'tensor.sparse_col_indices',
  );
  assert.throws(
    () => TensorData.fromWire({ data: [1], dtype: 'float32', sparse_crow_indices: [0, 1] }),
    /must be given together/,
  );
});

test('sparsifyIfSmaller switches to CSR only when CSR is smaller', () => {
  const mostlyZero = TensorData.from([[0, 0, 0, 4], [0, 0, 0, 0], [1, 0, 0, 0]], 'float32');
  const sparse = TensorData.sparsifyIfSmaller(mostlyZero);
  assert.ok(sparse.isSparse); // 4 + 2·2 = 8 < 12
  assert.deepEqual(sparse.toArray(), mostlyZero.toArray());
  const dense = TensorData.from([[1, 2], [3, 0]], 'float32');
  assert.equal(TensorData.sparsifyIfSmaller(dense), dense); // 3 + 6 >= 4
});

test('unknown dtype is rejected', () => {
  assert.throws(() => new TensorData([1], { dtype: 'float16' as never }), (e: unknown) => e instanceof ValidationError && e.field === 'tensor.dtype');
});
