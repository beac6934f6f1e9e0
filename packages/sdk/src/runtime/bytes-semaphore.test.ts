import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIUserAbortError } from '../errors.js';
import { BytesSemaphore } from './bytes-semaphore.js';

test('a payload larger than the budget gets in alone, the next waits for its release', async () => {
  const sem = new BytesSemaphore(100);
  const releaseBig = await sem.acquire(150); // budget not negative yet: enters
  assert.equal(sem.availableBytes, -50);
  let second = false;
  const p = sem.acquire(10).then((r) => ((second = true), r));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(second, false);
  releaseBig();
  const releaseSmall = await p;
  assert.equal(sem.availableBytes, 90);
  releaseSmall();
  releaseSmall(); // idempotent
  assert.equal(sem.availableBytes, 100);
});

test('an abort while waiting rejects with APIUserAbortError and frees the queue slot', async () => {
  const sem = new BytesSemaphore(10);
  const release = await sem.acquire(20);
  const ac = new AbortController();
  const waiting = sem.acquire(5, ac.signal);
  ac.abort();
  await assert.rejects(waiting, APIUserAbortError);
  release();
  assert.equal(sem.availableBytes, 10);
});
