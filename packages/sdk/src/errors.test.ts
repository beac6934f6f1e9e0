import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIError, APIConnectionTimeoutError, AuthenticationError, BadRequestError, ConflictError, InternalServerError,
  NotFoundError, PermissionDeniedError, RateLimitError, RequestFailedError, TinkerError, UnprocessableEntityError,
  deserializeError, serializeError,
} from './errors.js';

test('fromResponse picks the subclass for each status', () => {
  const cases: Array<[number, Function]> = [
    [400, BadRequestError], [401, AuthenticationError], [403, PermissionDeniedError], [404, NotFoundError],
    [409, ConflictError], [422, UnprocessableEntityError], [429, RateLimitError], [500, InternalServerError], [503, InternalServerError],
  ];
  for (const [status, cls] of cases) {
    const e = APIError.fromResponse(status, { detail: 'why' }, { 'x-a': '1' }, 'r1');
    assert.ok(e instanceof cls, `status ${status}`);
    assert.ok(e instanceof APIError && e instanceof TinkerError);
    assert.equal(e.status, status);
    assert.equal(e.requestId, 'r1');
    assert.match(e.message, /why/);
  }
  assert.equal(APIError.fromResponse(418, '', {}).constructor, APIError);
});

test('errors keep their class and fields through structured cloning', () => {
  const original = new RequestFailedError('failed', { category: 'user', requestId: 'abc' });
  const back = deserializeError(structuredClone(serializeError(original)));
  assert.ok(back instanceof RequestFailedError);
  assert.ok(back instanceof TinkerError);
  assert.equal((back as RequestFailedError).category, 'user');
  assert.equal((back as RequestFailedError).requestId, 'abc');
  assert.equal(back.message, 'failed');
  assert.equal(back.name, 'RequestFailedError');
  assert.match(back.stack ?? '', /received on the calling thread/);

  const api = deserializeError(structuredClone(serializeError(APIError.fromResponse(409, { detail: 'dup' }, {}))));
  assert.ok(api instanceof ConflictError);
  assert.equal((api as APIError).status, 409);
  assert.ok(deserializeError(serializeError(new APIConnectionTimeoutError())) instanceof APIConnectionTimeoutError);
});

test('foreign errors cross as TinkerError with their name in the message', () => {
  const back = deserializeError(serializeError(new RangeError('out of range')));
  assert.ok(back instanceof TinkerError);
  assert.match(back.message, /RangeError: out of range/);
});

test('the protocol package ValidationError is part of the tree and crosses threads with its field', async () => {
  const { ValidationError } = await import('./errors.js');
  const e = new ValidationError('expected an int32 integer', 'seq_id');
  assert.ok(e instanceof TinkerError);
  assert.ok(!(e instanceof APIError));
  const back = deserializeError(structuredClone(serializeError(e)));
  assert.ok(back instanceof ValidationError);
  assert.ok(back instanceof TinkerError);
  assert.equal((back as InstanceType<typeof ValidationError>).field, 'seq_id');
});
