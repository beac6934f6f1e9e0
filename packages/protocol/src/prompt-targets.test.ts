import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from './errors.js';
import { promptTargetLogprobs, readPromptTargets } from './prompt-targets.js';

// A 3-token prompt: 2 rows of 4; -1 asks for nothing, 0 is a real token id.
const dense = { data: [5, -1, -1, 6, 0, -1, -1, -1], dtype: 'int64' as const, shape: [2, 4] };
const sparse = { data: [5, 6, 0], dtype: 'int64' as const, shape: [2, 4], sparse_crow_indices: [0, 2, 3], sparse_col_indices: [0, 3, 0] };

test('dense and CSR targets name the same cells, by logits row', () => {
  for (const td of [dense, sparse]) {
    const t = readPromptTargets(td, 3);
    assert.deepEqual(t.shape, [2, 4]);
    assert.deepEqual(t.rows, [0, 0, 1]);
    assert.deepEqual(t.ids, [5, 6, 0]);
    assert.equal(t.distinctIds, 3);
  }
  // CSR with an empty first row.
  const t = readPromptTargets({ data: [7, 7], dtype: 'int64', shape: [3, 2], sparse_crow_indices: [0, 0, 1, 2], sparse_col_indices: [1, 0] }, 4);
  assert.deepEqual(t.rows, [1, 2]);
  assert.equal(t.distinctIds, 1);
});

test('the answer keeps the request layout, 0 where nothing was asked', () => {
  assert.deepEqual(promptTargetLogprobs(readPromptTargets(dense, 3), [-0.5, -1.5, -2.5]), {
    data: [-0.5, 0, 0, -1.5, -2.5, 0, 0, 0], dtype: 'float32', shape: [2, 4],
  });
  assert.deepEqual(promptTargetLogprobs(readPromptTargets(sparse, 3), [-0.5, -1.5, -2.5]), {
    data: [-0.5, -1.5, -2.5], dtype: 'float32', shape: [2, 4], sparse_crow_indices: [0, 2, 3], sparse_col_indices: [0, 3, 0],
  });
  assert.throws(() => promptTargetLogprobs(readPromptTargets(dense, 3), [-1]), RangeError);
});

test('malformed targets are refused with a message naming the rule', () => {
  const refused = (td: Parameters<typeof readPromptTargets>[0], len: number, re: RegExp) =>
    assert.throws(() => readPromptTargets(td, len), (e: Error) => e instanceof ValidationError && re.test(e.message));
  refused({ ...dense, dtype: 'float32' }, 3, /must be an int64 tensor of token ids/);
  refused({ data: [5, 6], dtype: 'int64', shape: [2] }, 3, /must be 2-D, \[len\(prompt\) - 1, K\]/);
  refused(dense, 4, /has 2 rows; a prompt of 4 tokens needs exactly 3/);
  refused({ data: [-1, -1], dtype: 'int64', shape: [2, 1] }, 3, /names no token id/);
  refused({ data: [5, -2], dtype: 'int64', shape: [2, 1] }, 3, /non-negative integers \(-1 marks a cell to skip\), got -2/);
  refused({ data: [5, 1.5], dtype: 'int64', shape: [2, 1] }, 3, /got 1\.5/);
  refused({ data: [5, 6, 7], dtype: 'int64', shape: [2, 1] }, 3, /needs 2 values/);
  refused({ ...sparse, sparse_col_indices: [0, 4, 0] }, 3, /column index/);
});
