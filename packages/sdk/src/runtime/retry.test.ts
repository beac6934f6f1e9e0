import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIConnectionError, APIError, APIUserAbortError, BadRequestError } from '../errors.js';
import { isRetryableError, isRetryableStatus, requestBackoffMs, retryAfterMs, sleep, submitBackoffMs } from './retry.js';

test('408, 409, 429 and 5xx are retryable; other statuses are not', () => {
  for (const s of [408, 409, 429, 500, 502, 599]) assert.equal(isRetryableStatus(s), true, String(s));
  for (const s of [400, 401, 402, 403, 404, 410, 422, 600]) assert.equal(isRetryableStatus(s), false, String(s));
  assert.equal(isRetryableError(new APIConnectionError()), true);
  assert.equal(isRetryableError(APIError.fromResponse(503, '', {})), true);
  assert.equal(isRetryableError(new BadRequestError('x', { status: 400 })), false);
  assert.equal(isRetryableError(new Error('x')), false);
});

test('submit backoff is min(2^n, 30) units with at most 25% jitter taken off', () => {
  for (let n = 0; n < 8; n++) {
    const full = Math.min(2 ** n, 30) * 100;
    for (let k = 0; k < 20; k++) {
      const ms = submitBackoffMs(n, 100);
      assert.ok(ms <= full && ms >= 0.75 * full, `attempt ${n}: ${ms}`);
    }
  }
  assert.ok(requestBackoffMs(0, 1000) <= 500 && requestBackoffMs(10, 1000) <= 10_000 && requestBackoffMs(10, 1000) >= 7_500);
});

test('Retry-After is read from -ms, seconds or a date, and ignored when absurd', () => {
  assert.equal(retryAfterMs({ 'retry-after-ms': '250' }), 250);
  assert.equal(retryAfterMs({ 'retry-after': '2' }), 2000);
  const inTwo = new Date(Date.now() + 2000).toUTCString();
  const fromDate = retryAfterMs({ 'retry-after': inTwo })!;
  assert.ok(fromDate > 500 && fromDate <= 2000, String(fromDate));
  assert.equal(retryAfterMs({ 'retry-after': '3600' }), undefined);
  assert.equal(retryAfterMs({ 'retry-after': 'soon' }), undefined);
  assert.equal(retryAfterMs({}), undefined);
});

test('sleep ends early with APIUserAbortError when its signal aborts', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = sleep(5000, ac.signal);
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(p, APIUserAbortError);
  assert.ok(Date.now() - t0 < 1000);
});
