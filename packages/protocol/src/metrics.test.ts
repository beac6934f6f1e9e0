import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineForwardBackwardOutputs, mergeMetrics, pythonTupleHash } from './metrics.js';
import { ValidationError } from './errors.js';
import type { ForwardBackwardOutput } from './types.js';

const output = (n: number, metrics: Record<string, number>): ForwardBackwardOutput => ({
  loss_fn_output_type: 'ArrayRecord',
  loss_fn_outputs: Array.from({ length: n }, (_, i) => ({ logprobs: { data: [i], dtype: 'float32' as const } })),
  metrics,
});

test('sum adds, min/max fold, mean and slack are weighted by datum count', () => {
  const merged = combineForwardBackwardOutputs([
    output(1, { 'loss:sum': 2, 'lr:mean': 1, 'x:max': 3, 'y:min': 5, 's:slack': 1 }),
    output(3, { 'loss:sum': 4, 'lr:mean': 5, 'x:max': 1, 'y:min': -1, 's:slack': 5 }),
  ]);
  assert.equal(merged.metrics['loss:sum'], 6);
  assert.equal(merged.metrics['lr:mean'], (1 * 1 + 5 * 3) / 4); // numpy.average weights
  assert.equal(merged.metrics['x:max'], 3);
  assert.equal(merged.metrics['y:min'], -1);
  assert.equal(merged.metrics['s:slack'], 5 - (1 * 1 + 5 * 3) / 4);
  assert.equal(merged.loss_fn_outputs.length, 4);
  assert.deepEqual(merged.loss_fn_outputs.map((o) => o.logprobs!.data[0]), [0, 0, 1, 2]);
});

test('unique keeps every value under suffixed keys', () => {
  assert.deepEqual(mergeMetrics([{ metrics: { 'id:unique': 7 }, numDatums: 1 }, { metrics: { 'id:unique': 8 }, numDatums: 1 }, { metrics: { 'id:unique': 9 }, numDatums: 1 }]), {
    'id:unique': 7,
    'id:unique_1': 8,
    'id:unique_2': 9,
  });
});

test('unknown reductions and keys missing from a chunk are dropped; keys come from the first chunk', () => {
  const merged = mergeMetrics([
    { metrics: { 'a:sum': 1, 'b:sum': 1, 'c:median': 1 }, numDatums: 1 },
    { metrics: { 'a:sum': 2, 'd:sum': 9 }, numDatums: 1 },
  ]);
  assert.deepEqual(merged, { 'a:sum': 3 });
});

test('a key without exactly one colon is an error, as it crashes the Python SDK', () => {
  assert.throws(() => mergeMetrics([{ metrics: { loss: 1 }, numDatums: 1 }]), ValidationError);
  assert.throws(() => mergeMetrics([{ metrics: { 'a:b:sum': 1 }, numDatums: 1 }]), ValidationError);
});

test('hash_unordered equals CPython hash(tuple(sorted(int(x))))', () => {
  // Values printed by CPython 3: hash((1,2,3)), hash(()), hash((-1, 5, 2**62)), hash((-7, 3, 100))
  assert.equal(pythonTupleHash([1n, 2n, 3n]), 529344067295497451n);
  assert.equal(pythonTupleHash([]), 5740354900026072187n);
  assert.equal(pythonTupleHash([-1n, 5n, 2n ** 62n]), -7262591626861335172n);
  const merged = mergeMetrics([
    { metrics: { 'h:hash_unordered': 100.9 }, numDatums: 1 },
    { metrics: { 'h:hash_unordered': -7.5 }, numDatums: 1 },
    { metrics: { 'h:hash_unordered': 3 }, numDatums: 1 },
  ]);
  assert.equal(merged['h:hash_unordered'], Number(1082672962342658203n));
});

test('no results combine to an empty output', () => {
  assert.deepEqual(combineForwardBackwardOutputs([]), { loss_fn_output_type: '', loss_fn_outputs: [], metrics: {} });
});

test('a mean over chunks with no datums is an error (numpy would divide by zero)', () => {
  assert.throws(() => mergeMetrics([{ metrics: { 'm:mean': 1 }, numDatums: 0 }]), ValidationError);
});
