// The socket error under a failed request is named however Node wraps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeConnectionFailure } from './connection-failure.js';

function sysError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

test('a plain system error keeps its message and code', () => {
  const d = describeConnectionFailure(sysError('connect ECONNREFUSED 127.0.0.1:8000', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 8000 }));
  assert.deepEqual(d, { message: 'connect ECONNREFUSED 127.0.0.1:8000', code: 'ECONNREFUSED' });
});

test('an AggregateError with an empty message names every refused address', () => {
  const agg = Object.assign(new AggregateError([
    sysError('connect ECONNREFUSED ::1:8000', { code: 'ECONNREFUSED' }),
    sysError('', { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 8000 }),
  ], ''), { code: 'ECONNREFUSED' });
  const d = describeConnectionFailure(agg);
  assert.equal(d.code, 'ECONNREFUSED');
  assert.equal(d.message, 'connect ECONNREFUSED ::1:8000; connect ECONNREFUSED 127.0.0.1:8000');
});

test("fetch's 'fetch failed' gives way to the cause under it", () => {
  const e = new TypeError('fetch failed', { cause: sysError('getaddrinfo ENOTFOUND tinker.invalid', { code: 'ENOTFOUND', hostname: 'tinker.invalid' }) });
  assert.deepEqual(describeConnectionFailure(e), { message: 'getaddrinfo ENOTFOUND tinker.invalid', code: 'ENOTFOUND' });
});

test('a code missing from the message is put in front of it', () => {
  assert.deepEqual(describeConnectionFailure(sysError('socket hang up', { code: 'ECONNRESET' })), { message: 'ECONNRESET: socket hang up', code: 'ECONNRESET' });
});
