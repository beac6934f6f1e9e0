import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIFuture, FutureCell, type Blocker } from './future.js';
import { TimeoutError, TinkerError } from './errors.js';

/** A blocker whose "network" settles queued cells one per wait, like messages arriving. */
function scriptedBlocker(): { blocker: Blocker; later: Array<() => void>; waits: number[] } {
  const later: Array<() => void> = [];
  const waits: number[] = [];
  const blocker: Blocker = {
    poll() {},
    waitForProgress(ms) {
      waits.push(ms);
      const step = later.shift();
      if (step) step();
      else {
        const until = Date.now() + ms;
        while (Date.now() < until) {} // nothing will arrive: sleep out the timeout
      }
    },
  };
  return { blocker, later, waits };
}

test('await and result() of a resolved future give the value', async () => {
  const f = APIFuture.resolved(42);
  assert.equal(await f, 42);
  assert.equal(f.result(), 42);
  assert.equal(f.done(), true);
  assert.equal(f.requestId, undefined);
});

test('result() blocks through the blocker until the cell settles', () => {
  const { blocker, later } = scriptedBlocker();
  const cell = new FutureCell<string>(blocker);
  later.push(() => {}, () => cell.resolve('ok'));
  const f = APIFuture.fromCell(cell);
  assert.equal(f.done(), false);
  assert.equal(f.result(), 'ok');
  assert.equal(f.done(), true);
});

test('result(timeout) throws TimeoutError and the future stays valid', async () => {
  const { blocker } = scriptedBlocker();
  const cell = new FutureCell<number>(blocker);
  const f = APIFuture.fromCell(cell);
  const t0 = Date.now();
  assert.throws(() => f.result(30), TimeoutError);
  assert.ok(Date.now() - t0 >= 29);
  cell.resolve(7);
  assert.equal(f.result(30), 7);
  assert.equal(await f, 7);
});

test('resultAsync(timeout) rejects with TimeoutError, later awaits still succeed', async () => {
  const cell = new FutureCell<number>();
  const f = APIFuture.fromCell(cell);
  await assert.rejects(f.resultAsync(20), TimeoutError);
  setTimeout(() => cell.resolve(5), 5);
  assert.equal(await f.resultAsync(1000), 5);
});

test('a rejected future throws its error from result() and await, with no unhandled rejection', async () => {
  const f = APIFuture.rejected<number>(new TinkerError('boom'));
  assert.throws(() => f.result(), /boom/);
  await assert.rejects(f.future(), /boom/);
});

test('result() without any way to block explains itself instead of hanging', () => {
  const f = APIFuture.fromCell(new FutureCell<number>());
  assert.throws(() => f.result(), /cannot be waited on synchronously/);
});

test('map runs its function once whether awaited or blocked on', async () => {
  const { blocker, later } = scriptedBlocker();
  const cell = new FutureCell<number>(blocker);
  let calls = 0;
  const m = APIFuture.fromCell(cell).map((v) => (calls++, v * 2));
  later.push(() => cell.resolve(21));
  assert.equal(m.result(), 42);
  assert.equal(await m, 42);
  assert.equal(m.result(), 42);
  assert.equal(calls, 1);
});

test('map propagates the function error to both ways of waiting', async () => {
  const m = APIFuture.resolved(1).map(() => {
    throw new Error('bad map');
  });
  assert.throws(() => m.result(), /bad map/);
  await assert.rejects(m.future(), /bad map/);
});

test('chain waits for the inner future, blocking and async', async () => {
  const { blocker, later } = scriptedBlocker();
  const outer = new FutureCell<number>(blocker);
  const inner = new FutureCell<string>(blocker);
  let calls = 0;
  const c = APIFuture.fromCell(outer).chain((v) => {
    calls++;
    return APIFuture.fromCell(inner).map((s) => `${s}${v}`);
  });
  later.push(() => outer.resolve(1), () => {}, () => inner.resolve('x'));
  assert.equal(c.result(), 'x1');
  assert.equal(await c, 'x1');
  assert.equal(calls, 1);
  assert.equal(c.done(), true);
});

test('all collects values in order and fails with the first error', async () => {
  const a = APIFuture.resolved(1);
  const b = APIFuture.resolved(2).map((x) => x + 1);
  assert.deepEqual(APIFuture.all([a, b]).result(), [1, 3]);
  assert.deepEqual(await APIFuture.all([a, b]), [1, 3]);
  const bad = APIFuture.all([a, APIFuture.rejected<number>(new Error('second'))]);
  assert.throws(() => bad.result(), /second/);
  await assert.rejects(bad.future(), /second/);
});

test('derived futures report the source request id', () => {
  const cell = new FutureCell<number>();
  cell.setRequestId('req-9');
  cell.resolve(1);
  assert.equal(APIFuture.fromCell(cell).map((x) => x).requestId, 'req-9');
});
