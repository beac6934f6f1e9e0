import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressBar } from './progress-bar.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

test('on a terminal the bar redraws one line in place and ends it on finish', () => {
  const { stream, writes } = fakeStream(true);
  const bar = new ProgressBar({ total: 4, stream, width: 8 });
  bar.update({ step: 1, loss: 2.5, tokensPerSecond: 999.6 });
  bar.update({ step: 4, loss: 0.125, tokensPerSecond: 1000 });
  bar.finish();
  assert.equal(writes.length, 3);
  assert.equal(writes[0], '\r\x1b[2K  ██░░░░░░ step 1/4  loss 2.500  1000 tok/s');
  assert.equal(writes[1], '\r\x1b[2K  ████████ step 4/4  loss 0.125  1000 tok/s');
  assert.equal(writes[2], '\n');
});

test('without a terminal it prints plain lines: the first step, every plainEvery steps and the last', () => {
  const { stream, writes } = fakeStream(false);
  const bar = new ProgressBar({ total: 7, stream, plainEvery: 3 });
  for (let step = 1; step <= 7; step++) bar.update({ step, loss: 1, tokensPerSecond: 10 });
  bar.finish();
  assert.deepEqual(writes.map((w) => w.match(/step (\d)/)?.[1]), ['1', '3', '6', '7']);
  assert.ok(writes.every((w) => w.endsWith('\n') && !w.includes('\r')));
});
