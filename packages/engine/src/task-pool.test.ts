/**
 * The native task pool behind every split kernel: each task runs exactly once on a worker below
 * OpenBLAS's thread count, a task's exception reaches JS and leaves the pool usable, nested
 * calls run serially inside their task, and OpenBLAS's thread count is restored afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blasThreads, loadNativeAddon, setBlasThreads } from './native-kernels.js';

const addon = loadNativeAddon();
const NO_THROW = 2 ** 40;

function probe(nTasks: number, throwAt = NO_THROW, nested = 0): { runs: Int32Array; workers: Int32Array } {
  const runs = new Int32Array(nTasks);
  const workers = new Int32Array(nTasks).fill(-1);
  addon.taskPoolProbe(runs, workers, throwAt, nested);
  return { runs, workers };
}

function withThreads<T>(threads: number, fn: () => T): T {
  const previous = blasThreads();
  setBlasThreads(threads);
  try {
    return fn();
  } finally {
    setBlasThreads(previous);
  }
}

test('every task runs exactly once, on a worker below the thread count, for many task counts', () => {
  withThreads(2, () => {
    for (const n of [0, 1, 2, 3, 7, 64, 1000, 20000]) {
      const { runs, workers } = probe(n);
      assert.ok(runs.every((r) => r === 1), `${n} tasks: every task once`);
      assert.ok(workers.every((w) => w === 0 || w === 1), `${n} tasks: workers 0 or 1`);
      assert.equal(blasThreads(), 2, 'OpenBLAS thread count restored');
    }
  });
});

test('more threads than tasks or cores: worker indices stay below the thread count', () => {
  withThreads(4, () => {
    const { runs, workers } = probe(5000);
    assert.ok(runs.every((r) => r === 1));
    assert.ok(workers.every((w) => w >= 0 && w < 4));
  });
});

test('one OpenBLAS thread runs every task on the calling thread', () => {
  withThreads(1, () => {
    const { runs, workers } = probe(100);
    assert.ok(runs.every((r) => r === 1));
    assert.ok(workers.every((w) => w === 0));
  });
});

test('thousands of back-to-back jobs all complete', () => {
  withThreads(2, () => {
    for (let i = 0; i < 3000; i++) {
      const { runs } = probe(1 + (i % 5));
      assert.ok(runs.every((r) => r === 1), `job ${i}`);
    }
  });
});

test('a task that throws becomes a RangeError, skips nothing already started, and the pool keeps working', () => {
  withThreads(2, () => {
    for (const throwAt of [0, 1, 17, 999]) {
      const runs = new Int32Array(1000);
      const workers = new Int32Array(1000);
      assert.throws(() => addon.taskPoolProbe(runs, workers, throwAt, 0), (e: unknown) => e instanceof RangeError && /task \d+ failed on purpose/.test(e.message));
      assert.equal(runs[throwAt], 0, 'the failing task wrote nothing');
      assert.ok(runs.every((r) => r === 0 || r === 1), 'no task ran twice');
      assert.equal(blasThreads(), 2, 'OpenBLAS thread count restored after the exception');
      const after = probe(500);
      assert.ok(after.runs.every((r) => r === 1), 'the next job runs every task');
    }
  });
});

test('a parallel call from inside a task runs all its tasks serially', () => {
  withThreads(2, () => {
    const { runs } = probe(50, NO_THROW, 40);
    assert.ok(runs.every((r) => r === 41), `runs: ${[...runs.slice(0, 8)].join(',')}…`);
  });
});
