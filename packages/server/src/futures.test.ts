/**
 * FutureRegistry: unfinished futures are served from memory, "running" never reaches SQLite,
 * finished rows reach long polls directly and match what the database then holds, and a
 * rolled-back submit leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError } from './errors.js';
import { FutureRegistry } from './futures.js';
import { Store } from './store.js';
import { type NewFuture } from './store/rows.js';

function setup() {
  let t = 100;
  const store = new Store(':memory:');
  const futures = new FutureRegistry(store, () => t++);
  const dbState = (id: string) => (store.db.prepare(`SELECT state FROM futures WHERE request_id = ?`).get(id) as { state: string } | undefined)?.state;
  return { store, futures, dbState };
}

const future = (seq: number, over: Partial<NewFuture> = {}): NewFuture => ({
  request_id: `m:${seq}`,
  owner: 'u',
  model_id: 'm',
  queue_key: 'm',
  seq_id: seq,
  kind: 'optim_step',
  request_hash: `h${seq}`,
  ...over,
});

test('a running future is running in memory and pending in SQLite; finishing writes the final row once', async () => {
  const { store, futures, dbState } = setup();
  const { row, created } = futures.submit(future(1));
  assert.ok(created);
  assert.equal(row.state, 'pending');
  futures.markRunning('m:1');
  assert.equal(futures.get('m:1')!.state, 'running');
  assert.equal(futures.getBySeq('m', 1)!.state, 'running');
  assert.equal(dbState('m:1'), 'pending');

  const poll = futures.waitUntilFinished('m:1', 5_000);
  assert.equal(futures.complete('m:1', { metrics: { x: 1 } }), true);
  const polled = await poll;
  assert.equal(polled!.state, 'done');
  // What the long poll got is what the database now returns.
  const stored = store.futures.get('m:1')!;
  assert.deepEqual([stored.state, stored.result_json, stored.finished_at], [polled!.state, polled!.result_json, polled!.finished_at]);
  assert.deepEqual(JSON.parse(futures.get('m:1')!.result_json!), { metrics: { x: 1 } });
});

test('protobuf results reach the long poll as the bytes the database stores', async () => {
  const { store, futures } = setup();
  futures.submit(future(1, { kind: 'forward' }));
  const poll = futures.waitUntilFinished('m:1', 5_000);
  futures.complete('m:1', { loss_fn_output_type: 'cross_entropy', loss_fn_outputs: [], metrics: { 'loss:sum': 2.5 } });
  const polled = (await poll)!;
  assert.ok(polled.result_bytes && polled.result_bytes.byteLength > 0);
  assert.equal(polled.result_json, null);
  assert.deepEqual([...store.futures.get('m:1')!.result_bytes!], [...polled.result_bytes]);
});

test('a resubmission returns the original future; a different payload under the same seq_id is refused', () => {
  const { futures } = setup();
  const first = futures.submit(future(1)).row;
  const again = futures.submit(future(1));
  assert.equal(again.created, false);
  assert.equal(again.row.request_id, first.request_id);
  assert.throws(() => futures.submit(future(1, { request_hash: 'other' })), BadRequestError);
  // Still deduplicated once finished (then from SQLite).
  futures.complete('m:1', { ok: true });
  assert.equal(futures.submit(future(1)).created, false);
  assert.throws(() => futures.submit(future(1, { kind: 'forward' })), BadRequestError);
});

test('a submit inside a transaction that rolls back leaves no future in memory or SQLite', () => {
  const { store, futures, dbState } = setup();
  assert.throws(() =>
    store.transaction(() => {
      futures.submit(future(1));
      assert.equal(futures.get('m:1')!.state, 'pending');
      throw new Error('abort');
    }),
  );
  assert.equal(futures.get('m:1'), null);
  assert.equal(futures.getBySeq('m', 1), null);
  assert.equal(dbState('m:1'), undefined);
  assert.equal(futures.submit(future(1)).created, true);
});

test('failing a finished future changes nothing; waiters see the stored outcome', async () => {
  const { futures } = setup();
  futures.submit(future(1));
  futures.submit(future(2));
  const poll2 = futures.waitUntilFinished('m:2', 5_000);
  assert.equal(futures.fail('m:2', 'bad input', 'user'), true);
  const failed = (await poll2)!;
  assert.deepEqual([failed.state, failed.error, failed.category], ['failed', 'bad input', 'user']);
  assert.deepEqual([futures.get('m:2')!.state, futures.get('m:2')!.error], ['failed', 'bad input']);

  futures.complete('m:1', 1);
  assert.equal(futures.fail('m:1', 'too late', 'user'), false);
  assert.equal(futures.get('m:1')!.state, 'done');

  // A poll that times out gets the unfinished row back.
  futures.submit(future(3));
  assert.equal((await futures.waitUntilFinished('m:3', 10))!.state, 'pending');
});
