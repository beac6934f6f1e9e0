import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Progress, type ProgressStream } from './progress.js';

function fakeStream(isTTY: boolean): { stream: ProgressStream; writes: string[] } {
  const writes: string[] = [];
  return { stream: { isTTY, write: (s: string) => writes.push(s) }, writes };
}

function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('on a terminal one line is redrawn in place with bar, rate and time left, at most every redraw interval', () => {
  const { stream, writes } = fakeStream(true);
  const clock = fakeClock();
  const p = new Progress({ label: 'training', total: 4, stream, width: 8, clock: clock.now, redrawIntervalMs: 100 });
  clock.advance(1000);
  p.update(1, 'loss 2.5');
  clock.advance(50);
  p.update(2);
  assert.equal(writes.length, 1, 'redraws are throttled');
  clock.advance(950);
  p.update(2);
  p.finish();
  p.update(3);
  assert.deepEqual(writes, [
    '\r\x1b[2Ktraining ██░░░░░░  25% 1/4  1.0/s  3s left  loss 2.5',
    '\r\x1b[2Ktraining ████░░░░  50% 2/4  1.0/s  2s left',
    '\r\x1b[2Ktraining ████░░░░  50% 2/4  1.0/s  2s left',
    '\n',
  ]);
});

test('in a log it prints plain lines: the first update, then at most one per interval, and the end', () => {
  const { stream, writes } = fakeStream(false);
  const clock = fakeClock();
  const p = new Progress({ label: 'downloading', total: 4 * 1024 * 1024, unit: 'bytes', stream, clock: clock.now, plainIntervalMs: 6000 });
  for (let i = 1; i <= 4; i++) {
    clock.advance(4000);
    p.update(i * 1024 * 1024);
  }
  p.finish();
  assert.deepEqual(writes, [
    'downloading: 25% (1.0 MiB/4.0 MiB)  256.0 KiB/s  12s left\n',
    'downloading: 75% (3.0 MiB/4.0 MiB)  256.0 KiB/s  4s left\n',
    'downloading: 100% (4.0 MiB/4.0 MiB)  256.0 KiB/s  in 16s\n',
  ]);
  assert.ok(writes.every((w) => !w.includes('\r')));
});

test('without a total it counts and shows the elapsed time', () => {
  const { stream, writes } = fakeStream(false);
  const clock = fakeClock();
  const p = new Progress({ label: 'sampling', stream, clock: clock.now });
  clock.advance(2000);
  p.advance(10);
  p.finish('done');
  assert.deepEqual(writes, ['sampling  10  5.0/s  2s\n', 'sampling  10  5.0/s  2s  done\n']);
});
