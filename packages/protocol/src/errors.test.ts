import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, TinkerProtocolError, ValidationError } from './errors.js';

test('errors carry the field in .field and in the message', () => {
  const a = new ValidationError('expected integer', 'data[0].tokens[2]');
  assert.equal(a.field, 'data[0].tokens[2]');
  assert.equal(a.message, 'data[0].tokens[2]: expected integer');
  assert.equal(a.name, 'ValidationError');
  const b = new ProtocolError('truncated', { field: 'sequences[1]', cause: new RangeError('eof') });
  assert.equal(b.field, 'sequences[1]');
  assert.ok(b.cause instanceof RangeError);
  assert.ok(b instanceof TinkerProtocolError && !(b instanceof ValidationError));
  assert.equal(new ProtocolError('bad').message, 'bad');
});

test('a message that already names the field is not prefixed twice', () => {
  assert.equal(new ValidationError('rank: must be a positive integer', 'rank').message, 'rank: must be a positive integer');
  assert.equal(new ValidationError('data[1].weights: too short', 'data').message, 'data[1].weights: too short');
  assert.equal(new ValidationError('ranked too low', 'rank').message, 'rank: ranked too low');
});
