import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpointIdOf, formatTinkerPath, parseCheckpointId, parseTinkerPath } from './paths.js';
import { ValidationError } from './errors.js';

test('parses training and sampler paths', () => {
  assert.deepEqual(parseTinkerPath('tinker://run-1/weights/step-10'), { runId: 'run-1', kind: 'weights', name: 'step-10' });
  assert.deepEqual(parseTinkerPath('tinker://0a1b:train:0/sampler_weights/000080'), {
    runId: '0a1b:train:0',
    kind: 'sampler_weights',
    name: '000080',
  });
});

test('format is the inverse of parse', () => {
  for (const p of ['tinker://r/weights/final', 'tinker://abc_DEF.1/sampler_weights/x.y-z']) {
    assert.equal(formatTinkerPath(parseTinkerPath(p)), p);
  }
});

test('rejects malformed and unsafe paths with a clear error', () => {
  const bad: Array<[string, RegExp]> = [
    ['http://r/weights/x', /starting with tinker:\/\//],
    ['tinker://r/weights', /tinker:\/\/<run_id>\/weights\/<name>/],
    ['tinker://r/weights/a/b', /tinker:\/\/<run_id>/],
    ['tinker://r/optimizer/x', /kind must be "weights" or "sampler_weights"/],
    ['tinker:///weights/x', /invalid run id ""/],
    ['tinker://r/weights/', /invalid checkpoint name ""/],
    ['tinker://../weights/x', /invalid run id/],
    ['tinker://r/weights/..', /invalid checkpoint name/],
    ['tinker://r/weights/.hidden', /invalid checkpoint name/],
    ['tinker://r/weights/a..b', /invalid checkpoint name/],
    ['tinker://r/weights/sp ace', /invalid checkpoint name/],
    ['tinker://r\\x/weights/a', /invalid run id/],
    [`tinker://r/weights/${'n'.repeat(256)}`, /invalid checkpoint name/],
  ];
  for (const [path, message] of bad) {
    assert.throws(() => parseTinkerPath(path), (err: unknown) => err instanceof ValidationError && message.test(err.message), path);
  }
});

test('the error names the request field it came from', () => {
  assert.throws(() => parseTinkerPath('nope', 'model_path'), (err: unknown) => err instanceof ValidationError && err.field === 'model_path');
});

test('checkpoint ids map to and from kind/name', () => {
  assert.equal(checkpointIdOf(parseTinkerPath('tinker://r/sampler_weights/s1')), 'sampler_weights/s1');
  assert.deepEqual(parseCheckpointId('weights/final'), { kind: 'weights', name: 'final' });
  assert.throws(() => parseCheckpointId('weights/../x'), ValidationError);
  assert.throws(() => parseCheckpointId('final'), ValidationError);
});

test('formatting refuses unsafe parts', () => {
  assert.throws(() => formatTinkerPath({ runId: 'r', kind: 'weights', name: 'a/b' }), ValidationError);
});
