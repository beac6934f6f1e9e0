import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkData, combineChunkOutputs, estimateDatumBytes, submissionOrder } from './chunking.js';
import { Datum } from './datum.js';
import { TensorData } from './tensor-data.js';
import { ValidationError } from './errors.js';

function datumOfLength(n: number): Datum {
  const tokens = Array.from({ length: n }, (_, i) => i + 1);
  return new Datum({ modelInput: tokens, lossFnInputs: { target_tokens: tokens, weights: new Array(n).fill(1) } });
}

test('datum bytes are estimated as the protobuf body carries them', () => {
  // 10 int32 tokens + 10 int64 targets + 10 float32 weights
  assert.equal(estimateDatumBytes(datumOfLength(10)), 10 * 4 + 10 * 8 + 10 * 4);
});

test('chunks respect the datum-count limit', () => {
  const data = Array.from({ length: 7 }, () => datumOfLength(2));
  const chunks = chunkData(data, { maxChunkLen: 3, maxChunkBytes: 1e9 });
  assert.deepEqual(chunks.map((c) => c.data.length), [3, 3, 1]);
  assert.deepEqual(chunks.map((c) => c.start), [0, 3, 6]);
  assert.deepEqual(chunks.flatMap((c) => c.data), data, 'order kept');
});

test('chunks respect the byte limit; an oversize datum goes alone', () => {
  const small = datumOfLength(10); // 160 bytes
  const big = datumOfLength(100); // 1600 bytes
  const chunks = chunkData([small, small, small, big, small], { maxChunkLen: 1024, maxChunkBytes: 400 });
  assert.deepEqual(chunks.map((c) => c.data.length), [2, 1, 1, 1]);
  assert.deepEqual(chunks.map((c) => c.bytes), [320, 160, 1600, 160]);
  for (const c of chunks) assert.ok(c.bytes <= 400 || c.data.length === 1);
});

test('parallel chunks are submitted with the first chunk last', () => {
  assert.deepEqual(submissionOrder(4, true), [1, 2, 3, 0]);
  assert.deepEqual(submissionOrder(4, false), [0, 1, 2, 3]);
  assert.deepEqual(submissionOrder(1, true), [0]);
});

function outputOf(datums: number, metrics: Record<string, number>) {
  return { lossFnOutputType: 'ArrayRecord', lossFnOutputs: Array.from({ length: datums }, () => ({ logprobs: TensorData.float32([-1]) })), metrics };
}

test('chunk metrics merge by the reduction after the colon, means weighted by datum count', () => {
  const merged = combineChunkOutputs([
    outputOf(1, { 'loss:sum': 3, 'lr:mean': 1, 'gn:max': 2, 'gn_min:min': 5, 'tokens:unique': 7, 'odd:median': 1, 'only_a:sum': 1 }),
    outputOf(2, { 'loss:sum': 4, 'lr:mean': 4, 'gn:max': 9, 'gn_min:min': 2, 'tokens:unique': 8, 'odd:median': 1 }),
  ]).metrics;
  assert.deepEqual(merged, { 'loss:sum': 7, 'lr:mean': 3, 'gn:max': 9, 'gn_min:min': 2, 'tokens:unique': 7, 'tokens:unique_1': 8 });
  const slack = combineChunkOutputs([outputOf(1, { 't:slack': 1 }), outputOf(3, { 't:slack': 4 })]).metrics;
  assert.equal(slack['t:slack'], 4 - (1 + 12) / 4);
});

test('a metric key without exactly one colon is a validation error', () => {
  assert.throws(() => combineChunkOutputs([outputOf(1, { loss: 1 })]), (e: unknown) => e instanceof ValidationError && e.field === 'metrics.loss');
});

test('chunk outputs concatenate in datum order', () => {
  const out = (lps: number[][], loss: number) => ({
    lossFnOutputType: 'ArrayRecord',
    lossFnOutputs: lps.map((lp) => ({ logprobs: TensorData.float32(lp) })),
    metrics: { 'loss:sum': loss },
  });
  const combined = combineChunkOutputs([out([[-1], [-2]], 3), out([[-3]], 3)]);
  assert.deepEqual(combined.lossFnOutputs.map((o) => o['logprobs']!.toArray()), [[-1], [-2], [-3]]);
  assert.deepEqual(combined.metrics, { 'loss:sum': 6 });
  assert.equal(combined.lossFnOutputType, 'ArrayRecord');
});
