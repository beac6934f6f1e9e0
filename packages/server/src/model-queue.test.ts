/**
 * Queue discipline without an engine: strict seq order per model, gaps hold back only their
 * own model, unordered requests run after what is queued, failures are categorised, closing
 * fails what waits, and long polls wake the moment a result lands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineUserError } from '@tinker-ts/engine';
import { RequestFailure, classifyFailure } from './errors.js';
import { FutureRegistry, requestHash } from './futures.js';
import { ModelQueues } from './model-queue.js';
import { Store } from './store.js';

function setup() {
  const store = new Store(':memory:');
  const futures = new FutureRegistry(store);
  const queues = new ModelQueues({ futures });
  const order: string[] = [];
  const add = (key: string, seq: number | null, label: string, work: () => Promise<unknown> = async () => label) => {
    const requestId = `${key}:${seq ?? label}`;
    futures.submit({ request_id: requestId, owner: 'u', model_id: key, queue_key: key, seq_id: seq, kind: 'test', request_hash: requestHash('test', label) });
    queues.enqueue(key, {
      requestId,
      seqId: seq,
      kind: 'test',
      execute: async () => {
        order.push(label);
        return work();
      },
    });
    return requestId;
  };
  return { store, futures, queues, order, add };
}

test('requests run in seq order, a gap holds back only its model', async () => {
  const { futures, queues, order, add } = setup();
  queues.open('a', { ordered: true, firstSeq: 1 });
  queues.open('b', { ordered: true, firstSeq: 1 });
  const a3 = add('a', 3, 'a3');
  const a2 = add('a', 2, 'a2');
  const b1 = add('b', 1, 'b1');
  await futures.waitUntilFinished(b1, 1000);
  assert.deepEqual(order, ['b1']);
  assert.match(queues.status(a2)!.reason, /waiting for seq_id 1 of a/);
  const a1 = add('a', 1, 'a1');
  await futures.waitUntilFinished(a3, 1000);
  assert.deepEqual(order, ['b1', 'a1', 'a2', 'a3']);
  for (const id of [a1, a2, a3]) assert.equal(futures.get(id)!.state, 'done');
  assert.deepEqual(JSON.parse(futures.get(a2)!.result_json!), 'a2');
  assert.equal(futures.get(a2)!.result_bytes, null);
});

test('seq_ids already passed or taken are refused before a future exists', () => {
  const { queues, add } = setup();
  queues.open('m', { ordered: true, firstSeq: 1 });
  add('m', 2, 'two');
  assert.throws(() => queues.checkAcceptable('m', 2), /already queued/);
  add('m', 1, 'one');
  assert.throws(() => queues.checkAcceptable('m', 0), /seq_id 0 is behind m/);
});

test('unordered requests run after everything already queued', async () => {
  const { futures, queues, order, add } = setup();
  queues.open('m', { ordered: true, firstSeq: 1 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  add('m', 1, 'one', () => gate);
  const u = add('m', null, 'unload');
  add('m', 2, 'two');
  assert.match(queues.status(u)!.reason, /2 requests ahead/);
  release();
  await futures.waitUntilFinished(u, 1000);
  assert.deepEqual(order, ['one', 'two', 'unload']);
});

test('failures are categorised: engine user errors and RequestFailure are "user", faults "server"', async () => {
  const { futures, queues, add } = setup();
  queues.open('m', { ordered: true, firstSeq: 1 });
  const user = add('m', 1, 'bad', async () => {
    throw new EngineUserError('token 99999999 outside vocabulary');
  });
  const fault = add('m', 2, 'fault', async () => {
    throw new TypeError('undefined is not a function');
  });
  const next = add('m', 3, 'fine');
  await futures.waitUntilFinished(next, 1000);
  assert.deepEqual([futures.get(user)!.state, futures.get(user)!.category], ['failed', 'user']);
  assert.match(futures.get(user)!.error!, /outside vocabulary/);
  assert.deepEqual([futures.get(fault)!.category, futures.get(next)!.state], ['server', 'done']);
  assert.deepEqual(classifyFailure(new RequestFailure('x', 'user')), { message: 'x', category: 'user' });
});

test('closing a queue fails what waits and what comes later', async () => {
  const { futures, queues, add } = setup();
  queues.open('m', { ordered: true, firstSeq: 1 });
  const waiting = add('m', 5, 'gap');
  queues.close('m', 'model m was unloaded');
  assert.equal(futures.get(waiting)!.state, 'failed');
  assert.equal(futures.get(waiting)!.error, 'model m was unloaded');
  assert.equal(queues.has('m'), false);
});

test('a long poll returns as soon as the result lands, else after its timeout', async () => {
  const { futures, queues, add } = setup();
  queues.open('m', { ordered: true, firstSeq: 1 });
  const id = add('m', 2, 'later');
  const t0 = Date.now();
  const timedOut = await futures.waitUntilFinished(id, 150);
  assert.equal(timedOut!.state, 'pending');
  assert.ok(Date.now() - t0 >= 140);
  const polling = futures.waitUntilFinished(id, 10_000);
  const t1 = Date.now();
  add('m', 1, 'first');
  assert.equal((await polling)!.state, 'done');
  assert.ok(Date.now() - t1 < 1000);
});

test('a cancelled request fails and keeps its seq slot so later requests still run', async () => {
  const { futures, queues, order, add } = setup();
  queues.open('m', { ordered: true, firstSeq: 1 });
  const two = add('m', 2, 'two');
  const three = add('m', 3, 'three');
  assert.equal(queues.cancel(two, 'cancelled'), true);
  assert.equal(futures.get(two)!.state, 'failed');
  add('m', 1, 'one');
  await futures.waitUntilFinished(three, 1000);
  assert.deepEqual(order, ['one', 'three']);
});

test('an unordered queue (a sampling target) is removed once it has nothing left to run', async () => {
  const { futures, queues, add } = setup();
  queues.open('sampler', { ordered: false });
  const first = add('sampler', null, 's1');
  const second = add('sampler', null, 's2');
  await futures.waitUntilFinished(first, 1000);
  assert.equal(queues.has('sampler'), true, 's2 is still queued');
  assert.equal((await futures.waitUntilFinished(second, 1000))?.state, 'done');
  await new Promise((r) => setImmediate(r));
  assert.equal(queues.has('sampler'), false);
  // Opened again for the next sample, it works as before.
  queues.open('sampler', { ordered: false });
  assert.equal((await futures.waitUntilFinished(add('sampler', null, 's3'), 1000))?.state, 'done');
});
