import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError, EngineUserError } from '@tinker-ts/engine';
import { ProtocolError, TinkerError, ValidationError } from '@tinker-ts/protocol';
import { BadRequestError, HttpError, NotFoundError, RequestFailure, asTinkerError, classifyFailure, httpAnswerOf } from './errors.js';

test('the server errors are the root, their category from their status', () => {
  for (const e of [new BadRequestError('no'), new NotFoundError('gone'), new RequestFailure('bad')]) {
    assert.ok(e instanceof TinkerError);
    assert.equal(e.category, 'user');
  }
  assert.equal(new HttpError(503, 'unavailable', 'later').category, 'server');
  assert.equal(new RequestFailure('disk', 'server').category, 'server');
});

test('engine errors become the root by their category, not their name', () => {
  const user = asTinkerError(new EngineUserError('token id 9 is outside the vocabulary'));
  assert.ok(user instanceof TinkerError);
  assert.deepEqual([user.category, user.message], ['user', 'token id 9 is outside the vocabulary']);
  // Whatever its name, an error carrying category "user" as data is the caller's fault.
  const renamed = Object.assign(new EngineError('bad loss input', 'user'), { name: 'Something' });
  assert.deepEqual(classifyFailure(renamed), { message: 'bad loss input', category: 'user' });
  assert.deepEqual(classifyFailure(new EngineError('kernel failed')), { message: 'internal error: kernel failed', category: 'server' });
  assert.deepEqual(classifyFailure(new TypeError('x is undefined')), { message: 'internal error: x is undefined', category: 'server' });
});

test('the category decides the HTTP answer: an HttpError its own status, other user errors 400, the rest 500', () => {
  assert.deepEqual(httpAnswerOf(new NotFoundError('no such model')), { status: 404, body: { error: 'no such model', code: 'not_found' } });
  assert.deepEqual(httpAnswerOf(new ValidationError('expected a string', 'path')), {
    status: 400, body: { error: 'path: expected a string', code: 'invalid_request', field: 'path' },
  });
  assert.equal(httpAnswerOf(new ProtocolError('truncated')).status, 400);
  assert.deepEqual(httpAnswerOf(new EngineUserError('unknown loss function "x"')), {
    status: 400, body: { error: 'unknown loss function "x"', code: 'bad_request', field: undefined },
  });
  assert.deepEqual(httpAnswerOf(new RangeError('oops')), { status: 500, body: { error: 'internal error: oops', code: 'internal' } });
});
