import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TinkerError, ValidationError } from './errors.js';
import { deserializeError, serializeError } from './serialized-error.js';

class QuotaError extends TinkerError {
  readonly limit: number;
  constructor(message: string, limit: number) {
    super(message, { category: 'user' });
    this.limit = limit;
  }
}

test('an error crosses as plain data and comes back as its class, with its category and fields', () => {
  const sent = serializeError(new ValidationError('expected an integer', 'seq_id'));
  assert.deepEqual({ ...sent, stack: undefined }, {
    className: 'ValidationError', message: 'seq_id: expected an integer', category: 'user', stack: undefined, fields: { field: 'seq_id' },
  });
  const back = deserializeError(structuredClone(sent));
  assert.ok(back instanceof ValidationError && back instanceof TinkerError);
  assert.equal(back.field, 'seq_id');
  assert.equal(back.category, 'user');
  assert.equal(back.name, 'ValidationError');
  assert.equal(back.message, 'seq_id: expected an integer');
  assert.match(back.stack ?? '', /received on the calling thread/);

  const quota = deserializeError(structuredClone(serializeError(new QuotaError('too many', 3))), [QuotaError]);
  assert.ok(quota instanceof QuotaError);
  assert.deepEqual([quota.limit, quota.category], [3, 'user']);
});

test('a class the receiver does not know arrives as the root, keeping category and fields', () => {
  const back = deserializeError(structuredClone(serializeError(new QuotaError('too many', 3))));
  assert.equal(back.constructor, TinkerError);
  assert.equal(back.category, 'user');
  assert.equal((back as unknown as { limit: number }).limit, 3);
  assert.equal(back.message, 'QuotaError: too many');
});

test('errors that are not TinkerErrors cross as the root named in the message; a category they carry is kept', () => {
  const plain = deserializeError(serializeError(new RangeError('out of range')));
  assert.equal(plain.constructor, TinkerError);
  assert.equal(plain.category, 'unknown');
  assert.equal(plain.message, 'RangeError: out of range');
  const withCategory = Object.assign(new Error('bad token'), { category: 'user' });
  assert.equal(deserializeError(serializeError(withCategory)).category, 'user');
  assert.equal(deserializeError(serializeError('just a string')).message, 'just a string');
});

test('instanceof is plain prototype inheritance: no Symbol.hasInstance anywhere in the tree', () => {
  for (const cls of [TinkerError, ValidationError, QuotaError]) assert.equal(Object.hasOwn(cls, Symbol.hasInstance), false);
  assert.ok(new ValidationError('x') instanceof TinkerError);
  assert.equal(new TinkerError('x').category, 'unknown');
});
